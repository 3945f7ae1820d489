// defines: SamplingOptions, Sampler (greedy, temperature, top-k, top-p; seeded per sequence)
#pragma once
#include <cstdint>
#include <random>
#include <vector>

namespace autodist {

struct SamplingOptions {
  float temperature = 0.0f;  // 0: greedy
  int64_t top_k = 0;         // 0: off
  float top_p = 1.0f;        // 1: off
  uint64_t seed = 1234;
  bool greedy() const { return temperature <= 0.0f; }
  void validate() const;
};

// One per sequence, so a sequence samples the same tokens alone or inside a batch.
class Sampler {
 public:
  explicit Sampler(const SamplingOptions& o) : o_(o), rng_(o.seed) {}
  // logits[V] (modified in place); tokens in `banned` are never returned.
  int32_t sample(float* logits, int64_t V, const std::vector<int64_t>& banned = {});
  // The tokens sample() may return for these logits (probability > 0 after top-k/top-p), for tests.
  std::vector<int32_t> support(const float* logits, int64_t V) const;

 private:
  // Candidates sorted by logit (desc), cut by top-k and top-p; probabilities normalised.
  void candidates(const float* logits, int64_t V, std::vector<std::pair<float, int32_t>>& out) const;
  SamplingOptions o_;
  std::mt19937_64 rng_;
};

}  // namespace autodist
