#include "dist/comm_bench.h"

#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstring>

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
  AD_CHECK(o.iters >= 1, "--iters {}: need at least one timed iteration", o.iters);
  AD_CHECK(o.warmup >= 0, "--warmup {}: must be >= 0", o.warmup);
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
      std::string why = fmt::format("{} pair rank r with rank r^1 and need an even number of ranks; this run has {}",
                                    list, world);
      AD_CHECK(all, "{} (run with an even -np, or leave them out of --op)", why);
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

double mean_us(const std::vector<int64_t>& ns) {
  double s = 0;
  for (int64_t v : ns) s += double(v);
  return ns.empty() ? 0 : s / double(ns.size()) * 1e-3;
}

// Median over iterations of wrapper / raw, each pair timed back to back: a noisy (shared,
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

OpReport run_op(Communicator& comm, MpiCommunicator* raw, const CollDesc& d, const BenchOptions& o,
                const BenchCallbacks& cb) {
  const int n = comm.size();
  const BenchCtx ctx{comm.rank(), n, o.dtype, o.redop, o.root, comm.rank() ^ 1};
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
  // Buffers for the largest size (counts grow with size); uint64 storage for alignment.
  BenchBuffers cap;
  d.counts(sizes.back() / es, n, cap);
  std::vector<uint64_t> sbuf(size_t(cap.send_count * es / 8 + 1)), rbuf(size_t(cap.recv_count * es / 8 + 1));

  OpReport rep;
  rep.op = d.name;
  rep.busbw_note = d.busbw_note;
  if (cb.begin_op) cb.begin_op(rep);
  for (int64_t size : sizes) {
    BenchBuffers b;
    b.send = sbuf.data();
    b.recv = rbuf.data();
    d.counts(size / es, n, b);
    BenchRow row;
    row.op = d.name;
    row.bytes = std::max(b.send_count, b.recv_count) * es;
    row.count = b.param_count;
    row.dtype = o.dtype;
    row.redop = d.uses_redop ? reduce_op_name(o.redop) : "none";
    row.root = d.uses_root ? o.root : -1;

    // One checked run (it also warms the path up), then the raw call checked the same way.
    d.init(ctx, b);
    d.run(comm, ctx, b);
    if (o.check) {
      if (o.inject_error) inject_error(d, ctx, b);
      int64_t w = d.check(ctx, b);
      if (raw) {
        d.init(ctx, b);
        d.run_raw(*raw, ctx, b);
        w += d.check(ctx, b);
      }
      comm.all_reduce(Tensor(&w, DType::I64, Shape{1}), ReduceOp::Sum);
      row.wrong = w;
      rep.wrong += w;
    }
    for (int i = 0; i < o.warmup; ++i) {
      d.run(comm, ctx, b);
      if (raw) d.run_raw(*raw, ctx, b);
    }
    std::vector<int64_t> t(size_t(o.iters)), traw(raw ? size_t(o.iters) : 0);
    for (int it = 0; it < o.iters; ++it) {
      auto time_raw = [&] {
        comm.barrier();
        int64_t t0 = now_ns();
        d.run_raw(*raw, ctx, b);
        traw[it] = now_ns() - t0;
      };
      bool raw_first = raw && (it & 1);  // alternate, so neither side always runs second
      if (raw_first) time_raw();
      comm.barrier();
      int64_t t0 = now_ns();
      d.run(comm, ctx, b);
      t[it] = now_ns() - t0;
      if (raw && !raw_first) time_raw();
    }
    // The slowest rank sets each iteration's time.
    comm.all_reduce(Tensor(t.data(), DType::I64, Shape{o.iters}), ReduceOp::Max);
    if (raw) comm.all_reduce(Tensor(traw.data(), DType::I64, Shape{o.iters}), ReduceOp::Max);

    row.time_us = mean_us(t);
    row.algbw = row.time_us > 0 ? double(row.bytes) / row.time_us * 1e-3 : 0;  // bytes/us -> GB/s
    row.busbw = row.algbw * d.bus_factor(n);
    if (raw) {
      row.raw_time_us = mean_us(traw);
      row.ratio = median_ratio(t, traw);
    }
    rep.rows.push_back(row);
    if (cb.row) cb.row(row);
  }
  double bw = 0;
  for (const auto& r : rep.rows) bw += r.busbw;
  rep.avg_busbw = rep.rows.empty() ? 0 : bw / double(rep.rows.size());
  if (cb.end_op) cb.end_op(rep);
  return rep;
}

}  // namespace

std::vector<OpReport> run_comm_bench(Communicator& comm, const BenchOptions& o, const BenchCallbacks& cb) {
  MpiCommunicator* raw = nullptr;
  if (o.baseline) {
    raw = dynamic_cast<MpiCommunicator*>(&comm);
    AD_CHECK(raw, "--baseline times the raw MPI calls and needs --backend mpi (got {})", comm.backend_name());
  }
  std::vector<OpReport> reports;
  for (const auto& name : o.ops) {
    const CollDesc* d = find_coll(name);
    AD_CHECK(d, "comm-bench: unknown op '{}'", name);
    reports.push_back(run_op(comm, raw, *d, o, cb));
  }
  return reports;
}

}  // namespace autodist::dist
