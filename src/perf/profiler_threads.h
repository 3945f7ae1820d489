// defines: filled, ContentionSampler, sync_slowdown (the profile's measurements of ranks computing at once, with
//          threads: perf/profiler.cpp's parts)
#pragma once
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "backend/backend.h"
#include "core/dtype.h"
#include "io/model_config.h"

namespace autodist::perf {

// Buffer of `shape` in dtype, filled with small values (f32: uniform +-0.05; half types: one small constant).
Buffer filled(Backend& be, DType t, Shape s, std::mt19937& rng);

// Slowdown of k threads (k = 1 .. hardware threads) each running the tp-1 layer GEMMs at M rows on its own weights
// (128 MiB of them: from memory, as a step reads them), against one alone: what ranks sharing a host's memory and
// caches cost each other. Sampled in bursts (sample()) spread over the profile: on the 2-core VM two threads, or two
// engine processes, cost each other ~1.0 for a while, then ~1.2 (alone rounds unchanged: the hypervisor's placement
// of the VM's cores, not the ranks' own contention).
class ContentionSampler {
 public:
  // Allocates every thread's weights: one sampler for all the row counts.
  ContentionSampler(Backend& be, const ModelConfig& c, DType t, std::vector<int64_t> rows, std::mt19937& rng);
  ~ContentionSampler();
  // About `seconds` of rounds, shared by the row counts and k: k threads at once between two rounds alone.
  void sample(double seconds);
  // For rows[m], index k-1: the fastest twentieth of (k at once / the mean of the alone rounds either side), at least
  // 1; 1 at k = 1. The least disturbed state, as the kernels' fastest times and `bench`'s best run: in four
  // validation runs the engine's concurrent decodes took 0.88-1.12 of their one-at-a-time counterparts while the
  // quartile of these rounds said 1.16-1.27.
  std::vector<double> factors(size_t m) const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// What tensor-parallel ranks lose waiting for the slowest at each block's all_reduce, as a factor on their compute,
// for k = 1 .. min(hardware threads, max_tp) ranks (index k-1; 1 at k = 1).
std::vector<double> sync_slowdown(Backend& be, const ModelConfig& c, DType t, int64_t M, int max_tp,
                                  std::mt19937& rng);

}  // namespace autodist::perf
