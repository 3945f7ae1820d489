#include "perf/profiler_threads.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <thread>

#include "core/clock.h"
#include "dist/comm_wait.h"
#include "perf/shapes.h"

namespace autodist::perf {

Buffer filled(Backend& be, DType t, Shape s, std::mt19937& rng) {
  Buffer b(&be, t, s);
  const int64_t n = b.t().numel();
  if (t == DType::F32) {
    std::uniform_real_distribution<float> u(-0.05f, 0.05f);
    std::vector<float> h(static_cast<size_t>(n));
    for (auto& x : h) x = u(rng);
    be.to_device(b.t(), h.data());
  } else if (t == DType::I32) {
    std::vector<int32_t> h(static_cast<size_t>(n), 0);
    be.to_device(b.t(), h.data());
  } else {
    std::vector<uint16_t> h(static_cast<size_t>(n), 0x2C00);  // f16 1/16, bf16 ~7e-12: finite either way
    be.to_device(b.t(), h.data());
  }
  return b;
}

namespace {

// One thread's weights (`shapes`, `copies` times over, in that order) and the rows it multiplies them by.
struct GemmSet {
  std::vector<Buffer> w;
  Buffer x, y;
};

GemmSet gemm_set(Backend& be, DType t, const std::vector<GemmShape>& shapes, int copies, int64_t M,
                 std::mt19937& rng) {
  GemmSet g;
  int64_t most = 0;
  for (const GemmShape& sh : shapes) most = std::max({most, sh.N, sh.K});
  for (int i = 0; i < copies; ++i)
    for (const GemmShape& sh : shapes) g.w.push_back(filled(be, t, {sh.N, sh.K}, rng));
  g.x = filled(be, DType::F32, {M, most}, rng);
  g.y = Buffer(&be, DType::F32, {M, most});
  return g;
}

// y[M, N] = x[M, K] w_i^T.
void run_gemm(Backend& be, GemmSet& g, size_t i, int64_t M) {
  const Tensor& w = g.w[i].t();
  be.gemm(Tensor(g.x.t().data, DType::F32, {M, w.dim(1)}), w, nullptr, Tensor(g.y.t().data, DType::F32, {M, w.dim(0)}));
}

// one(i) for i = 0 .. k-1 at once: i = 0 on this thread, the others on new ones, all joined.
template <typename F>
void on_threads(int k, F&& one) {
  std::vector<std::thread> th;
  for (int i = 1; i < k; ++i) th.emplace_back(one, i);
  one(0);
  for (auto& x : th) x.join();
}

// Layers of `g4` weights (1 .. 16) for `threads` threads to hold at least 128 MiB between them: a step reads every
// weight from memory, and a thread cycling over one layer that fits in the last-level cache would time that cache.
int layers_from_memory(const std::vector<GemmShape>& g4, DType t, int threads) {
  double layer_bytes = 0;
  for (const GemmShape& g : g4) layer_bytes += static_cast<double>(g.N * g.K) * dtype_size(t);
  return static_cast<int>(std::clamp(std::ceil(128.0 * (1 << 20) / (threads * layer_bytes)), 1.0, 16.0));
}

// How many runs of once() take about `seconds` (1 .. 1000), from one timed run.
template <typename F>
int64_t runs_for(double seconds, F&& once) {
  const int64_t t0 = now_ns();
  once();
  return static_cast<int64_t>(std::clamp(seconds / std::max((now_ns() - t0) * 1e-9, 1e-9), 1.0, 1000.0));
}

}  // namespace

struct ContentionSampler::State {
  Backend& be;
  std::vector<int64_t> rows;          // M per measured row count
  std::vector<GemmSet> work;          // per thread
  std::vector<size_t> next;           // per thread: its next weight (calls cycle on across rounds)
  std::vector<int64_t> calls;         // per row count: GEMM calls in a round
  std::vector<std::vector<std::vector<double>>> ratios;  // [row count][k - 2]

