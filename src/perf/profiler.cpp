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

// Whole tp-1 layers (Stage::forward's kernels in order, on copies of the layer's weights that together miss the
// caches) of `rows` rows at positions [start, start + rows). Passes over the copies are sampled in bursts spread over
// the profile: the 2-core VM's memory bandwidth drifts 20% within seconds (a pass is ~10 ms at decode size there), and
// the lower quartile of passes spread over the profile, like the kernels' fastest-half medians, describes its quieter
// periods instead of one short window's moment.
class LayerTimer {
 public:
  LayerTimer(Backend& be, const ModelConfig& c, DType t, int64_t rows, int64_t start, std::mt19937& rng)
      : be_(be), c_(c), s_(stage_shapes(c, 1)), T_(rows), start_(start), plan_(make_plan(1, start, rows, false)) {
    const int64_t D = c.hidden, hd = c.head_dim, P = start + rows, T = rows;
    const double layer_bytes = static_cast<double>(s_.qkv.N * s_.qkv.K + s_.o.N * s_.o.K + s_.mlp_in.N * s_.mlp_in.K +
                                                   s_.down.N * s_.down.K) * dtype_size(t);
    const int copies = static_cast<int>(std::clamp(std::ceil(96.0 * (1 << 20) / layer_bytes), 2.0, 8.0));
    for (int i = 0; i < copies; ++i)
      L_.push_back({filled(be, t, {s_.qkv.N, s_.qkv.K}, rng), filled(be, t, {s_.o.N, s_.o.K}, rng),
                    filled(be, t, {s_.mlp_in.N, s_.mlp_in.K}, rng), filled(be, t, {s_.down.N, s_.down.K}, rng),
                    filled(be, DType::F32, {1, P, s_.hk, hd}, rng), filled(be, DType::F32, {1, P, s_.hk, hd}, rng)});
    x_ = filled(be, DType::F32, {T, D}, rng);
    h_ = Buffer(&be, DType::F32, {T, D}), o_ = Buffer(&be, DType::F32, {T, D});
    qkv_ = Buffer(&be, DType::F32, {T, s_.qkv.N}), q_ = Buffer(&be, DType::F32, {T, s_.hq, hd});
    k_ = Buffer(&be, DType::F32, {T, s_.hk, hd}), v_ = Buffer(&be, DType::F32, {T, s_.hk, hd});
    att_ = Buffer(&be, DType::F32, {T, s_.hq, hd}), gu_ = Buffer(&be, DType::F32, {T, s_.mlp_in.N});
    act_ = Buffer(&be, DType::F32, {T, s_.inter});
    nw_ = filled(be, DType::F32, {D}, rng), qn_ = filled(be, DType::F32, {hd}, rng);
    cs_ = filled(be, DType::F32, {P, hd}, rng);
  }

  // Passes for about `seconds`, at least `at_least` of them.
  void sample(double seconds, int at_least) {
    StepLimits lim = be_.limits();
    lim.max_context = std::max(lim.max_context, start_ + T_);
    lim.max_tokens = std::max(lim.max_tokens, T_);
    if (lim.max_context != be_.limits().max_context || lim.max_tokens != be_.limits().max_tokens) be_.prepare(lim);
    be_.begin_step(plan_);
    const int64_t until = now_ns() + static_cast<int64_t>(seconds * 1e9);
    for (int n = 0; n < at_least || now_ns() < until; ++n) {
      be_.fill_zero(x_.t());  // keeps the activations finite over the repetitions
      const int64_t t0 = now_ns();
      for (auto& w : L_) layer(w);
      be_.synchronize();
      ts_.push_back((now_ns() - t0) * 1e-9 / static_cast<double>(L_.size()));
    }
  }

  // The lower quartile of the passes over the sum of the profile's kernel times for the same layer.
  double factor(const Profile& p) const {
    std::vector<double> ts = ts_;
    std::sort(ts.begin(), ts.end());
    const double sum = step_seconds(p, c_, s_, {{start_, T_}}, 1, false, 0, Link{}, {}).compute;
    return sum > 0 && !ts.empty() ? std::clamp(ts[ts.size() / 4] / sum, 0.5, 3.0) : 1.0;
  }

