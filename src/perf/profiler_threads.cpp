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

std::vector<double> concurrent_slowdown(Backend& be, const ModelConfig& c, DType t, int64_t M, std::mt19937& rng) {
  const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  const StageShapes s = stage_shapes(c, 1);
  struct Work {
    std::vector<Buffer> w;
    Buffer x, y;
  };
  std::vector<Work> work(static_cast<size_t>(cores));
  int64_t most = 0;
  for (const GemmShape& g : {s.qkv, s.o, s.mlp_in, s.down}) most = std::max({most, g.N, g.K});
  for (auto& wk : work) {
    for (const GemmShape& g : {s.qkv, s.o, s.mlp_in, s.down}) wk.w.push_back(filled(be, t, {g.N, g.K}, rng));
    wk.x = filled(be, DType::F32, {M, most}, rng);
    wk.y = Buffer(&be, DType::F32, {M, most});
  }
  int rounds = 1;
  auto body = [&](Work& wk) {
    for (int r = 0; r < rounds; ++r)
      for (size_t i = 0; i < wk.w.size(); ++i) {
        const Tensor& w = wk.w[i].t();
        be.gemm(Tensor(wk.x.t().data, DType::F32, {M, w.dim(1)}), w, nullptr,
                Tensor(wk.y.t().data, DType::F32, {M, w.dim(0)}));
      }
  };
  // Rounds of about 20 ms alone: long against a thread's start, short enough that some find a quiet moment on a
  // shared host.
  {
    const int64_t t0 = now_ns();
    body(work[0]);
    rounds = static_cast<int>(std::clamp(0.02 / std::max((now_ns() - t0) * 1e-9, 1e-9), 1.0, 1000.0));
  }
  // Each thread times itself from a common start (a spin barrier: threads started one after another overlapped only
  // in part, and the least disturbed round was then the one that overlapped least: 1.005 at prefill size, 1.036 from
  // a common start on the 2-core VM). A round takes as long as its slowest thread; the least disturbed
  // round is the k-at-once time.
  auto timed = [&](int k) {
    double best = 1e30;
    for (int rep = 0; rep < 9; ++rep) {
      std::vector<double> ts(static_cast<size_t>(k));
      std::atomic<int> ready{0};
      auto one = [&](int i) {
        ready.fetch_add(1);
        while (ready.load() < k) std::this_thread::yield();
        const int64_t t0 = now_ns();
        body(work[static_cast<size_t>(i)]);
        ts[static_cast<size_t>(i)] = (now_ns() - t0) * 1e-9;
      };
      std::vector<std::thread> th;
      for (int i = 1; i < k; ++i) th.emplace_back(one, i);
      one(0);
      for (auto& x : th) x.join();
      best = std::min(best, *std::max_element(ts.begin(), ts.end()));
    }
    return best;
  };
  // The least of three independent ratios: other work on a shared host only ever inflates one.
  std::vector<double> f{1.0};
  for (int k = 2; k <= cores; ++k) {
    std::vector<double> r;
    for (int trial = 0; trial < 3; ++trial) {
      const double alone = timed(1);
      r.push_back(std::max(1.0, timed(k) / alone));
    }
    f.push_back(*std::min_element(r.begin(), r.end()));
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
    const GemmShape g4[4] = {s.qkv, s.o, s.mlp_in, s.down};
    double layer_bytes = 0;
    int64_t most = 0;
    for (const GemmShape& g : g4) {
      layer_bytes += static_cast<double>(g.N * g.K) * dtype_size(t);
      most = std::max({most, g.N, g.K});
    }
    const int layers = static_cast<int>(std::clamp(std::ceil(128.0 * (1 << 20) / (k * layer_bytes)), 2.0, 16.0));
    struct Work {
      std::vector<Buffer> w;  // layer l's qkv, o, mlp_in, down at 4 l ..
      Buffer x, y;
    };
    std::vector<Work> work(static_cast<size_t>(k));
    for (auto& wk : work) {
      for (int l = 0; l < layers; ++l)
        for (const GemmShape& g : g4) wk.w.push_back(filled(be, t, {g.N, g.K}, rng));
      wk.x = filled(be, DType::F32, {M, most}, rng);
      wk.y = Buffer(&be, DType::F32, {M, most});
    }
    auto block = [&](Work& wk, int64_t b) {  // block b: layer b / 2's attention GEMMs (b even) or MLP GEMMs (odd)
      const size_t first = 4 * static_cast<size_t>(b / 2 % layers) + 2 * static_cast<size_t>(b % 2);
      for (size_t i = first; i < first + 2; ++i) {
        const Tensor& w = wk.w[i].t();
        be.gemm(Tensor(wk.x.t().data, DType::F32, {M, w.dim(1)}), w, nullptr,
                Tensor(wk.y.t().data, DType::F32, {M, w.dim(0)}));
      }
    };
    int64_t blocks = 2 * layers;
    {
      const int64_t t0 = now_ns();
      for (int64_t b = 0; b < blocks; ++b) block(work[0], b);
      blocks *= static_cast<int64_t>(std::clamp(0.1 / std::max((now_ns() - t0) * 1e-9, 1e-9), 1.0, 1000.0));
    }
    auto run = [&] {
      std::atomic<int64_t> arrived{0};
      std::vector<double> own(static_cast<size_t>(k), 0);
      int64_t wall0 = 0, wall1 = 0;
      auto one = [&](int i) {
        Work& wk = work[static_cast<size_t>(i)];
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
      std::vector<std::thread> th;
      for (int i = 1; i < k; ++i) th.emplace_back(one, i);
      one(0);
      for (auto& x : th) x.join();
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
