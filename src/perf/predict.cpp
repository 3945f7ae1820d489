#include "perf/predict.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "model/partition.h"
#include "model/tp_shard.h"
#include "model/weights.h"
#include "perf/sim.h"

namespace autodist::perf {

std::string layout_name(const PerfLayout& l) {
  std::string s;
  if (l.tp > 1) s += fmt::format("tp{} ", l.tp);
  if (l.pp > 1) s += fmt::format("pp{} ", l.pp);
  if (l.micro_batches > 1) s += fmt::format("mb{} ", l.micro_batches);
  if (l.sp_chunk > 0)
    s += fmt::format("sp{} {} ", l.sp_chunk,
                     l.kv_sync == KvSyncKind::Pairwise ? "pairwise" : l.kv_sync == KvSyncKind::Ring ? "ring" : "none");
  if (s.empty()) s = "single ";
  s.pop_back();
  return s;
}

void check_layout(const ModelConfig& c, const Cluster& cl, const PerfLayout& l, const Workload& w) {
  AD_CHECK(l.tp >= 1 && l.pp >= 1, "--tp and --pp must be >= 1 (got tp {} pp {})", l.tp, l.pp);
  AD_CHECK(l.tp * l.pp == cl.world(),
           "--tp {} x --pp {} = {} ranks, but the cluster ({}) has {} ranks ({} hosts); choose tp x pp = {}", l.tp,
           l.pp, l.tp * l.pp, cl.source, cl.world(), cl.hosts.size(), cl.world());
  AD_CHECK(c.n_heads % l.tp == 0 || l.tp % c.n_kv_heads == 0,
           "--tp {} does not divide the {} attention heads of {}", l.tp, c.n_heads, c.architecture);
  stage_shapes(c, l.tp);  // the tensor-parallel checks of the runtime (kv heads, intermediate size)
  AD_CHECK(l.pp <= c.n_layers, "--pp {}: more pipeline stages than the {} layers of the model", l.pp, c.n_layers);
  AD_CHECK(l.micro_batches >= 1, "--micro-batches must be >= 1, got {}", l.micro_batches);
  AD_CHECK(l.sp_chunk >= 0, "--sp-chunk-size must be >= 0, got {}", l.sp_chunk);
  if (l.sp_chunk > 0) {
    AD_CHECK(l.pp > 1, "--sp-chunk-size needs --pp > 1: the chunks flow through layer stages");
    AD_CHECK(l.tp == 1, "SP+PP prefill runs with --tp 1 (got {})", l.tp);
  }
  AD_CHECK(w.batch >= 1 && w.prompt_len >= 1 && w.max_output >= 1,
           "--batch, --prompt-len and --max-output-length must be >= 1 (got {}, {}, {})", w.batch, w.prompt_len,
           w.max_output);
  AD_CHECK(w.prompt_len + w.max_output <= c.max_position + 1,
           "--prompt-len {} + --max-output-length {} is beyond the model's context of {} positions", w.prompt_len,
           w.max_output, c.max_position);
  make_partition(c, l.pp, l.partition, l.weight_dtype);  // throws on a policy that does not fit
}

Memory memory_per_rank(const ModelConfig& c, const PerfLayout& l, const Workload& w, int rank) {
  const int tp_rank = rank % l.tp, pp_rank = rank / l.tp;
  const auto parts = make_partition(c, l.pp, l.partition, l.weight_dtype);
  const bool full = l.sp_chunk > 0 && l.kv_sync != KvSyncKind::None;
  const StageRange held = full ? StageRange{0, c.n_layers, true, true} : parts[static_cast<size_t>(pp_rank)];
  const TpShard tp = TpShard::make(c, tp_rank, l.tp);
  Memory m;
  for (const ShardTensor& t : shard_plan(c, tp, held, l.weight_dtype)) m.weights += static_cast<double>(t.nbytes());
  const double layers = static_cast<double>(held.last - held.first);
  const int64_t ctx = std::min(w.prompt_len + w.max_output, c.max_position);
  m.kv_cache = 2.0 * layers * w.batch * ctx * tp.kv_heads * c.head_dim * 4;
  const int64_t M = std::min<int64_t>(l.sp_chunk > 0 ? 1 : l.micro_batches, w.batch);
  const int64_t per_mb = (w.batch + M - 1) / M;
  const int64_t T = std::max(l.sp_chunk > 0 ? std::min<int64_t>(l.sp_chunk, w.prompt_len) : per_mb * w.prompt_len,
                             w.batch);
  const int64_t R = l.sp_chunk > 0 ? w.batch : per_mb;
  const int64_t D = c.hidden, hd = c.head_dim, hq = tp.q_heads, hk = tp.kv_heads;
  const int64_t gu = (c.mlp == MlpKind::Gated ? 2 : 1) * tp.inter;
  double act = static_cast<double>(T) * (2 * D + (hq + 2 * hk) * hd + 2 * hq * hd + 2 * hk * hd + gu + tp.inter);
  if (c.pos == PosKind::Rope) act += static_cast<double>(ctx) * hd;
  if (held.has_head) act += static_cast<double>(R) * (2 * D + tp.vocab_local * (1 + l.tp) + c.vocab + 2 + 2 * l.tp);
  const int buffers = l.sp_chunk > 0 ? 2 : l.micro_batches;
  act += static_cast<double>(buffers + (full ? 1 : 0)) * T * D;
  m.activations = act * 4;
  return m;
}

StepSeconds step_seconds(const Profile& p, const ModelConfig& c, const StageShapes& s,
                         const std::vector<std::pair<int64_t, int64_t>>& segs, int64_t layers, bool embed,
                         int64_t outputs, const Link& tp_link, const Contention& k) {
  int64_t T = 0;
  for (auto [start, len] : segs) T += len;
  const double D = static_cast<double>(c.hidden), hd = static_cast<double>(s.hd);
  const double rows = static_cast<double>(T), hq = static_cast<double>(s.hq), hk = static_cast<double>(s.hk);
  const std::string norm = c.norm == NormKind::RMSNorm ? "rmsnorm" : "layernorm";
  const double act_bytes = rows * D * 4;
  StepSeconds r;
  double layer = 0;
  layer += 2 * p.op(norm, rows * D) + 2 * p.op("add", rows * D);
  layer += p.gemm(T, s.qkv.N, s.qkv.K) + p.gemm(T, s.o.N, s.o.K) + p.gemm(T, s.mlp_in.N, s.mlp_in.K) +
           p.gemm(T, s.down.N, s.down.K);
  layer += p.op("split_qkv", rows * (hq + 2 * hk) * hd) + p.op("kv_append", rows * 2 * hk * hd);
  if (c.qk_norm) layer += p.op("rmsnorm", rows * hq * hd) + p.op("rmsnorm", rows * hk * hd);
  if (c.pos == PosKind::Rope) layer += p.op("rope", rows * hq * hd) + p.op("rope", rows * hk * hd);
  for (auto [start, len] : segs) layer += p.attention(start, len, s.hq, s.hd);
  layer += c.mlp == MlpKind::Gated ? p.op("silu_mul", rows * s.inter) : p.op("activation", rows * s.inter);
  if (c.o_bias) layer += p.op("add_bias", rows * D);
  if (c.mlp_bias) layer += p.op("add_bias", rows * D);
  // A layer costs its kernels times the profile's composition factor (whole layers measured / the sum of their
  // kernels timed alone): it follows the machine's state at the time of the profile (0.93-1.08 on the 2-core VM), and
  // it halved the validation's TPOT median error in one of two runs (12.6% -> 6.2%; 6.3% -> 6.8% in the other).
  r.compute = layer * static_cast<double>(layers) * k.at(T) * p.compose(T);
  // Each all_reduce follows a block's compute, the link idle meanwhile (a shaped link's bucket refills).
  const double block = layers > 0 ? r.compute / (2.0 * static_cast<double>(layers)) : 0;
  r.comm = 2.0 * static_cast<double>(layers) * ring_all_reduce_s(tp_link, s.tp, act_bytes, 1, block);
  if (embed) {
    r.compute += (p.op("embed", rows * D) + (c.pos == PosKind::Learned ? p.op("add", rows * D) : 0)) * k.at(T);
    r.comm += ring_all_reduce_s(tp_link, s.tp, act_bytes, 1, block);
  }
  if (outputs > 0) {
    const double R = static_cast<double>(outputs);
    r.compute += (p.op("gather_rows", R * D) + p.op(norm, R * D) + p.gemm(outputs, s.head.N, s.head.K) +
                  p.op("argmax", R * static_cast<double>(s.vocab_local)) + p.op("pick", R * s.tp)) *
                 k.at(outputs);
    r.comm += ring_all_gather_s(tp_link, s.tp, R * 2 * 4);
  }
  // The waits for the slowest tensor-parallel peer at each block's all_reduce (Profile::sync).
  r.comm += (p.sync(s.tp, T) - 1) * r.compute;
  if (s.tp > 1 && k.cpu > 1) {
    const double n = 2.0 * static_cast<double>(layers) + (embed ? 1 : 0) + (outputs > 0 ? 1 : 0);
    r.comm += 0.5 * n * std::min(k.spin_s, r.compute / n * (1 - 1 / k.cpu));
  }
  return r;
}

double Contention::at(int64_t rows) const { return cpu * by_rows(mem_decode, mem_prefill, rows); }

namespace {

// Message and signal ids: kind, prompt/step, micro-batch or chunk, peer.
int64_t mid(int kind, int64_t a, int64_t b, int64_t c = 0) { return (int64_t{kind} << 56) | (a << 32) | (b << 12) | c; }
enum { kAct = 1, kTok, kBcast, kSyncMsg, kStart, kReady, kDone, kRing };
enum Marks : int64_t { kTtftMark = 1, kEndMark = 2 };

struct Ctx {
  const ModelConfig& c;
  const Profile& p;
  const Cluster& cl;
  const PerfLayout& l;
  const Workload& w;
  StageShapes shapes;
  std::vector<StageRange> parts;
  std::vector<Link> tp_link;            // per stage
  std::vector<Contention> k[2];         // per phase (0 prefill, 1 decode) and stage
  double comm[2] = {0, 0};              // stage 0's tensor-parallel communication per phase
  WaitModel wait;                       // how the ranks' waits end (crowded hosts sleep sooner)
  int rank(int stage) const { return stage * l.tp; }
  int machine(int r) const { return cl.machine_of(cl.host_of(r)); }  // ranks of one machine share its cores
  Link pp_link(int s, int t) const { return cl.link(rank(s), rank(t)); }
  double pp_share(int s, int t) const {
    return cl.host_of(rank(s)) == cl.host_of(rank(t)) ? 1.0 : static_cast<double>(l.tp);
  }
  void reset_counts() { comm[0] = comm[1] = 0; }
  // A step of stage s in `phase` (the whole model with embedding and head when whole_model): its seconds.
  double step(int phase, int s, const std::vector<std::pair<int64_t, int64_t>>& segs, int64_t outputs,
              bool whole_model = false) {
    const StageRange& r = parts[static_cast<size_t>(s)];
    const StepSeconds t = step_seconds(p, c, shapes, segs, whole_model ? c.n_layers : r.last - r.first,
                                       whole_model || s == 0, outputs, tp_link[static_cast<size_t>(s)],
                                       k[phase][static_cast<size_t>(s)]);
    if (s == 0) comm[phase] += t.comm;
    return t.total();
  }
  // Contention of every stage in `phase`: while stage s computes, how many ranks of its machine compute too (its own
  // tensor-parallel peers always; another stage for the part of s's compute its compute overlaps in the replay) and,
  // for the cores, how many spin at the start of a wait (Sim's WaitModel) meanwhile.
  void update_contention(int phase, const Sim& sim) {
    const double kSpin = sim.wait_model().spin_s;
    auto iv = [&](int a, bool spin) {
      std::vector<Sim::Interval> out, all;
      for (const Sim::Interval& i : sim.intervals(a))
        if (i.tag == phase) all.push_back(i);
      if (!spin) return all;
      for (size_t i = 0; i + 1 < all.size(); ++i)
        out.push_back({all[i].t1, std::min(all[i + 1].t0, all[i].t1 + kSpin), phase});
      return out;
    };
    auto overlap = [](const std::vector<Sim::Interval>& a, const std::vector<Sim::Interval>& b) {
      double o = 0;
      for (size_t i = 0, j = 0; i < a.size() && j < b.size();) {
        o += std::max(0.0, std::min(a[i].t1, b[j].t1) - std::max(a[i].t0, b[j].t0));
        if (a[i].t1 < b[j].t1) ++i; else ++j;
      }
      return o;
    };
    std::vector<std::vector<Sim::Interval>> comp, spin;
    for (int s = 0; s < l.pp; ++s) comp.push_back(iv(s, false)), spin.push_back(iv(s, true));
    for (int s = 0; s < l.pp; ++s) {
      const int m = machine(rank(s));
      double own = 0;
      for (const Sim::Interval& i : comp[static_cast<size_t>(s)]) own += i.t1 - i.t0;
      double mem = 0, cpu = 0;
      for (int t = 0; t < l.pp; ++t) {
        int n = 0;
        for (int j = 0; j < l.tp; ++j) n += machine(rank(t) + j) == m;
        if (t == s || own <= 0) {
          mem += n, cpu += n;
          continue;
        }
        const double oc = overlap(comp[static_cast<size_t>(s)], comp[static_cast<size_t>(t)]) / own;
        const double os = overlap(comp[static_cast<size_t>(s)], spin[static_cast<size_t>(t)]) / own;
        mem += n * oc, cpu += n * (oc + os);
      }
      set_contention(phase, s, mem, cpu);
    }
  }
  void set_contention(int phase, int s, double mem, double cpu) {
    const HostSpec& hs = cl.hosts[static_cast<size_t>(cl.host_of(rank(s)))];
    Contention& kk = k[phase][static_cast<size_t>(s)];
    if (hs.devices > 0) {
      kk = {};
      return;
    }
    const double cores = std::max(hs.cores, 1);
    kk.cpu = std::max(1.0, cpu * p.threads / cores);
    kk.spin_s = WaitModel{}.spin_s;
    kk.mem_decode = p.contention(std::min(mem, cores), true);
    kk.mem_prefill = p.contention(std::min(mem, cores), false);
  }
};

// The step loop of Engine::step_loop from `first_step` (0: with the prefill) for M micro-batches over the stages.
void build_step_loop(Ctx& x, Sim& sim, int first_step, int M) {
  const int pp = x.l.pp, last = pp - 1;
  const int64_t B = x.w.batch, L = x.w.prompt_len, S = x.w.max_output - 1;
  const int buffers = x.l.sp_chunk > 0 ? 2 : std::max(x.l.micro_batches, 1);
  std::vector<int64_t> n(static_cast<size_t>(M), 0);
  for (int64_t b = 0; b < B; ++b) ++n[static_cast<size_t>(b % M)];
  const double D4 = static_cast<double>(x.c.hidden) * 4;
  for (int s = 0; s < pp; ++s) {
    std::vector<int64_t> pending(static_cast<size_t>(buffers), -1);
    for (int64_t step = first_step; step <= S + 1; ++step) {
      for (int m = 0; m < M; ++m) {
        const int64_t nm = n[static_cast<size_t>(m)];
        if (s != last && step > first_step) {
          sim.recv(s, last, mid(kTok, step - 1, m));
          if (step == 1 && first_step == 0) sim.mark(s, kTtftMark);
        }
        if (step > S) continue;
        const size_t b = static_cast<size_t>(m % buffers);
        if (pending[b] >= 0) sim.wait_send(s, s + 1, pending[b]);
        pending[b] = -1;
        const int64_t rows = step == 0 ? nm * L : nm;
        if (s != 0) sim.recv(s, s - 1, mid(kAct, step, m));
        std::vector<std::pair<int64_t, int64_t>> segs;
        for (int64_t i = 0; i < nm; ++i) segs.emplace_back(step == 0 ? 0 : L + step - 1, step == 0 ? L : 1);
        const int ph = step == 0 ? 0 : 1;
        sim.compute(s, x.step(ph, s, segs, s == last ? nm : 0), ph);
        if (s != last) {
          pending[b] = mid(kAct, step, m);
          sim.isend(s, s + 1, pending[b], static_cast<double>(rows) * D4, x.pp_link(s, s + 1), x.pp_share(s, s + 1));
        } else {
          for (int q = 0; q < last; ++q) sim.send(s, q, mid(kTok, step, m), static_cast<double>(nm) * 4, x.pp_link(s, q));
        }
      }
      if (step == 0 && s == last) sim.mark(s, kTtftMark);
    }
    for (size_t b = 0; b < pending.size(); ++b)
      if (pending[b] >= 0) sim.wait_send(s, s + 1, pending[b]);
    sim.mark(s, kEndMark);
  }
}

// Engine::prefill_chunked for every prompt in turn, with the KV-sync threads (actors pp..2pp-1).
void build_sp_prefill(Ctx& x, Sim& sim) {
  const int N = x.l.pp, last = N - 1;
  const int64_t B = x.w.batch, L = x.w.prompt_len, C = x.l.sp_chunk, nc = (L + C - 1) / C;
  const bool sync = x.l.kv_sync != KvSyncKind::None;
  const double D4 = static_cast<double>(x.c.hidden) * 4;
  // Stage q's KV block: one message per layer for K and one for V (KvSync::post), parts of block / msgs(q) bytes.
  auto msgs = [&](int q) {
    const StageRange& r = x.parts[static_cast<size_t>(q)];
    return static_cast<int>(2 * (r.last - r.first));
  };
  auto block = [&](int q) { return static_cast<double>(msgs(q)) * L * x.shapes.hk * x.c.head_dim * 4; };
  auto host_ranks = [&](int q) { return x.cl.hosts[static_cast<size_t>(x.cl.host_of(q))].ranks; };
  for (int64_t b = 0; b < B; ++b) {
    for (int s = 0; s < N; ++s) {
      std::vector<int64_t> pending(2, -1);
      if (sync) sim.signal(s, mid(kStart, b, s));
      for (int64_t c = 0; c < nc; ++c) {
        const size_t buf = static_cast<size_t>(c % 2);
        if (pending[buf] >= 0) sim.wait_send(s, s + 1, pending[buf]);
        pending[buf] = -1;
        if (s != 0) sim.recv(s, s - 1, mid(kAct, b, c));
        const int64_t len = std::min(C, L - c * C);
        sim.compute(s, x.step(0, s, {{c * C, len}}, s == last && c == nc - 1 ? 1 : 0), 0);
        if (s != last) {
          pending[buf] = mid(kAct, b, c);
          sim.isend(s, s + 1, pending[buf], static_cast<double>(len) * D4, x.pp_link(s, s + 1), x.pp_share(s, s + 1));
        }
      }
      if (sync) sim.signal(s, mid(kReady, b, s));
      for (size_t i = 0; i < 2; ++i)
        if (pending[i] >= 0) sim.wait_send(s, s + 1, pending[i]);
      if (s == last)
        for (int q = 0; q < last; ++q) sim.send(s, q, mid(kBcast, b, 0), 4, x.pp_link(s, q));
      else
        sim.recv(s, last, mid(kBcast, b, 0));
      if (sync) sim.wait_signal(s, mid(kDone, b, s));
    }
    if (!sync) continue;
    for (int s = 0; s < N; ++s) {  // the sync thread of stage s: actor N + s
      const int a = N + s;
      sim.wait_signal(a, mid(kStart, b, s));
      if (x.l.kv_sync == KvSyncKind::Pairwise) {
        for (int q = 0; q < N; ++q)
          if (q != s) sim.irecv(a, N + q, mid(kSyncMsg, b, q, s));
        sim.wait_signal(a, mid(kReady, b, s));
        for (int q = 0; q < N; ++q) {
          if (q == s) continue;
          const bool cross = x.cl.host_of(q) != x.cl.host_of(s);
          const double share = cross ? std::max<double>(N - 1, host_ranks(s) * (N - host_ranks(s))) : N - 1;
          sim.isend(a, N + q, mid(kSyncMsg, b, s, q), block(s), x.cl.link(s, q), share, msgs(s));
        }
        for (int q = 0; q < N; ++q)
          if (q != s) sim.wait_send(a, N + q, mid(kSyncMsg, b, s, q)), sim.wait_recv(a, N + q, mid(kSyncMsg, b, q, s));
      } else {
        const int next = (s + 1) % N, prev = (s + N - 1) % N;
        sim.wait_signal(a, mid(kReady, b, s));
        for (int r = 0; r < N - 1; ++r) {
          const int send_q = (s - r + N) % N;
          sim.irecv(a, N + prev, mid(kRing, b, r, prev));
          sim.isend(a, N + next, mid(kRing, b, r, s), block(send_q), x.cl.link(s, next), 1, msgs(send_q));
          sim.wait_recv(a, N + prev, mid(kRing, b, r, prev));
          sim.wait_send(a, N + next, mid(kRing, b, r, s));
        }
      }
      sim.signal(a, mid(kDone, b, s));
    }
  }
  for (int s = 0; s < N; ++s) sim.mark(s, kTtftMark);
}

// The waits of dist::Backoff: on a machine whose ranks outnumber its cores (dist::set_wait_yield_at_once) a wait sleeps
// after yield_crowded, its sleeps up to max_sleep_crowded (ending about half of one late); elsewhere after `yield`.
WaitModel wait_model(const Cluster& cl, int threads) {
  using std::chrono::duration;
  const dist::BackoffPolicy b;
  WaitModel w;
  for (size_t i = 0; i < cl.hosts.size(); ++i)
    if (const HostSpec& h = cl.hosts[i]; h.devices == 0 && cl.machine_ranks(static_cast<int>(i)) * threads > h.cores) {
      w.sleep_after_s = duration<double>(b.sleep_after(true)).count();
      w.wake_s = duration<double>(b.longest_sleep(true)).count() / 2;
    }
  return w;
}

}  // namespace

Prediction predict(const ModelConfig& c, const Profile& p, const Cluster& cl, const PerfLayout& l, const Workload& w) {
  check_layout(c, cl, l, w);
  Ctx x{c, p, cl, l, w, stage_shapes(c, l.tp), make_partition(c, l.pp, l.partition, l.weight_dtype), {}, {}, {}, {}};
  for (int s = 0; s < l.pp; ++s) {
    const int h = cl.host_of(x.rank(s));
    bool one_host = true;
    for (int t = 1; t < l.tp; ++t) one_host = one_host && cl.host_of(x.rank(s) + t) == h;
    x.tp_link.push_back(one_host ? cl.intra_link(h) : cl.inter);
  }
  for (auto& k : x.k) k.assign(static_cast<size_t>(l.pp), Contention{});
  x.wait = wait_model(cl, p.threads);
  Prediction out;
  const int64_t S = w.max_output - 1;
  const bool sp = l.sp_chunk > 0, sync = sp && l.kv_sync != KvSyncKind::None;
  // Contention depends on how busy the other ranks are, which depends on the contention: a few rounds settle it.
  for (int round = 0; round < 4; ++round) {
    x.reset_counts();
    if (sp) {
      Sim sim(x.wait);
      for (int s = 0; s < 2 * l.pp; ++s) sim.add_actor();  // the stages, then their KV-sync threads
      build_sp_prefill(x, sim);
      sim.run();
      out.ttft_s = sim.mark_time(0, kTtftMark);
      x.update_contention(0, sim);
      if (sync) {  // redundant decode: the whole model on every rank at once, no communication
        double ranks0 = 0;
        for (int r = 0; r < cl.world(); ++r) ranks0 += x.machine(r) == x.machine(0);
        x.set_contention(1, 0, ranks0, ranks0);
        double t = 0;
        for (int64_t step = 1; step <= S; ++step) {
          std::vector<std::pair<int64_t, int64_t>> segs(static_cast<size_t>(w.batch), {w.prompt_len + step - 1, 1});
          t += x.step(1, 0, segs, w.batch, true);
        }
        out.tpot_s = S > 0 ? t / S : 0;
      } else {
        Sim dec(x.wait);
        for (int s = 0; s < l.pp; ++s) dec.add_actor();
        build_step_loop(x, dec, 1, 1);
        dec.run();
        out.tpot_s = S > 0 ? dec.mark_time(0, kEndMark) / S : 0;
        x.update_contention(1, dec);
      }
    } else {
      Sim sim(x.wait);
      for (int s = 0; s < l.pp; ++s) sim.add_actor();
      build_step_loop(x, sim, 0, static_cast<int>(std::min<int64_t>(l.micro_batches, w.batch)));
      sim.run();
      out.ttft_s = sim.mark_time(0, kTtftMark);
      out.tpot_s = S > 0 ? (sim.mark_time(0, kEndMark) - out.ttft_s) / S : 0;
      x.update_contention(0, sim);
      x.update_contention(1, sim);
    }
  }
  out.prefill_comm_s = x.comm[0];
  out.decode_comm_s = x.comm[1];
  out.tokens_per_s = out.tpot_s > 0 ? w.batch / out.tpot_s : w.batch / std::max(out.ttft_s, 1e-12);
  for (int r = 0; r < cl.world(); ++r) {
    Memory m = memory_per_rank(c, l, w, r);
    const double limit = cl.memory_per_rank(r);
    if (m.total() > out.memory.total()) out.memory = m, out.largest_rank = r;
    if (m.total() > limit) out.fits = false;
  }
  out.memory_limit = cl.memory_per_rank(out.largest_rank);
  return out;
}

}  // namespace autodist::perf
