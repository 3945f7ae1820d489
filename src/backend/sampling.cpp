#include "backend/sampling.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace autodist {

void SamplingOptions::validate() const {
  AD_CHECK(temperature >= 0.0f && std::isfinite(temperature), "--temperature must be >= 0, got {}", temperature);
  AD_CHECK(top_k >= 0, "--top-k must be >= 0, got {}", top_k);
  AD_CHECK(top_p > 0.0f && top_p <= 1.0f, "--top-p must be in (0, 1], got {}", top_p);
}

namespace {
uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
}  // namespace

double sample_uniform(uint64_t seed, int64_t position) {
  uint64_t h = splitmix64(splitmix64(seed) ^ static_cast<uint64_t>(position));
  return static_cast<double>(h >> 11) * 0x1.0p-53;
}

void RowSampler::candidates(const float* logits, int64_t V, const SamplingOptions& o) {
  c_.clear();
  for (int64_t i = 0; i < V; ++i)
    if (logits[i] > -INFINITY) c_.emplace_back(logits[i], static_cast<int32_t>(i));
  auto by_logit = [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  size_t k = (o.top_k > 0 && static_cast<size_t>(o.top_k) < c_.size()) ? static_cast<size_t>(o.top_k) : c_.size();
  std::partial_sort(c_.begin(), c_.begin() + static_cast<std::ptrdiff_t>(k), c_.end(), by_logit);
  c_.resize(k);
  if (c_.empty()) return;
  // In double, from the differences to the largest logit: (l - max) / T is <= 0 and exp() of it cannot overflow.
  const double mx = c_[0].first, t = o.temperature;
  double sum = 0;
  for (auto& [p, i] : c_) sum += (p = static_cast<float>(std::exp((p - mx) / t)));
  for (auto& [p, i] : c_) p = static_cast<float>(p / sum);
  if (o.top_p < 1.0f) {
    // Keep the smallest prefix whose mass reaches top_p (always at least one token), as HF does.
    double cum = 0;
    size_t keep = 0;
    while (keep < c_.size()) {
      cum += c_[keep].first;
      ++keep;
      if (cum >= o.top_p) break;
    }
    c_.resize(keep);
    double s2 = 0;
    for (auto& [p, i] : c_) s2 += p;
    for (auto& [p, i] : c_) p = static_cast<float>(p / s2);
  }
}

int32_t RowSampler::sample(float* logits, int64_t V, const SamplingOptions& o, double u, const int32_t* banned,
                           int64_t n_banned) {
  for (int64_t i = 0; i < V; ++i)
    if (!std::isfinite(logits[i])) return kBadLogits;
  for (int64_t j = 0; j < n_banned; ++j)
    if (banned[j] >= 0 && banned[j] < V) logits[banned[j]] = -INFINITY;
  if (o.greedy()) {
    int64_t best = 0;
    for (int64_t i = 1; i < V; ++i)
      if (logits[i] > logits[best]) best = i;
    return static_cast<int32_t>(best);
  }
  candidates(logits, V, o);
  AD_CHECK(!c_.empty(), "sampler: every token is excluded");
  double cum = 0;
  for (auto& [p, i] : c_) {
    cum += p;
    if (u < cum) return i;
  }
  return c_.back().second;
}

std::vector<int32_t> RowSampler::support(const float* logits, int64_t V, const SamplingOptions& o) {
  candidates(logits, V, o);
  std::vector<int32_t> ids;
  for (auto& [p, i] : c_) ids.push_back(i);
  return ids;
}

}  // namespace autodist
