// defines: BenchCtx, BenchBuffers, CollDesc (one small descriptor per primitive, as nccl-tests'
//          struct testColl), coll_descs, find_coll, bench_pattern
//
// The driver (comm_bench.cpp) owns options, the size sweep, timing and the table; a descriptor
// says only what is particular to one primitive: buffer counts, input data crafted so every rank
// can compute the exact result locally, the check, the busbw factor, and the call itself (through
// the Communicator, and as the raw MPI call for --baseline).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "dist/communicator.h"
#include "dist/mpi_communicator.h"

namespace autodist::dist {

struct BenchCtx {
  int rank = 0, n = 1;
  DType dtype = DType::F32;
  ReduceOp op = ReduceOp::Sum;
  int root = 0;
  int peer = 0;              // isend_irecv: rank ^ 1
  int next = 0, prev = 0;    // sendrecv: (rank + 1) mod n and (rank - 1) mod n
  Device device = Device::CPU;  // where the buffers the calls see live (init and check always see host memory)
};

// Which buffer layouts an op is timed with; each is a column group of the table.
enum Placement : unsigned { kOutOfPlace = 1, kInPlace = 2 };
const char* placement_name(Placement p);  // "out-of-place", "in-place"

// Buffers sized for the largest size of the sweep (host memory, or device memory run through host mirrors, see
// comm_bench.cpp); the counts are this size's. Out of place,
// send and recv are separate allocations; in place, CollDesc::place points one into the other.
struct BenchBuffers {
  void* send = nullptr;
  void* recv = nullptr;
  int64_t send_count = 0, recv_count = 0;
  int64_t param_count = 0;  // the count passed to the call (nccl-tests' "count" column)
};

struct CollDesc {
  const char* name;
  bool uses_redop, uses_root;
  bool pairwise;     // rank r works with r ^ 1: needs an even number of ranks
  bool root_result;  // the checked result lives on the root only (reduce, gather)
  bool no_data;      // barrier: one row, no size sweep
  unsigned placements;  // Placement bits: out-of-place, in-place or both (nccl-tests' two column groups)
  const char* busbw_note;  // the busbw factor, in words, for the table header
  // From `count` elements (size / dtype size) to the buffer counts, as nccl-tests'
  // getCollByteCount: per-rank blocks are count / n, so the size column is the larger buffer.
  void (*counts)(int64_t count, int n, BenchBuffers& b);
  double (*bus_factor)(int n);  // busbw = algbw x factor (nccl-tests doc/PERFORMANCE.md)
  // In place: aliases the buffers in the layout of communicator.h (nullptr: the op has one buffer).
  void (*place)(const BenchCtx& c, BenchBuffers& b);
  // Writes the poison into the outputs first, then the inputs, so aliased inputs survive.
  void (*init)(const BenchCtx& c, BenchBuffers& b);
  int64_t (*check)(const BenchCtx& c, const BenchBuffers& b);  // wrong elements on this rank
  void (*run)(Communicator& comm, const BenchCtx& c, BenchBuffers& b);
  void (*run_raw)(MpiCommunicator& comm, const BenchCtx& c, BenchBuffers& b);
  // Timed as a loop of back-to-back calls, no barrier between them (IMB's Sendrecv and Barrier); the others get an
  // untimed barrier before every call (IMB's collectives: c_info->sync).
  bool back_to_back = false;
};

// Every primitive, in the order `--op all` runs them.
const std::vector<CollDesc>& coll_descs();
const CollDesc* find_coll(const std::string& name);  // nullptr when unknown

// Element i of rank r's input: a small non-negative integer, (r + 3 i) mod m, where m keeps a sum
// over n ranks exact in the dtype (2^24 f32, 256 bf16, 2048 f16). Poison for untouched outputs: -1.
int bench_modulus(DType t, int n);
inline float bench_value(int rank, int64_t i, int m) { return float((rank + 3 * (i % m)) % m); }

}  // namespace autodist::dist
