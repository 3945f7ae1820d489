// defines: BenchOptions, BenchRow, OpReport, BenchCallbacks, parse_size, resolve_bench_options,
//          describe_ranks, run_comm_bench (the nccl-tests style driver behind `autodist comm-bench`)
//
// The driver sweeps sizes min, min*f, ... <= max for every op, checks one run per size against
// values each rank computes locally (--check), times `iters` iterations after `warmup`, and hands
// back rows as data; printing is the caller's (cli/cmd_comm_bench.cpp), through the callbacks.
// Timing: a barrier (untimed) starts each iteration; each rank times the call with a steady clock;
// the iteration's time is the max over ranks (the slowest rank), and the row reports the mean
// over iterations. With --baseline the raw MPI call runs in the same loop, alternating which goes
// first, so wrapper and raw see the same conditions; the ratio is the median of the per-iteration
// ratios, which a noisy machine disturbs far less than a ratio of means.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "dist/communicator.h"

namespace autodist::dist {

struct BenchOptions {
  std::vector<std::string> ops;  // resolved op names, in run order
  int64_t min_bytes = 8, max_bytes = int64_t(64) << 20;
  int64_t step_factor = 2;
  int iters = 20, warmup = 5;
  bool check = false;
  bool baseline = false;  // also time the raw MPI call (mpi backend only)
  DType dtype = DType::F32;
  ReduceOp redop = ReduceOp::Sum;
  int root = 0;
  bool inject_error = false;  // test hook: corrupt one result element so --check must fail
};

struct BenchRow {
  std::string op;
  int64_t bytes = 0;  // the larger of the send and receive buffers (nccl-tests' size column)
  int64_t count = 0;  // elements passed to the call (per rank for the gather/scatter family)
  DType dtype = DType::F32;
  std::string redop;  // "none" when the op does not reduce
  int root = -1;      // -1 when the op has no root
  double time_us = 0, algbw = 0, busbw = 0;  // GB/s = 1e9 bytes/s
  int64_t wrong = -1;                         // summed over ranks; -1 when not checked
  double raw_time_us = 0;                     // --baseline: raw MPI time (mean, like time_us)
  double ratio = 0;  // --baseline: median over iterations of wrapper/raw, each pair back to back
};

struct OpReport {
  std::string op;
  std::string busbw_note;  // the op's busbw factor in words
  std::vector<BenchRow> rows;
  int64_t wrong = 0;  // over all rows (0 when not checked)
  double avg_busbw = 0;
};

struct BenchCallbacks {
  std::function<void(const OpReport&)> begin_op;  // op and note set, no rows yet
  std::function<void(const BenchRow&)> row;
  std::function<void(const OpReport&)> end_op;
};

// Bytes with an optional K, M or G suffix (powers of 1024, as nccl-tests): "8", "64K", "1M", "2G".
int64_t parse_size(const std::string& s, const char* flag);

// Expands `op_list` ("all" or NAME[,NAME]) into o.ops and checks every option against the world
// size. Throws Error on bad input. Every rank sees the same options and runs this before any
// communication, so all ranks fail the same way and nobody hangs. Returns notes for the log (ops
// that `all` skips on an odd number of ranks).
std::vector<std::string> resolve_bench_options(BenchOptions& o, const std::string& op_list, int world);

// "Rank  0 Pid  1234 on host" per rank, gathered to rank 0 (empty elsewhere). Collective.
std::vector<std::string> describe_ranks(Communicator& comm);

// Runs the benchmark; collective over comm. --baseline needs comm to be the mpi communicator.
std::vector<OpReport> run_comm_bench(Communicator& comm, const BenchOptions& o, const BenchCallbacks& cb);

}  // namespace autodist::dist
