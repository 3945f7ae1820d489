#include "dist/comm_bench.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "backend/backend.h"
#include "core/clock.h"
#include "core/error.h"
#include "dist/comm_bench_ops.h"
#include "dist/mpi_communicator.h"
#include "dist/mpi_env.h"

namespace autodist::dist {

int64_t parse_size(const std::string& s, const char* flag) {
  size_t pos = 0;
  int64_t v = -1;
  try {
    v = std::stoll(s, &pos);
  } catch (const std::exception&) {
    pos = 0;
  }
  std::string suf = s.substr(pos);
  int64_t mul = suf.empty() ? 1
                : suf == "K" || suf == "k" ? int64_t(1) << 10
                : suf == "M" || suf == "m" ? int64_t(1) << 20
                : suf == "G" || suf == "g" ? int64_t(1) << 30
                                           : 0;
  AD_CHECK(pos > 0 && v >= 0 && mul > 0 && v <= (int64_t(1) << 50) / mul,
           "{} '{}': expected a byte count with an optional K, M or G suffix (e.g. 8, 64K, 64M)", flag, s);
  return v * mul;
}

std::vector<std::string> resolve_bench_options(BenchOptions& o, const std::string& op_list, int world) {
  std::vector<std::string> notes;
  std::string names;
  for (const auto& d : coll_descs()) names += std::string(names.empty() ? "" : ", ") + d.name;
  o.ops.clear();
  bool all = op_list == "all";
  if (all) {
    for (const auto& d : coll_descs()) o.ops.push_back(d.name);
  } else {
    size_t start = 0;
    while (start <= op_list.size()) {
      size_t end = op_list.find(',', start);
      if (end == std::string::npos) end = op_list.size();
      std::string name = op_list.substr(start, end - start);
      AD_CHECK(find_coll(name), "unknown op '{}' in --op (expected {} or all)", name, names);
      if (std::find(o.ops.begin(), o.ops.end(), name) == o.ops.end()) o.ops.push_back(name);
      start = end + 1;
    }
  }
  AD_CHECK(o.min_bytes >= 1, "-b {}: the smallest size must be at least 1 byte", o.min_bytes);
  AD_CHECK(o.min_bytes <= o.max_bytes, "size range reversed: -b {} is larger than -e {} (bytes); the sweep goes "
           "from -b up to -e", o.min_bytes, o.max_bytes);
  AD_CHECK(o.step_factor > 1, "-f {}: the step factor must be an integer > 1 (sizes b, b*f, b*f^2, ... up to e)",
           o.step_factor);
  AD_CHECK(o.iters >= 0, "--iters {}: need at least one timed iteration (or auto)", o.iters);
  AD_CHECK(o.warmup >= -1, "--warmup {}: must be >= 0 (or auto)", o.warmup);
  AD_CHECK(o.budget_ms > 0 && o.budget_ms <= 3.6e6, "--time-budget {}: expected milliseconds in (0, 3600000]",
           o.budget_ms);
  AD_CHECK(o.dtype == DType::F32 || o.dtype == DType::BF16 || o.dtype == DType::F16,
           "--dtype {}: comm-bench supports f32, bf16 and f16", dtype_name(o.dtype));
  AD_CHECK(o.max_bytes / int64_t(dtype_size(o.dtype)) <= INT_MAX,
           "-e {}: more than INT_MAX elements of {} in one call; use at most {} bytes", o.max_bytes,
           dtype_name(o.dtype), int64_t(INT_MAX) * int64_t(dtype_size(o.dtype)));
  AD_CHECK(o.root >= 0 && o.root < world, "--root {} is outside [0, {}): this run has {} ranks", o.root, world,
           world);
  if (world % 2 != 0) {
    std::vector<std::string> kept, skipped;
    for (const auto& name : o.ops) (find_coll(name)->pairwise ? skipped : kept).push_back(name);
    if (!skipped.empty()) {
      std::string list;
      for (const auto& s : skipped) list += (list.empty() ? "" : " and ") + s;
      std::string why = fmt::format("{} {} rank r with rank r^1 and {} an even number of ranks; this run has {}", list,
                                    skipped.size() > 1 ? "pair" : "pairs", skipped.size() > 1 ? "need" : "needs",
                                    world);
      AD_CHECK(all, "{} (run with an even -np, or leave it out of --op)", why);
      notes.push_back("skipped " + why);
      o.ops = kept;
    }
  }
  return notes;
}

std::vector<std::string> describe_ranks(Communicator& comm) {
  constexpr int kLine = 128;  // bytes per rank, moved as i32 words
  char line[kLine] = {0};
  std::string host = MpiEnv::initialized() ? MpiEnv::init().hostname() : "?";
  std::snprintf(line, kLine, "Rank %2d Pid %6d on %s", comm.rank(), int(getpid()), host.c_str());
  std::vector<char> all(size_t(kLine) * comm.size());
  comm.gather(Tensor(line, DType::I32, Shape{kLine / 4}), Tensor(all.data(), DType::I32, Shape{int64_t(all.size() / 4)}),
              0);
  std::vector<std::string> out;
  if (comm.rank() == 0)
    for (int r = 0; r < comm.size(); ++r) out.emplace_back(all.data() + size_t(r) * kLine, strnlen(all.data() + size_t(r) * kLine, kLine - 1));
  return out;
}

namespace {

// Overwrites the first result element on one rank that holds a checked result.
void inject_error(const CollDesc& d, const BenchCtx& c, BenchBuffers& b) {
  int target = d.root_result ? c.root : c.n - 1;
  if (c.rank != target || b.recv_count == 0) return;
  float bad = -3.0f;
  if (c.dtype == DType::F32) std::memcpy(b.recv, &bad, 4);
  else convert_from_f32(&bad, c.dtype, b.recv, 1);
}

// Median over samples of wrapper / raw, each pair timed back to back: a noisy (shared,
// oversubscribed) machine moves both sides of a pair together, and the median drops the outliers
// that dominate a ratio of means.
double median_ratio(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  std::vector<double> r;
  for (size_t i = 0; i < a.size(); ++i)
    if (b[i] > 0) r.push_back(double(a[i]) / double(b[i]));
  if (r.empty()) return 0;
  std::nth_element(r.begin(), r.begin() + r.size() / 2, r.end());
  double hi = r[r.size() / 2];
  if (r.size() % 2) return hi;
  return (hi + *std::max_element(r.begin(), r.begin() + r.size() / 2)) / 2;
}

// Page-aligned host memory, as cudaMalloc and MPI_Alloc_mem give: a buffer at whatever offset
// malloc leaves made Open MPI's shared-memory copies of 64 KiB blocks 4x slower in some runs
// (measured on the 2-core VM: gather 48 us instead of 12), which a benchmark must not inherit.
class PageBuffer {
 public:
  explicit PageBuffer(size_t bytes) {
    const size_t n = (std::max<size_t>(bytes, 1) + 4095) / 4096 * 4096;
    p_ = std::aligned_alloc(4096, n);
    AD_CHECK(p_, "comm-bench: cannot allocate {} bytes for a buffer", n);
    std::memset(p_, 0, n);  // touch every page before timing
  }
  ~PageBuffer() { std::free(p_); }
  PageBuffer(const PageBuffer&) = delete;
  PageBuffer& operator=(const PageBuffer&) = delete;
  void* data() { return p_; }

