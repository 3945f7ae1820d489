#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace autodist {

void SamplingOptions::validate() const {
  AD_CHECK(temperature >= 0.0f && std::isfinite(temperature), "--temperature must be >= 0, got {}", temperature);
  AD_CHECK(top_k >= 0, "--top-k must be >= 0, got {}", top_k);
  AD_CHECK(top_p > 0.0f && top_p <= 1.0f, "--top-p must be in (0, 1], got {}", top_p);
}

void Sampler::candidates(const float* logits, int64_t V, std::vector<std::pair<float, int32_t>>& c) const {
  c.clear();
  for (int64_t i = 0; i < V; ++i)
    if (logits[i] > -INFINITY) c.emplace_back(logits[i] / o_.temperature, static_cast<int32_t>(i));
  auto by_logit = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
  size_t k = (o_.top_k > 0 && static_cast<size_t>(o_.top_k) < c.size()) ? static_cast<size_t>(o_.top_k) : c.size();
  std::partial_sort(c.begin(), c.begin() + static_cast<std::ptrdiff_t>(k), c.end(), by_logit);
  c.resize(k);
  if (c.empty()) return;
  float mx = c[0].first;
  double sum = 0;
  for (auto& [p, i] : c) sum += (p = std::exp(p - mx));
  for (auto& [p, i] : c) p = static_cast<float>(p / sum);
  if (o_.top_p < 1.0f) {
    // Keep the smallest prefix whose mass reaches top_p (always at least one token), as HF does.
    double cum = 0;
    size_t keep = 0;
    while (keep < c.size()) {
      cum += c[keep].first;
      ++keep;
      if (cum >= o_.top_p) break;
    }
    c.resize(keep);
    double s2 = 0;
    for (auto& [p, i] : c) s2 += p;
    for (auto& [p, i] : c) p = static_cast<float>(p / s2);
  }
}

int32_t Sampler::sample(float* logits, int64_t V, const std::vector<int64_t>& banned) {
  for (int64_t b : banned)
    if (b >= 0 && b < V) logits[b] = -INFINITY;
  if (o_.greedy()) {
    int64_t best = 0;
    for (int64_t i = 1; i < V; ++i)
      if (logits[i] > logits[best]) best = i;
    return static_cast<int32_t>(best);
  }
  std::vector<std::pair<float, int32_t>> c;
  candidates(logits, V, c);
  AD_CHECK(!c.empty(), "sampler: every token is excluded");
  double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng_), cum = 0;
  for (auto& [p, i] : c) {
    cum += p;
    if (u < cum) return i;
  }
  return c.back().second;
}

std::vector<int32_t> Sampler::support(const float* logits, int64_t V) const {
  std::vector<std::pair<float, int32_t>> c;
  candidates(logits, V, c);
  std::vector<int32_t> ids;
  for (auto& [p, i] : c) ids.push_back(i);
  return ids;
}

}  // namespace autodist