 private:
  struct Weights {
    Buffer qkv, o, in, down, kc, vc;
  };
  void norm(const Tensor& in, Tensor out) {
    if (c_.norm == NormKind::RMSNorm) be_.rmsnorm(in, nw_.t(), kEps, out);
    else be_.layernorm(in, nw_.t(), nullptr, kEps, out);
  }
  void layer(Weights& w) {
    const int64_t T = T_, hd = c_.head_dim;
    norm(x_.t(), h_.t());
    be_.gemm(h_.t(), w.qkv.t(), nullptr, qkv_.t());
    be_.split_qkv(qkv_.t(), q_.t(), k_.t(), v_.t());
    if (c_.qk_norm) {
      be_.rmsnorm(q_.t().reshape({T * s_.hq, hd}), qn_.t(), kEps, q_.t().reshape({T * s_.hq, hd}));
      be_.rmsnorm(k_.t().reshape({T * s_.hk, hd}), qn_.t(), kEps, k_.t().reshape({T * s_.hk, hd}));
    }
    if (c_.pos == PosKind::Rope) be_.rope(q_.t(), cs_.t()), be_.rope(k_.t(), cs_.t());
    be_.kv_append(k_.t(), v_.t(), w.kc.t(), w.vc.t());
    be_.attention(q_.t(), w.kc.t(), w.vc.t(), 0.125f, c_.sliding_window, att_.t());
    be_.gemm(att_.t().reshape({T, s_.hq * hd}), w.o.t(), nullptr, o_.t());
    be_.add(x_.t(), o_.t());
    norm(x_.t(), h_.t());
    be_.gemm(h_.t(), w.in.t(), nullptr, gu_.t());
    if (c_.mlp == MlpKind::Gated) be_.silu_mul(gu_.t(), act_.t());
    else be_.activation(gu_.t(), c_.act, act_.t());
    be_.gemm(act_.t(), w.down.t(), nullptr, o_.t());
    be_.add(x_.t(), o_.t());
  }

  static constexpr float kEps = 1e-6f;
  Backend& be_;
  const ModelConfig& c_;
  StageShapes s_;
  int64_t T_, start_;
  StepPlan plan_;
  std::vector<Weights> L_;
  Buffer x_, h_, o_, qkv_, q_, k_, v_, att_, gu_, act_, nw_, qn_, cs_;
  std::vector<double> ts_;
};

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
  AD_CHECK(o.passes >= 1, "profile: --passes must be >= 1, got {}", o.passes);
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
  lim.max_context = std::max({Lmax + 1, std::min<int64_t>(Mmax, 256), int64_t{3}});  // + 1: a decode row after Lmax
  lim.slots = std::max<int64_t>(Bmax, 8);
  lim.max_outputs = lim.max_tokens;
  lim.vocab = c.vocab;
  be.prepare(lim);
  const int64_t hd = c.head_dim, ctx = std::max<int64_t>(Lmax, 2);
  // What the machine's drift moves most is sampled in bursts spread over the profile: whole decode layers (the
  // composition factor) and ranks computing at once (contention).
  LayerTimer dec_layers(be, c, o.weight_dtype, 1, ctx, rng);
  ContentionSampler contention(be, c, o.weight_dtype, {1, std::min<int64_t>(128, Mmax)}, rng);
  auto spread = [&] {
    dec_layers.sample(0.03, 1);
    contention.sample(0.1);
  };
  // In `passes` sweeps over the shapes, each point keeping its fastest: a sweep takes seconds, and a disturbance of
  // the machine that slows one sweep's shapes (1.3-1.8x at one point, seen) spares the others.
  for (auto [N, K] : shapes) p.gemms.push_back(GemmCurve{N, K, {}});
  for (int pass = 0; pass < o.passes; ++pass) {
    for (GemmCurve& cur : p.gemms) {
      const int64_t N = cur.N, K = cur.K;
      say(fmt::format("gemm N={} K={}: M up to {} (pass {} of {})", N, K, Mmax, pass + 1, o.passes));
      // Copies of the weights beyond the caches, one per call in turn: a step reads every weight from memory.
      std::vector<Buffer> ws = weight_copies(be, o.weight_dtype, N, K, rng);
      Buffer x = filled(be, DType::F32, {Mmax, K}, rng);
      Buffer y(&be, DType::F32, {Mmax, N});
      size_t i = 0;
      for (size_t j = 0; j < Ms.size(); ++j) {
        const int64_t M = Ms[j];
        const double t = timer.median([&] {
          be.gemm(x.t().rows(0, M), ws[i++ % ws.size()].t(), nullptr, y.t().rows(0, M));
        });
        if (pass == 0) cur.pts.emplace_back(M, t);
        else cur.pts[j].second = std::min(cur.pts[j].second, t);
      }
      spread();
    }
  }
  say("tensor-parallel ranks waiting for each other");
  for (bool decode : {true, false}) {
    const int64_t M = decode ? 1 : std::min<int64_t>(128, Mmax);
    (decode ? p.sync_decode : p.sync_prefill) = sync_slowdown(be, c, o.weight_dtype, M, o.max_tp, rng);
    spread();
  }

  // Attention: decode blocks (one row, 8 sequences) and prefill blocks, at the heads of tp 1 and of the largest tp.
  say("attention");
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
    spread();
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
    spread();
  }
  for (auto& [k, v] : pts) p.ops[k] = fit_line(v);
  say("whole layers");
  LayerTimer pre_layers(be, c, o.weight_dtype, std::min<int64_t>(Mmax, ctx), 0, rng);
  pre_layers.sample(1.5, 5);
  p.compose_decode = dec_layers.factor(p), p.compose_prefill = pre_layers.factor(p);
  p.contention_decode = contention.factors(0), p.contention_prefill = contention.factors(1);
  return p;
}

}  // namespace autodist::perf