 private:
  void* p_ = nullptr;
};

// The buffers of one op: page-aligned host memory the calls use directly, or device memory (device->alloc) with
// host mirrors of the same layout that init and check use, copied over before and after the checked call.
class BenchMem {
 public:
  BenchMem(Backend* dev, size_t send_bytes, size_t recv_bytes)
      : dev_(dev), sb_(std::max<size_t>(send_bytes, 1)), rb_(std::max<size_t>(recv_bytes, 1)), hs_(sb_), hr_(rb_) {
    if (!dev_) return;
    ds_ = dev_->alloc(sb_);
    dr_ = dev_->alloc(rb_);
  }
  ~BenchMem() {
    if (!dev_) return;
    dev_->free(ds_);
    dev_->free(dr_);
  }
  BenchMem(const BenchMem&) = delete;
  BenchMem& operator=(const BenchMem&) = delete;
  void* send() { return dev_ ? ds_ : hs_.data(); }  // what the calls see
  void* recv() { return dev_ ? dr_ : hr_.data(); }
  // b (pointers into send() and recv()) as the host mirrors' pointers.
  BenchBuffers host(const BenchBuffers& b) {
    BenchBuffers h = b;
    h.send = mirror(b.send);
    h.recv = mirror(b.recv);
    return h;
  }
  // The host mirrors of b's buffers to the device, and back (after the device's work is done).
  void upload(const BenchBuffers& b, DType t) {
    if (!dev_) return;
    if (b.send_count) dev_->to_device(Tensor(b.send, t, {b.send_count}, dev_->device()), mirror(b.send));
    if (b.recv_count) dev_->to_device(Tensor(b.recv, t, {b.recv_count}, dev_->device()), mirror(b.recv));
  }
  void download(const BenchBuffers& b, DType t) {
    if (!dev_) return;
    dev_->synchronize();
    if (b.send_count) dev_->to_host(mirror(b.send), Tensor(b.send, t, {b.send_count}, dev_->device()));
    if (b.recv_count) dev_->to_host(mirror(b.recv), Tensor(b.recv, t, {b.recv_count}, dev_->device()));
  }
  // Waits for the device's work (a stream-ordered call returns before it is done).
  void sync() {
    if (dev_) dev_->synchronize();
  }