  // One round of k threads at rows[m] from a common start (a spin barrier: threads started one after another
  // overlapped only in part), as long as its slowest thread.
  double round(size_t m, int k) {
    std::vector<double> ts(static_cast<size_t>(k));
    std::atomic<int> ready{0};
    auto one = [&](int i) {
      const auto u = static_cast<size_t>(i);
      ready.fetch_add(1);
      while (ready.load() < k) std::this_thread::yield();
      const int64_t t0 = now_ns();
      for (int64_t j = 0; j < calls[m]; ++j, next[u] = (next[u] + 1) % work[u].w.size())
        run_gemm(be, work[u], next[u], rows[m]);
      ts[u] = (now_ns() - t0) * 1e-9;
    };
    on_threads(k, one);
    return *std::max_element(ts.begin(), ts.end());
  }
};

ContentionSampler::ContentionSampler(Backend& be, const ModelConfig& c, DType t, std::vector<int64_t> rows,
                                     std::mt19937& rng)
    : s_(std::make_unique<State>(State{be, std::move(rows), {}, {}, {}, {}})) {
  const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  const StageShapes sh = stage_shapes(c, 1);
  const std::vector<GemmShape> g4 = {sh.qkv, sh.o, sh.mlp_in, sh.down};
  const int64_t most = *std::max_element(s_->rows.begin(), s_->rows.end());
  for (int i = 0; i < cores; ++i) s_->work.push_back(gemm_set(be, t, g4, layers_from_memory(g4, t, 1), most, rng));
  s_->next.assign(static_cast<size_t>(cores), 0);
  for (size_t m = 0; m < s_->rows.size(); ++m) {
    // Rounds of about 20 ms alone (at least one call): long against a thread's start, short against the drift.
    s_->calls.push_back(1);
    const double one = s_->round(m, 1);
    s_->calls[m] = static_cast<int64_t>(std::clamp(0.02 / std::max(one, 1e-9), 1.0, 1e5));
    s_->ratios.emplace_back(static_cast<size_t>(cores - 1));
  }
}

ContentionSampler::~ContentionSampler() = default;

void ContentionSampler::sample(double seconds) {
  const size_t n = s_->rows.size() * s_->ratios[0].size();
  if (n == 0) return;
  const double each = seconds / static_cast<double>(n);
  for (size_t m = 0; m < s_->rows.size(); ++m)
    for (size_t kk = 0; kk < s_->ratios[m].size(); ++kk) {
      // k at once between two alone rounds, against their mean: the alone time drifts too.
      const int64_t until = now_ns() + static_cast<int64_t>(each * 1e9);
      for (double a0 = s_->round(m, 1); ;) {
        const double tk = s_->round(m, static_cast<int>(kk) + 2), a1 = s_->round(m, 1);
        s_->ratios[m][kk].push_back(tk / (0.5 * (a0 + a1)));
        a0 = a1;
        if (now_ns() >= until) break;
      }
    }
}

std::vector<double> ContentionSampler::factors(size_t m) const {
  std::vector<double> f{1.0};
  for (std::vector<double> r : s_->ratios[m]) {
    std::sort(r.begin(), r.end());
    f.push_back(r.empty() ? 1.0 : std::max(1.0, r[r.size() / 20]));
  }
  return f;
}

// Tensor-parallel ranks meet at an all_reduce after every attention and MLP block, so each block ends when its
// slowest rank ends it. For k = 2 .. min(hardware threads, max_tp) (the model's valid tps): k threads each run the
// tp-k shards of a layer's GEMMs at M rows on their own weights (k x layers of them at least 128 MiB: from memory, as
// a step reads them), a block at a time, and meet after each at a barrier whose waits are dist::Backoff's (as the
// communicator's). The factor is the time from the first block's start to the last block's end over the mean time a
// thread spent in its blocks: what the waits for the slowest rank add to a rank's compute. The median of three runs of
// about 100 ms: these waits are the machine's ordinary disturbances, not its rare ones.
std::vector<double> sync_slowdown(Backend& be, const ModelConfig& c, DType t, int64_t M, int max_tp,
                                  std::mt19937& rng) {
  const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  const std::vector<int> tps = valid_tps(c, std::min(cores, max_tp));
  std::vector<double> f{1.0};
  for (int k = 2; k <= std::min(cores, max_tp); ++k) {
    if (std::find(tps.begin(), tps.end(), k) == tps.end()) {  // not a valid tp: never asked for
      f.push_back(f.back());
      continue;
    }
    const StageShapes s = stage_shapes(c, k);
    const std::vector<GemmShape> g4 = {s.qkv, s.o, s.mlp_in, s.down};
    const int layers = std::max(2, layers_from_memory(g4, t, k));
    std::vector<GemmSet> work;  // layer l's qkv, o, mlp_in, down at 4 l ..
    for (int i = 0; i < k; ++i) work.push_back(gemm_set(be, t, g4, layers, M, rng));
    auto block = [&](GemmSet& g, int64_t b) {  // block b: layer b / 2's attention GEMMs (b even) or MLP GEMMs (odd)
      const size_t first = 4 * static_cast<size_t>(b / 2 % layers) + 2 * static_cast<size_t>(b % 2);
      run_gemm(be, g, first, M);
      run_gemm(be, g, first + 1, M);
    };
    const int64_t blocks = 2 * layers * runs_for(0.1, [&] {
      for (int64_t b = 0; b < 2 * layers; ++b) block(work[0], b);
    });
    auto run = [&] {
      std::atomic<int64_t> arrived{0};
      std::vector<double> own(static_cast<size_t>(k), 0);
      int64_t wall0 = 0, wall1 = 0;
      auto one = [&](int i) {
        GemmSet& wk = work[static_cast<size_t>(i)];
        arrived.fetch_add(1);
        while (arrived.load() < k) std::this_thread::yield();
        if (i == 0) wall0 = now_ns();
        for (int64_t b = 0; b < blocks; ++b) {
          const int64_t t0 = now_ns();
          block(wk, b);
          own[static_cast<size_t>(i)] += (now_ns() - t0) * 1e-9;
          arrived.fetch_add(1);
          dist::Backoff wait;
          while (arrived.load() < k * (b + 2)) wait.pause();  // everyone's block b is done
        }
        if (i == 0) wall1 = now_ns();
      };
      on_threads(k, one);
      double mean = 0;
      for (double o : own) mean += o / k;
      return mean > 0 ? std::max(1.0, (wall1 - wall0) * 1e-9 / mean) : 1.0;
    };
    double r[3] = {run(), run(), run()};
    std::sort(r, r + 3);
    f.push_back(r[1]);
  }
  return f;
}

}  // namespace autodist::perf
