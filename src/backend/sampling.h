// defines: SamplingOptions, sample_uniform (the stateless draw of a position), RowSampler (the reference sampler
//          of one row of logits: greedy, temperature, top-k, top-p, banned tokens)
//
// The contract every backend's sample() follows: a row with a NaN or infinite logit gives kBadLogits (the engine
// stops with the step and rank named; a token 0 would be a silent wrong answer); logits of banned tokens become -inf;
// a temperature below kGreedyBelow is argmax (lowest index on ties: logits / T would overflow); otherwise candidates are the tokens sorted by logit / temperature (descending, lower index
// first on ties), cut to the top k, softmax-normalised, cut to the smallest prefix whose mass reaches top_p (at
// least one token) and renormalised; the token is the first candidate whose cumulative probability exceeds
// u = sample_uniform(seed, position of the token). No generator state: a sequence samples the same tokens alone or
// batched, on any backend, and a replayed step needs nothing but its plan.
#pragma once
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace autodist {

// The token of a row whose logits are not all finite (greedy and sampled, every backend).
constexpr int32_t kBadLogits = -1;
// Temperatures below this are greedy (as vLLM's _SAMPLING_EPS): logits / T overflows a float long before T = 0, and
// the softmax of the overflow is NaN, which would pick the least likely token.
constexpr float kGreedyBelow = 1e-5f;

struct SamplingOptions {
  float temperature = 0.0f;  // < kGreedyBelow: greedy
  int64_t top_k = 0;         // 0: off
  float top_p = 1.0f;        // 1: off
  uint64_t seed = 1234;
  bool greedy() const { return temperature < kGreedyBelow; }
  void validate() const;  // throws naming the bad option
};

// A uniform double in [0, 1) from (seed, position): SplitMix64 of both, 53 bits.
double sample_uniform(uint64_t seed, int64_t position);

class RowSampler {
 public:
  // Sizes the scratch for rows of up to V logits (no allocation in sample() afterwards).
  void reserve(int64_t V) { c_.reserve(static_cast<size_t>(V)); }
  // The token for logits[V] (modified: banned entries set to -inf) under o with the draw u; kBadLogits when a logit
  // is NaN or infinite.
  int32_t sample(float* logits, int64_t V, const SamplingOptions& o, double u, const int32_t* banned = nullptr,
                 int64_t n_banned = 0);
  // The tokens sample() may return for these logits (probability > 0 after top-k/top-p), in candidate order.
  std::vector<int32_t> support(const float* logits, int64_t V, const SamplingOptions& o);

 private:
  void candidates(const float* logits, int64_t V, const SamplingOptions& o);  // into c_: (probability, token)
  std::vector<std::pair<float, int32_t>> c_;  // a logit, then its probability (computed in double)
};

}  // namespace autodist