 private:
  void* mirror(void* p) {
    if (!dev_ || !p) return p;
    auto* c = static_cast<char*>(p);
    auto* s = static_cast<char*>(ds_);
    auto* r = static_cast<char*>(dr_);
    if (c >= s && c < s + sb_) return static_cast<char*>(hs_.data()) + (c - s);
    AD_CHECK(c >= r && c < r + rb_, "comm-bench: a buffer outside the op's device memory");
    return static_cast<char*>(hr_.data()) + (c - r);
  }
  Backend* dev_;
  size_t sb_, rb_;
  PageBuffer hs_, hr_;
  void* ds_ = nullptr;
  void* dr_ = nullptr;
};

constexpr int kMinIters = 5, kMaxIters = 1000;  // automatic iteration counts (IMB: at most 1000)
constexpr int kBlocks = 8;                       // timed samples of a back-to-back op
constexpr int kSlots = 4096;                     // most stored sample times (--baseline's paired median)

int64_t over_ranks(Communicator& comm, int64_t v, ReduceOp op) {
  comm.all_reduce(Tensor(&v, DType::I64, Shape{1}), op);
  return v;
}

// IMB's statistic over ranks of each rank's mean time per iteration: {max, mean, min} in us.
std::array<double, 3> rank_stats(Communicator& comm, const std::vector<int64_t>& t, int iters) {
  int64_t sum = 0;
  for (int64_t v : t) sum += v;
  const double per_us = 1e-3 / double(iters);
  return {double(over_ranks(comm, sum, ReduceOp::Max)) * per_us,
          double(over_ranks(comm, sum, ReduceOp::Sum)) * per_us / comm.size(),
          double(over_ranks(comm, sum, ReduceOp::Min)) * per_us};
}

// Times one placement of one size: the checked run, the warm-up, the timed loop.
BenchTimes measure(Communicator& comm, MpiCommunicator* raw, const CollDesc& d, const BenchOptions& o,
                   const BenchCtx& ctx, BenchBuffers& b, BenchMem& mem, unsigned placement) {
  BenchTimes r;
  r.placement = placement;
  // One checked run (it also warms the path up), then the raw call checked the same way.
  BenchBuffers hb = mem.host(b);
  d.init(ctx, hb);
  mem.upload(b, ctx.dtype);
  d.run(comm, ctx, b);
  if (o.check) {
    mem.download(b, ctx.dtype);
    if (o.inject_error) inject_error(d, ctx, hb);
    int64_t w = d.check(ctx, hb);
    if (raw) {
      d.init(ctx, b);
      d.run_raw(*raw, ctx, b);
      w += d.check(ctx, b);
    }
    r.wrong = over_ranks(comm, w, ReduceOp::Sum);
  }
  // k untimed loop iterations (barrier, call, and the raw call with --baseline); this rank's wall time.
  auto loop = [&](int k) {
    int64_t t0 = now_ns();
    for (int i = 0; i < k; ++i) {
      comm.barrier();
      d.run(comm, ctx, b);
      if (raw) {
        comm.barrier();
        d.run_raw(*raw, ctx, b);
      }
    }
    mem.sync();
    return now_ns() - t0;
  };
  // Warm-up; when the iteration count is automatic it also estimates the time of one iteration
  // (the slowest rank's, so every rank picks the same count).
  const int64_t budget_ns = int64_t(o.budget_ms * 1e6);
  int64_t per_iter_ns = 0;
  if (o.warmup >= 0) {
    r.warmup = o.warmup;
    int64_t t = loop(o.warmup);
    if (o.iters <= 0) per_iter_ns = o.warmup > 0 ? over_ranks(comm, t, ReduceOp::Max) / o.warmup
                                         : over_ranks(comm, loop(1), ReduceOp::Max);
  } else {
    int64_t spent = 0;
    for (int k = 1;; k *= 2) {
      int64_t t = over_ranks(comm, loop(k), ReduceOp::Max);
      spent += t;
      r.warmup += k;
      per_iter_ns = t / k;
      if (spent >= budget_ns / 10 || r.warmup >= kMaxIters) break;
    }
  }
  r.iters = o.iters > 0 ? o.iters : auto_iteration_count(per_iter_ns, o.budget_ms);

  // Timed samples: one call each after an untimed barrier, or for back-to-back ops (sendrecv, barrier) blocks of
  // calls with a barrier before each block only, as IMB times them; at most kBlocks blocks, so a block of many
  // small calls amortises the barrier's exit skew. With --baseline the raw call gets the same samples, in
  // alternating order.
  // The samples' times are summed into at most kSlots slots (consecutive samples share one), so the memory does
  // not grow with --iters (1e8 iterations once meant an 800 MB vector zeroed before the first call).
  const int samples = d.back_to_back ? std::min(r.iters, kBlocks) : r.iters;
  const int slots = std::min(samples, kSlots);
  std::vector<int64_t> t(static_cast<size_t>(slots)), traw(raw ? static_cast<size_t>(slots) : 0);
  for (int s = 0; s < samples; ++s) {
    const auto slot = static_cast<size_t>(int64_t(s) * slots / samples);
    const int calls = r.iters / samples + (s < r.iters % samples ? 1 : 0);
    auto sample = [&](bool use_raw) {
      comm.barrier();
      int64_t t0 = now_ns();
      for (int c = 0; c < calls; ++c) use_raw ? d.run_raw(*raw, ctx, b) : d.run(comm, ctx, b);
      mem.sync();
      return now_ns() - t0;
    };
    bool raw_first = raw && (s & 1);  // alternate, so neither side always runs second
    if (raw_first) traw[slot] += sample(true);
    t[slot] += sample(false);
    if (raw && !raw_first) traw[slot] += sample(true);
  }
  auto st = rank_stats(comm, t, r.iters);
  r.time_us = st[0], r.avg_us = st[1], r.min_us = st[2];
  if (raw) {
    auto sr = rank_stats(comm, traw, r.iters);
    r.raw_time_us = sr[0], r.raw_avg_us = sr[1];
    // The paired ratio compares the slowest rank of each sample on both sides.
    comm.all_reduce(Tensor(t.data(), DType::I64, Shape{slots}), ReduceOp::Max);
    comm.all_reduce(Tensor(traw.data(), DType::I64, Shape{slots}), ReduceOp::Max);
    r.ratio = median_ratio(t, traw);
  }
  return r;
}

OpReport run_op(Communicator& comm, MpiCommunicator* raw, const CollDesc& d, const BenchOptions& o,
                const BenchCallbacks& cb, Backend* device) {
  const int n = comm.size(), me = comm.rank();
  const BenchCtx ctx{me, n, o.dtype, o.redop, o.root, me ^ 1, (me + 1) % n, (me + n - 1) % n,
                     device ? device->device() : Device::CPU};
  const int64_t es = int64_t(dtype_size(o.dtype));

  std::vector<int64_t> sizes;
  if (d.no_data) {
    sizes.push_back(0);  // barrier: one row
  } else {
    for (int64_t s = o.min_bytes;; s *= o.step_factor) {
      sizes.push_back(s);
      if (s > o.max_bytes / o.step_factor) break;
    }
  }
  // Buffers for the largest size (counts grow with size).
  BenchBuffers cap;
  d.counts(sizes.back() / es, n, cap);
  BenchMem mem(device, size_t(cap.send_count * es), size_t(cap.recv_count * es));

  OpReport rep;
  rep.op = d.name;
  rep.busbw_note = d.busbw_note;
  rep.no_data = d.no_data;
  for (unsigned p : {kOutOfPlace, kInPlace})
    if (d.placements & p) rep.placements.push_back(p);
  if (cb.begin_op) cb.begin_op(rep);
  double bw = 0;
  int nbw = 0;
  for (int64_t size : sizes) {
    BenchRow row;
    row.op = d.name;
    row.dtype = o.dtype;
    row.redop = d.uses_redop ? reduce_op_name(o.redop) : "none";
    row.root = d.uses_root ? o.root : -1;
    for (unsigned p : rep.placements) {
      BenchBuffers b;
      b.send = mem.send();
      b.recv = mem.recv();
      d.counts(size / es, n, b);
      if (p == kInPlace && d.place) d.place(ctx, b);
      row.bytes = std::max(b.send_count, b.recv_count) * es;
      row.count = b.param_count;
      BenchTimes t = measure(comm, raw, d, o, ctx, b, mem, p);
      t.algbw = t.time_us > 0 ? double(row.bytes) / t.time_us * 1e-3 : 0;  // bytes/us -> GB/s
      t.busbw = t.algbw * d.bus_factor(n);
      if (t.wrong > 0) rep.wrong += t.wrong;
      bw += t.busbw, ++nbw;
      row.times.push_back(t);
    }
    rep.rows.push_back(row);
    if (cb.row) cb.row(row);
  }
  rep.avg_busbw = nbw ? bw / nbw : 0;
  if (cb.end_op) cb.end_op(rep);
  return rep;
}

}  // namespace

int auto_iteration_count(int64_t per_iter_ns, double budget_ms) {
  const auto budget_ns = int64_t(budget_ms * 1e6);
  return int(std::clamp<int64_t>(per_iter_ns > 0 ? budget_ns / per_iter_ns : kMaxIters, kMinIters, kMaxIters));
}

std::vector<OpReport> run_comm_bench(Communicator& comm, const BenchOptions& o, const BenchCallbacks& cb,
                                     Backend* device) {
  MpiCommunicator* raw = nullptr;
  if (o.baseline) {
    raw = dynamic_cast<MpiCommunicator*>(&comm);
    AD_CHECK(raw, "--baseline times the raw MPI calls and needs --backend mpi (got {})", comm.backend_name());
  }
  std::vector<OpReport> reports;
  for (const auto& name : o.ops) {
    const CollDesc* d = find_coll(name);
    AD_CHECK(d, "comm-bench: unknown op '{}'", name);
    reports.push_back(run_op(comm, raw, *d, o, cb, device));
  }
  return reports;
}

}  // namespace autodist::dist
