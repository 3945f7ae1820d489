// defines: BenchOptions, BenchRow, OpReport, BenchCallbacks, parse_size, resolve_bench_options,
//          describe_ranks, run_comm_bench (the nccl-tests style driver behind `autodist comm-bench`)
//
// The driver sweeps sizes min, min*f, ... <= max for every op and every buffer placement the op
// has (out of place, in place), checks one run per size against values each rank computes locally
// (--check), and hands back rows as data; printing is the caller's (cli/cmd_comm_bench.cpp).
// Iterations: `warmup` untimed then `iters` timed ones; when not given, both come from a time
// budget per size (warm up in rounds of 1, 2, 4, ... until budget/10 has passed, then as many
// iterations as fit the budget, 5 to 1000), as IMB scales its repetitions with the message size.
// Timing (IMB's statistic): a barrier (untimed) starts each iteration; each rank times the call
// with a steady clock; a rank's time is its mean over the iterations; `time` is the max over ranks
// (IMB t_max), `avg` the mean over ranks (t_avg), `min` the min (t_min). With --baseline the raw
// MPI call runs in the same loop, alternating which goes first, so wrapper and raw see the same
// conditions; the ratio is the median of the per-iteration ratios of the slowest rank's times
// (past 4096 iterations, of groups of consecutive ones: the stored times do not grow with --iters),
// which a noisy machine disturbs far less than a ratio of means.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "dist/communicator.h"

namespace autodist {
class Backend;
}

namespace autodist::dist {

struct BenchOptions {
  std::vector<std::string> ops;  // resolved op names, in run order
  int64_t min_bytes = 8, max_bytes = int64_t(64) << 20;
  int64_t step_factor = 2;
  int iters = 0;    // timed iterations per size; 0: from the time budget
  int warmup = -1;  // untimed iterations per size; -1: from the time budget
  double budget_ms = 100;  // time per size and placement when iters or warmup are automatic
  bool check = false;
  bool baseline = false;  // also time the raw MPI call (mpi backend only)
  DType dtype = DType::F32;
  ReduceOp redop = ReduceOp::Sum;
  int root = 0;
  bool inject_error = false;  // test hook: corrupt one result element so --check must fail
};

// One column group of a row: the op timed with one buffer placement.
struct BenchTimes {
  unsigned placement = 1;  // Placement (comm_bench_ops.h): 1 out-of-place, 2 in-place
  int iters = 0, warmup = 0;  // as run (chosen from the budget unless given)
  double time_us = 0;      // per-rank mean over iterations, max over ranks (IMB t_max)
  double avg_us = 0;       // ... mean over ranks (IMB t_avg)
  double min_us = 0;       // ... min over ranks (IMB t_min)
  double algbw = 0, busbw = 0;  // from time_us; GB/s = 1e9 bytes/s
  int64_t wrong = -1;           // summed over ranks; -1 when not checked
  double raw_time_us = 0, raw_avg_us = 0;  // --baseline: the raw MPI call, same statistics
  double ratio = 0;  // --baseline: median over iterations of wrapper/raw, each pair back to back
};

struct BenchRow {
  std::string op;
  int64_t bytes = 0;  // the larger of the send and receive buffers (nccl-tests' size column)
  int64_t count = 0;  // elements passed to the call (per rank for the gather/scatter family)
  DType dtype = DType::F32;
  std::string redop;  // "none" when the op does not reduce
  int root = -1;      // -1 when the op has no root
  std::vector<BenchTimes> times;  // one per placement the op has, out-of-place first
};

struct OpReport {
  std::string op;
  std::string busbw_note;  // the op's busbw factor in words
  std::vector<BenchRow> rows;
  std::vector<unsigned> placements;  // the column groups of every row, in order
  bool no_data = false;              // barrier: one row of time only
  int64_t wrong = 0;  // over all rows (0 when not checked)
  double avg_busbw = 0;  // over rows and placements, as nccl-tests
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

// The timed iterations --iters auto runs: as many as fit budget_ms at the warm-up's time per iteration (the slowest
// rank's), at least 5 and at most 1000 (IMB's cap); 1000 when the estimate is 0.
int auto_iteration_count(int64_t per_iter_ns, double budget_ms);

// Runs the benchmark; collective over comm. --baseline needs comm to be the mpi communicator.
// With `device`, the calls get buffers from device->alloc (Tensor::device its device()): their inputs are written
// and their results checked on host mirrors copied to and from the device, and every timed sample ends when the
// device's work has (device->synchronize(), as nccl-tests' cudaStreamSynchronize), for stream-ordered
// communicators. Without it, page-aligned host buffers (the mpi communicator).
std::vector<OpReport> run_comm_bench(Communicator& comm, const BenchOptions& o, const BenchCallbacks& cb,
                                     Backend* device = nullptr);

}  // namespace autodist::dist
