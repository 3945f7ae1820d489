#include "perf/profiler.h"

#include <algorithm>
#include <atomic>
#include <random>
#include <cmath>
#include <set>
#include <thread>

#include "core/clock.h"
#include "core/error.h"
#include "model/rope.h"
#include "perf/predict.h"
#include "perf/profiler_threads.h"
#include "perf/shapes.h"

namespace autodist::perf {

namespace {

class Timer {
 public:
  Timer(Backend& be, int reps) : be_(be), reps_(std::max(reps, 1)) {}
  // Median seconds of the fastest half of the repetitions (one untimed call first): on a shared host, other work
  // only ever adds time, so the slower half is the disturbed one.
  template <typename F>
  double median(F&& f) {
    f();
    be_.synchronize();
    std::vector<double> ts;
    for (int i = 0; i < reps_; ++i) {
      const int64_t t0 = now_ns();
      f();
      be_.synchronize();
      ts.push_back((now_ns() - t0) * 1e-9);
    }
    std::sort(ts.begin(), ts.end());
    const size_t half = (ts.size() + 1) / 2;
    return ts[(half - 1) / 2];
  }

 private:
  Backend& be_;
  int reps_;
};

// A plan of `segs` segments of `len` rows each, at positions [start, start+len) of slots 0..segs-1, every row an
// output when outputs.
StepPlan make_plan(int64_t segs, int64_t start, int64_t len, bool outputs) {
  StepPlan p;
  std::vector<int32_t> ids(static_cast<size_t>(len), 1);
  for (int64_t s = 0; s < segs; ++s) {
    const int32_t r0 = p.add(static_cast<int32_t>(s), static_cast<int32_t>(start), static_cast<int32_t>(len), ids.data());
    if (outputs)
      for (int64_t i = 0; i < len; ++i) p.want(r0 + static_cast<int32_t>(i));
  }
  return p;
}

// Enough copies of an N x K weight matrix that cycling through them misses every cache (>= 96 MiB in all).
std::vector<Buffer> weight_copies(Backend& be, DType t, int64_t N, int64_t K, std::mt19937& rng) {
  const double bytes = static_cast<double>(N) * K * dtype_size(t);
  const int n = static_cast<int>(std::clamp(std::ceil(96.0 * (1 << 20) / bytes), 1.0, 32.0));
  std::vector<Buffer> ws;
  for (int i = 0; i < n; ++i) ws.push_back(filled(be, t, {N, K}, rng));
  return ws;
}

// Seconds of whole tp-1 layers (Stage::forward's kernels in order, on copies of the layer's weights that together
// miss the caches) of `rows` rows at positions [start, start + rows), over the sum of the profile's kernel times.
double compose_factor(Backend& be, const ModelConfig& c, DType t, const Profile& p, int64_t rows, int64_t start,
                      std::mt19937& rng) {
  const StageShapes s = stage_shapes(c, 1);
  const int64_t T = rows, D = c.hidden, hd = c.head_dim, P = start + rows;
  const double layer_bytes = static_cast<double>(s.qkv.N * s.qkv.K + s.o.N * s.o.K + s.mlp_in.N * s.mlp_in.K +
                                                 s.down.N * s.down.K) * dtype_size(t);
  const int copies = static_cast<int>(std::clamp(std::ceil(96.0 * (1 << 20) / layer_bytes), 2.0, 8.0));
  struct LayerBufs {
    Buffer qkv, o, in, down, kc, vc;
  };
  std::vector<LayerBufs> L;
  for (int i = 0; i < copies; ++i)
    L.push_back({filled(be, t, {s.qkv.N, s.qkv.K}, rng), filled(be, t, {s.o.N, s.o.K}, rng),
                 filled(be, t, {s.mlp_in.N, s.mlp_in.K}, rng), filled(be, t, {s.down.N, s.down.K}, rng),
                 filled(be, DType::F32, {1, P, s.hk, hd}, rng), filled(be, DType::F32, {1, P, s.hk, hd}, rng)});
  Buffer x = filled(be, DType::F32, {T, D}, rng), h(&be, DType::F32, {T, D}), o(&be, DType::F32, {T, D});
  Buffer qkv(&be, DType::F32, {T, s.qkv.N}), q(&be, DType::F32, {T, s.hq, hd}), k(&be, DType::F32, {T, s.hk, hd}),
      v(&be, DType::F32, {T, s.hk, hd}), att(&be, DType::F32, {T, s.hq * hd}), gu(&be, DType::F32, {T, s.mlp_in.N}),
      act(&be, DType::F32, {T, s.inter});
  Buffer nw = filled(be, DType::F32, {D}, rng), qn = filled(be, DType::F32, {hd}, rng);
  Buffer cs = filled(be, DType::F32, {P, hd}, rng);
  StepPlan plan = make_plan(1, start, rows, false);
  StepLimits lim = be.limits();
  lim.max_context = std::max(lim.max_context, P);
  lim.max_tokens = std::max(lim.max_tokens, T);
  be.prepare(lim);
  be.begin_step(plan);
  const float eps = 1e-6f;
  auto norm = [&](const Tensor& in, Tensor out) {
    if (c.norm == NormKind::RMSNorm) be.rmsnorm(in, nw.t(), eps, out);
    else be.layernorm(in, nw.t(), nullptr, eps, out);
  };
  auto layer = [&](LayerBufs& w) {
    norm(x.t(), h.t());
    be.gemm(h.t(), w.qkv.t(), nullptr, qkv.t());
    be.split_qkv(qkv.t(), q.t(), k.t(), v.t());
    if (c.qk_norm) {
      be.rmsnorm(q.t().reshape({T * s.hq, hd}), qn.t(), eps, q.t().reshape({T * s.hq, hd}));
      be.rmsnorm(k.t().reshape({T * s.hk, hd}), qn.t(), eps, k.t().reshape({T * s.hk, hd}));
    }
    if (c.pos == PosKind::Rope) be.rope(q.t(), cs.t()), be.rope(k.t(), cs.t());
    be.kv_append(k.t(), v.t(), w.kc.t(), w.vc.t());
    be.attention(q.t(), w.kc.t(), w.vc.t(), 0.125f, c.sliding_window, att.t().reshape({T, s.hq, hd}));
    be.gemm(att.t(), w.o.t(), nullptr, o.t());
    be.add(x.t(), o.t());
    norm(x.t(), h.t());
    be.gemm(h.t(), w.in.t(), nullptr, gu.t());
    if (c.mlp == MlpKind::Gated) be.silu_mul(gu.t(), act.t());
    else be.activation(gu.t(), c.act, act.t());
    be.gemm(act.t(), w.down.t(), nullptr, o.t());
    be.add(x.t(), o.t());
  };
  std::vector<double> ts;
  for (int rep = 0; rep < 5; ++rep) {
    be.fill_zero(x.t());  // keeps the activations finite over the repetitions
    const int64_t t0 = now_ns();
    for (auto& w : L) layer(w);
    be.synchronize();
    ts.push_back((now_ns() - t0) * 1e-9 / copies);
  }
  std::sort(ts.begin(), ts.end());
  const double measured = ts[1];  // the median of the fastest half
  const double sum = step_seconds(p, c, s, {{start, rows}}, 1, false, 0, Link{}, {}).compute;
  return sum > 0 ? std::clamp(measured / sum, 0.5, 3.0) : 1.0;
}

}  // namespace

std::vector<int64_t> gemm_rows(const ProfileOptions& o) {
  std::set<int64_t> m;
  int64_t most = 1;
  for (int64_t b : o.batches) most = std::max(most, b);
  for (int64_t b : o.batches)
    for (int64_t l : o.lengths) most = std::max(most, b * l);
  const int64_t cap = std::min(most, o.max_gemm_rows);
  for (int64_t x = 1; x <= cap; x *= 2) m.insert(x);
  m.insert(cap);
  for (int64_t b : o.batches)
    if (b <= cap) m.insert(b);
  for (int64_t l : o.lengths)
    if (l <= cap) m.insert(l);
  return {m.begin(), m.end()};
}


Profile measure_profile(Backend& be, const ModelConfig& c, const ProfileOptions& o) {
  AD_CHECK(o.max_tp >= 1, "profile: --max-tp must be >= 1, got {}", o.max_tp);
  AD_CHECK(!o.batches.empty() && !o.lengths.empty(), "profile: give at least one batch size and one length");
  for (int64_t b : o.batches) AD_CHECK(b >= 1, "profile: batch sizes must be >= 1, got {}", b);
  for (int64_t l : o.lengths) AD_CHECK(l >= 1, "profile: lengths must be >= 1, got {}", l);
  auto say = [&](const std::string& s) {
    if (o.progress) o.progress(s);
  };
  std::mt19937 rng(7);
  Timer timer(be, o.reps);
  Profile p;
  p.dtype = dtype_name(o.weight_dtype);
  p.backend = be.name();
  p.max_tp = o.max_tp;
  const std::vector<int> tps = valid_tps(c, o.max_tp);
  const std::vector<int64_t> Ms = gemm_rows(o);
  const int64_t Mmax = Ms.back();
  int64_t Lmax = 1, Bmax = 1;
  for (int64_t l : o.lengths) Lmax = std::max(Lmax, l);
  for (int64_t b : o.batches) Bmax = std::max(Bmax, b);
  Lmax = std::min(Lmax, c.max_position);

  // GEMMs: every distinct (N, K) of every valid tp, over M.
  std::set<std::pair<int64_t, int64_t>> shapes;
  for (int tp : tps)
    for (const GemmShape& g : stage_shapes(c, tp).all()) shapes.insert({g.N, g.K});
  StepLimits lim;
  lim.max_tokens = std::max(Mmax, Bmax * 8);
  lim.max_context = std::max({Lmax, std::min<int64_t>(Mmax, 256), int64_t{2}});
  lim.slots = std::max<int64_t>(Bmax, 8);
  lim.max_outputs = lim.max_tokens;
  lim.vocab = c.vocab;
  be.prepare(lim);
  for (auto [N, K] : shapes) {
    say(fmt::format("gemm N={} K={}: M up to {}", N, K, Mmax));
    // Copies of the weights beyond the caches, one per call in turn: a step reads every weight from memory.
    std::vector<Buffer> ws = weight_copies(be, o.weight_dtype, N, K, rng);
    Buffer x = filled(be, DType::F32, {Mmax, K}, rng);
    Buffer y(&be, DType::F32, {Mmax, N});
    GemmCurve cur{N, K, {}};
    size_t i = 0;
    for (int64_t M : Ms)
      cur.pts.emplace_back(M, timer.median([&] {
        be.gemm(x.t().rows(0, M), ws[i++ % ws.size()].t(), nullptr, y.t().rows(0, M));
      }));
    p.gemms.push_back(std::move(cur));
  }
  say("contention of ranks computing at once");
  for (bool decode : {true, false}) {
    std::vector<double>& f = decode ? p.contention_decode : p.contention_prefill;
    const int64_t M = decode ? 1 : std::min<int64_t>(128, Mmax);
    f = concurrent_slowdown(be, c, o.weight_dtype, M, rng);
    (decode ? p.sync_decode : p.sync_prefill) = sync_slowdown(be, c, o.weight_dtype, M, o.max_tp, rng);
  }

  // Attention: decode blocks (one row, 8 sequences) and prefill blocks, at the heads of tp 1 and of the largest tp.
  say("attention");
  const int64_t hd = c.head_dim, ctx = std::max<int64_t>(Lmax, 2);
  std::vector<std::pair<double, double>> dec, pre;
  for (int tp : {tps.front(), tps.back()}) {
    const StageShapes s = stage_shapes(c, tp);
    Buffer kc = filled(be, DType::F32, {lim.slots, ctx, s.hk, hd}, rng);
    Buffer vc = filled(be, DType::F32, {lim.slots, ctx, s.hk, hd}, rng);
    Buffer q = filled(be, DType::F32, {lim.max_tokens, s.hq, hd}, rng);
    Buffer out(&be, DType::F32, {lim.max_tokens, s.hq, hd});
    const float scale = 0.125f;
    auto run = [&](int64_t segs, int64_t start, int64_t len, std::vector<std::pair<double, double>>& into) {
      StepPlan plan = make_plan(segs, start, len, false);
      const int64_t T = plan.rows();
      be.begin_step(plan);
      const double t = timer.median(
          [&] { be.attention(q.t().rows(0, T), kc.t(), vc.t(), scale, c.sliding_window, out.t().rows(0, T)); });
      double calls = 0, work = 0;
      for (int64_t b0 = 0; b0 < len; b0 += 128) {
        const int64_t rows = std::min<int64_t>(128, len - b0);
        calls += static_cast<double>(segs * s.hq);
        work += static_cast<double>(segs * s.hq) * rows * (start + b0 + rows) * hd;
      }
      into.emplace_back(work / calls, t / calls);
    };
    for (int64_t k : {int64_t{16}, ctx / 8, ctx / 2, ctx})
      if (k >= 1 && k <= ctx) run(lim.slots, k - 1, 1, dec);
    for (int64_t len : {int64_t{16}, ctx / 4, ctx / 2, ctx})
      if (len >= 2 && len <= ctx && len <= lim.max_tokens) run(1, 0, len, pre);
    if (ctx >= 64) run(1, ctx / 2, ctx / 2, pre);
  }
  p.attn_decode = fit_line(dec);
  p.attn_prefill = pre.empty() ? p.attn_decode : fit_line(pre);

  // Elementwise kernels, by elements per call, at a few row counts.
  say("norms, rope, activations, embedding, head");
  const StageShapes s1 = stage_shapes(c, 1);
  const int64_t D = c.hidden, I = s1.inter, V = c.vocab, Hq = s1.hq, Hk = s1.hk;
  const int64_t Tmax = std::min<int64_t>(Mmax, 256);
  Buffer x = filled(be, DType::F32, {Tmax, std::max(D, 2 * I)}, rng);
  Buffer y = filled(be, DType::F32, {Tmax, std::max(D, 2 * I)}, rng);
  Buffer nw = filled(be, DType::F32, {D}, rng);
  Buffer qkv = filled(be, DType::F32, {Tmax, (Hq + 2 * Hk) * hd}, rng);
  Buffer qb(&be, DType::F32, {Tmax, Hq, hd}), kb(&be, DType::F32, {Tmax, Hk, hd}), vb(&be, DType::F32, {Tmax, Hk, hd});
  Buffer kc(&be, DType::F32, {1, Tmax, Hk, hd}), vc(&be, DType::F32, {1, Tmax, Hk, hd});
  Buffer cs = filled(be, DType::F32, {Tmax, hd}, rng);
  const int64_t Vp = std::min<int64_t>(V, 1 << 16);  // embedding rows timed (the lookup cost is per row, not per table)
  Buffer table = filled(be, o.weight_dtype, {Vp, D}, rng);
  Buffer slot_tok = filled(be, DType::I32, {lim.slots}, rng);
  const int64_t Rmax = std::min<int64_t>(Bmax, Tmax);
  Buffer logits = filled(be, DType::F32, {Rmax, V}, rng);
  Buffer pairs(&be, DType::F32, {Rmax, 2}), toks(&be, DType::I32, {Rmax});
  std::map<std::string, std::vector<std::pair<double, double>>> pts;
  std::set<int64_t> Ts = {1, 4, 16, 64, Tmax};
  for (int64_t T : Ts) {
    if (T > Tmax) continue;
    StepPlan plan = make_plan(1, 0, T, true);
    be.begin_step(plan);
    auto X = [&](int64_t cols) { return Tensor(x.t().data, DType::F32, {T, cols}); };
    auto Y = [&](int64_t cols) { return Tensor(y.t().data, DType::F32, {T, cols}); };
    const double eD = static_cast<double>(T * D);
    pts["rmsnorm"].emplace_back(eD, timer.median([&] { be.rmsnorm(X(D), nw.t(), 1e-6f, Y(D)); }));
    pts["layernorm"].emplace_back(eD, timer.median([&] { be.layernorm(X(D), nw.t(), &nw.t(), 1e-6f, Y(D)); }));
    pts["add"].emplace_back(eD, timer.median([&] { be.add(Y(D), X(D)); }));
    pts["add_bias"].emplace_back(eD, timer.median([&] { be.add_bias(Y(D), nw.t()); }));
    pts["silu_mul"].emplace_back(static_cast<double>(T * I), timer.median([&] { be.silu_mul(X(2 * I), Y(I)); }));
    pts["activation"].emplace_back(static_cast<double>(T * I),
                                   timer.median([&] { be.activation(X(I), c.act, X(I)); }));
    Tensor q = qb.t().rows(0, T), k = kb.t().rows(0, T), v = vb.t().rows(0, T);
    pts["split_qkv"].emplace_back(static_cast<double>(T * (Hq + 2 * Hk) * hd),
                                  timer.median([&] { be.split_qkv(qkv.t().rows(0, T), q, k, v); }));
    pts["rope"].emplace_back(static_cast<double>(T * Hq * hd), timer.median([&] { be.rope(q, cs.t()); }));
    pts["kv_append"].emplace_back(static_cast<double>(T * 2 * Hk * hd),
                                  timer.median([&] { be.kv_append(k, v, kc.t(), vc.t()); }));
    pts["embed"].emplace_back(eD, timer.median([&] { be.embed(table.t(), 0, slot_tok.t(), Y(D)); }));
    if (T <= Rmax) {
      Tensor lg = logits.t().rows(0, T), pr = pairs.t().rows(0, T);
      pts["gather_rows"].emplace_back(eD, timer.median([&] { be.gather_rows(X(D), Y(D)); }));
      pts["argmax"].emplace_back(static_cast<double>(T * V), timer.median([&] { be.argmax(lg, V, 0, pr); }));
      pts["pick"].emplace_back(static_cast<double>(T), timer.median([&] { be.pick(pr, toks.t().rows(0, T), slot_tok.t()); }));
    }
  }
  for (auto& [k, v] : pts) p.ops[k] = fit_line(v);
  say("whole layers");
  const double f_dec = compose_factor(be, c, o.weight_dtype, p, 1, ctx, rng);
  const double f_pre = compose_factor(be, c, o.weight_dtype, p, std::min<int64_t>(Mmax, ctx), 0, rng);
  p.compose_decode = f_dec, p.compose_prefill = f_pre;
  return p;
}

}  // namespace autodist::perf
