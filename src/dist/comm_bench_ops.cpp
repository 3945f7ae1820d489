// One descriptor per primitive for comm-bench. Notation: n ranks, v(r, i) = bench_value(r, i, m),
// red_s = the reduce op over all ranks s, c = param count. Outputs start as -1 (never a valid value).
#include "dist/comm_bench_ops.h"

#include <algorithm>

namespace autodist::dist {

int bench_modulus(DType t, int n) {
  int64_t exact = t == DType::BF16 ? 256 : t == DType::F16 ? 2048 : (int64_t(1) << 24);
  return static_cast<int>(std::clamp<int64_t>(exact / std::max(n, 1) + 1, 1, 1021));
}

namespace {

constexpr float kPoison = -1.0f;

void put(void* p, DType t, int64_t i, float v) {
  switch (t) {
    case DType::F32: static_cast<float*>(p)[i] = v; return;
    case DType::BF16: static_cast<uint16_t*>(p)[i] = f32_to_bf16(v); return;
    case DType::F16: static_cast<uint16_t*>(p)[i] = f32_to_f16(v); return;
    case DType::I32: static_cast<int32_t*>(p)[i] = static_cast<int32_t>(v); return;
    case DType::I64: static_cast<int64_t*>(p)[i] = static_cast<int64_t>(v); return;
  }
}

float get(const void* p, DType t, int64_t i) {
  switch (t) {
    case DType::F32: return static_cast<const float*>(p)[i];
    case DType::BF16: return bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
    case DType::F16: return f16_to_f32(static_cast<const uint16_t*>(p)[i]);
    case DType::I32: return static_cast<float>(static_cast<const int32_t*>(p)[i]);
    case DType::I64: return static_cast<float>(static_cast<const int64_t*>(p)[i]);
  }
  return 0;
}

template <typename F>
void fill(void* p, DType t, int64_t n, F&& f) {
  for (int64_t i = 0; i < n; ++i) put(p, t, i, f(i));
}

template <typename F>
int64_t wrong(const void* p, DType t, int64_t n, F&& expect) {
  int64_t w = 0;
  for (int64_t i = 0; i < n; ++i) w += get(p, t, i) != expect(i);
  return w;
}

int modulus(const BenchCtx& c) { return bench_modulus(c.dtype, c.n); }

// red_s v(s, i): exact, since every partial sum is a small integer (see bench_modulus).
float reduced(const BenchCtx& c, int64_t i) {
  int m = modulus(c);
  float acc = bench_value(0, i, m);
  for (int s = 1; s < c.n; ++s) {
    float x = bench_value(s, i, m);
    acc = c.op == ReduceOp::Sum ? acc + x : c.op == ReduceOp::Max ? std::max(acc, x) : std::min(acc, x);
  }
  return acc;
}

Tensor view(void* p, const BenchCtx& c, int64_t count) { return Tensor(p, c.dtype, Shape{count}, c.device); }

// ---- byte counts (nccl-tests getCollByteCount) ----
void counts_same(int64_t count, int, BenchBuffers& b) { b.send_count = b.recv_count = b.param_count = count; }
void counts_gather(int64_t count, int n, BenchBuffers& b) {  // send c, recv n c
  b.param_count = b.send_count = count / n;
  b.recv_count = b.param_count * n;
}
void counts_scatter(int64_t count, int n, BenchBuffers& b) {  // send n c, recv c
  b.param_count = b.recv_count = count / n;
  b.send_count = b.param_count * n;
}
void counts_none(int64_t, int, BenchBuffers& b) { b.send_count = b.recv_count = b.param_count = 0; }

// ---- busbw factors: what each rank must move over its link, relative to algbw ----
double factor_one(int) { return 1.0; }                                      // broadcast, reduce, send/recv
double factor_allreduce(int n) { return 2.0 * (n - 1) / n; }               // reduce-scatter + all-gather
double factor_gather(int n) { return double(n - 1) / n; }                  // all_gather, reduce_scatter, gather, scatter
double factor_zero(int) { return 0.0; }                                    // barrier moves no data

// ---- sendrecv (ring, as nccl-tests and IMB Sendrecv): send to next, receive from prev; expect v(prev, i) ----
// ---- isend_irecv: rank r exchanges with r ^ 1; expect v(peer, i) ----
void init_pair(const BenchCtx& c, BenchBuffers& b) {
  int m = modulus(c);
  fill(b.recv, c.dtype, b.recv_count, [](int64_t) { return kPoison; });
  fill(b.send, c.dtype, b.send_count, [&](int64_t i) { return bench_value(c.rank, i, m); });
}
int64_t check_ring(const BenchCtx& c, const BenchBuffers& b) {
  int m = modulus(c);
  return wrong(b.recv, c.dtype, b.recv_count, [&](int64_t i) { return bench_value(c.prev, i, m); });
}
int64_t check_pair(const BenchCtx& c, const BenchBuffers& b) {
  int m = modulus(c);
  return wrong(b.recv, c.dtype, b.recv_count, [&](int64_t i) { return bench_value(c.peer, i, m); });
}
void run_sendrecv(Communicator& comm, const BenchCtx& c, BenchBuffers& b) {
  comm.sendrecv(view(b.send, c, b.param_count), c.next, view(b.recv, c, b.param_count), c.prev);
}
void raw_sendrecv(MpiCommunicator& comm, const BenchCtx& c, BenchBuffers& b) {
  comm.raw_sendrecv(b.send, c.next, b.recv, c.prev, b.param_count, c.dtype);
}
void run_isend_irecv(Communicator& comm, const BenchCtx& c, BenchBuffers& b) {
  auto rr = comm.irecv(view(b.recv, c, b.param_count), c.peer);
  auto sr = comm.isend(view(b.send, c, b.param_count), c.peer);
  rr->wait();
  sr->wait();
}
void raw_isend_irecv(MpiCommunicator& comm, const BenchCtx& c, BenchBuffers& b) {
  comm.raw_isend_irecv(b.send, b.recv, b.param_count, c.dtype, c.peer);
}

// ---- in-place layouts (communicator.h): one buffer holds the input and the result ----
char* block(void* p, const BenchCtx& c, int64_t blocks, int64_t k) {
  return static_cast<char*>(p) + blocks * k * int64_t(dtype_size(c.dtype));
}
void place_same(const BenchCtx&, BenchBuffers& b) { b.send = b.recv; }                       // all_reduce, reduce
void place_in_recv(const BenchCtx& c, BenchBuffers& b) { b.send = block(b.recv, c, c.rank, b.param_count); }
void place_in_send(const BenchCtx& c, BenchBuffers& b) { b.recv = block(b.send, c, c.rank, b.param_count); }

// ---- broadcast (in place in recv): the root holds v(root, i), the others -1; expect v(root, i) ----
void init_broadcast(const BenchCtx& c, BenchBuffers& b) {
  int m = modulus(c);
  fill(b.recv, c.dtype, b.recv_count, [&](int64_t i) { return c.rank == c.root ? bench_value(c.root, i, m) : kPoison; });
}
int64_t check_broadcast(const BenchCtx& c, const BenchBuffers& b) {
  int m = modulus(c);
  return wrong(b.recv, c.dtype, b.recv_count, [&](int64_t i) { return bench_value(c.root, i, m); });
}
void run_broadcast(Communicator& comm, const BenchCtx& c, BenchBuffers& b) {
  comm.broadcast(view(b.recv, c, b.param_count), c.root);
}
void raw_broadcast(MpiCommunicator& comm, const BenchCtx& c, BenchBuffers& b) {
  comm.raw_broadcast(b.recv, b.param_count, c.dtype, c.root);
}

// ---- scatter: the root's block s is v(s, i); expect v(rank, i) ----
void init_scatter(const BenchCtx& c, BenchBuffers& b) {
  int m = modulus(c);
  int64_t k = b.param_count;
  fill(b.recv, c.dtype, b.recv_count, [](int64_t) { return kPoison; });
  fill(b.send, c.dtype, b.send_count, [&](int64_t i) { return c.rank == c.root ? bench_value(int(i / k), i % k, m) : kPoison; });
}
int64_t check_scatter(const BenchCtx& c, const BenchBuffers& b) {
  int m = modulus(c);
  return wrong(b.recv, c.dtype, b.recv_count, [&](int64_t i) { return bench_value(c.rank, i, m); });
}
void run_scatter(Communicator& comm, const BenchCtx& c, BenchBuffers& b) {
  comm.scatter(view(b.send, c, b.send_count), view(b.recv, c, b.recv_count), c.root);
}
void raw_scatter(MpiCommunicator& comm, const BenchCtx& c, BenchBuffers& b) {
  comm.raw_scatter(b.send, b.recv, b.param_count, c.dtype, c.root);
}

// ---- send v(rank, i): gather and all_gather expect block s = v(s, i) ----
void init_own(const BenchCtx& c, BenchBuffers& b) {
  int m = modulus(c);
  fill(b.recv, c.dtype, b.recv_count, [](int64_t) { return kPoison; });
  fill(b.send, c.dtype, b.send_count, [&](int64_t i) { return bench_value(c.rank, i, m); });
}
int64_t check_blocks(const BenchCtx& c, const BenchBuffers& b) {
  int m = modulus(c);
  int64_t k = b.param_count;
  return wrong(b.recv, c.dtype, b.recv_count, [&](int64_t i) { return bench_value(int(i / k), i % k, m); });
}
int64_t check_gather(const BenchCtx& c, const BenchBuffers& b) { return c.rank == c.root ? check_blocks(c, b) : 0; }
void run_gather(Communicator& comm, const BenchCtx& c, BenchBuffers& b) {
  comm.gather(view(b.send, c, b.send_count), view(b.recv, c, b.recv_count), c.root);
}
void raw_gather(MpiCommunicator& comm, const BenchCtx& c, BenchBuffers& b) {
  comm.raw_gather(b.send, b.recv, b.param_count, c.dtype, c.root);
}
void run_all_gather(Communicator& comm, const BenchCtx& c, BenchBuffers& b) {
  comm.all_gather(view(b.send, c, b.send_count), view(b.recv, c, b.recv_count));
}
void raw_all_gather(MpiCommunicator& comm, const BenchCtx& c, BenchBuffers& b) {
  comm.raw_all_gather(b.send, b.recv, b.param_count, c.dtype);
}

// ---- reduce: expect red_s v(s, i) on the root ----
int64_t check_reduce(const BenchCtx& c, const BenchBuffers& b) {
  if (c.rank != c.root) return 0;
  return wrong(b.recv, c.dtype, b.recv_count, [&](int64_t i) { return reduced(c, i); });
}
void run_reduce(Communicator& comm, const BenchCtx& c, BenchBuffers& b) {
  comm.reduce(view(b.send, c, b.send_count), view(b.recv, c, b.recv_count), c.op, c.root);
}
void raw_reduce(MpiCommunicator& comm, const BenchCtx& c, BenchBuffers& b) {
  comm.raw_reduce(b.send, b.recv, b.param_count, c.dtype, c.op, c.root);
}

// ---- all_reduce: expect red_s v(s, i) everywhere ----
int64_t check_all_reduce(const BenchCtx& c, const BenchBuffers& b) {
  return wrong(b.recv, c.dtype, b.recv_count, [&](int64_t i) { return reduced(c, i); });
}
void run_all_reduce(Communicator& comm, const BenchCtx& c, BenchBuffers& b) {
  comm.all_reduce(view(b.send, c, b.param_count), view(b.recv, c, b.param_count), c.op);
}
void raw_all_reduce(MpiCommunicator& comm, const BenchCtx& c, BenchBuffers& b) {
  comm.raw_all_reduce(b.send, b.recv, b.param_count, c.dtype, c.op);
}

// ---- reduce_scatter: send = v(rank, j) over all n c elements; expect red_s v(s, rank c + i) ----
int64_t check_reduce_scatter(const BenchCtx& c, const BenchBuffers& b) {
  int64_t base = c.rank * b.param_count;
  return wrong(b.recv, c.dtype, b.recv_count, [&](int64_t i) { return reduced(c, base + i); });
}
void run_reduce_scatter(Communicator& comm, const BenchCtx& c, BenchBuffers& b) {
  comm.reduce_scatter(view(b.send, c, b.send_count), view(b.recv, c, b.recv_count), c.op);
}
void raw_reduce_scatter(MpiCommunicator& comm, const BenchCtx& c, BenchBuffers& b) {
  comm.raw_reduce_scatter(b.send, b.recv, b.param_count, c.dtype, c.op);
}

// ---- barrier: no data ----
void init_none(const BenchCtx&, BenchBuffers&) {}
int64_t check_none(const BenchCtx&, const BenchBuffers&) { return 0; }
void run_barrier(Communicator& comm, const BenchCtx&, BenchBuffers&) { comm.barrier(); }
void raw_barrier(MpiCommunicator& comm, const BenchCtx&, BenchBuffers&) { comm.raw_barrier(); }

}  // namespace

const char* placement_name(Placement p) { return p == kInPlace ? "in-place" : "out-of-place"; }

const std::vector<CollDesc>& coll_descs() {
  constexpr unsigned kOut = kOutOfPlace, kIn = kInPlace, kBoth = kOutOfPlace | kInPlace;
  // name, redop, root, pairwise, root_result, no_data, placements, busbw note, counts, factor, place, init, check,
  // run, raw, back_to_back
  static const std::vector<CollDesc> descs = {
      {"sendrecv", false, false, false, false, false, kOut,
       "busbw = algbw (factor 1); rank r sends to r+1 and receives from r-1 at once (a ring)", counts_same,
       factor_one, nullptr, init_pair, check_ring, run_sendrecv, raw_sendrecv, true},
      {"isend_irecv", false, false, true, false, false, kOut, "busbw = algbw (factor 1); rank r exchanges with r^1",
       counts_same, factor_one, nullptr, init_pair, check_pair, run_isend_irecv, raw_isend_irecv, true},
      {"broadcast", false, true, false, false, false, kIn, "busbw = algbw (factor 1); one buffer (MPI_Bcast)",
       counts_same, factor_one, nullptr, init_broadcast, check_broadcast, run_broadcast, raw_broadcast},
      {"scatter", false, true, false, false, false, kBoth, "busbw = algbw x (n-1)/n", counts_scatter, factor_gather,
       place_in_send, init_scatter, check_scatter, run_scatter, raw_scatter},
      {"gather", false, true, false, true, false, kBoth, "busbw = algbw x (n-1)/n", counts_gather, factor_gather,
       place_in_recv, init_own, check_gather, run_gather, raw_gather},
      {"reduce", true, true, false, true, false, kBoth, "busbw = algbw (factor 1)", counts_same, factor_one,
       place_same, init_own, check_reduce, run_reduce, raw_reduce},
      {"all_reduce", true, false, false, false, false, kBoth, "busbw = algbw x 2(n-1)/n", counts_same,
       factor_allreduce, place_same, init_own, check_all_reduce, run_all_reduce, raw_all_reduce},
      {"all_gather", false, false, false, false, false, kBoth, "busbw = algbw x (n-1)/n", counts_gather,
       factor_gather, place_in_recv, init_own, check_blocks, run_all_gather, raw_all_gather},
      {"reduce_scatter", true, false, false, false, false, kBoth, "busbw = algbw x (n-1)/n", counts_scatter,
       factor_gather, place_in_send, init_own, check_reduce_scatter, run_reduce_scatter, raw_reduce_scatter},
      {"barrier", false, false, false, false, true, kOut, "no data: time only", counts_none, factor_zero, nullptr,
       init_none, check_none, run_barrier, raw_barrier, true},
  };
  return descs;
}

const CollDesc* find_coll(const std::string& name) {
  for (const auto& d : coll_descs())
    if (name == d.name) return &d;
  return nullptr;
}

}  // namespace autodist::dist
