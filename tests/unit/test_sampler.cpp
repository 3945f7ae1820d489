#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include "core/error.h"
#include "backend/sampling.h"

using namespace autodist;

namespace {
std::vector<float> random_logits(int n, uint32_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0, 2);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}
}  // namespace

// Draws u for the i-th trial the way the backends do: a different position per draw.
static double u_of(int i, uint64_t seed = 1234) { return sample_uniform(seed, i); }

TEST_CASE("greedy picks the first maximum and respects banned tokens") {
  RowSampler s;
  SamplingOptions o;
  std::vector<float> l = {0.1f, 3.0f, 3.0f, -1.0f};
  CHECK(s.sample(l.data(), 4, o, 0.5) == 1);
  l = {0.1f, 3.0f, 3.0f, -1.0f};
  const int32_t ban[] = {1, 77};  // ids beyond the row are ignored
  CHECK(s.sample(l.data(), 4, o, 0.5, ban, 2) == 2);
}

TEST_CASE("sample_uniform: between 0 and 1, a function of (seed, position) only, and spread evenly") {
  double sum = 0, lo = 1, hi = 0;
  const int N = 20000;
  for (int i = 0; i < N; ++i) {
    double u = sample_uniform(7, i);
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
    sum += u;
    lo = std::min(lo, u);
    hi = std::max(hi, u);
  }
  CHECK(sum / N == doctest::Approx(0.5).epsilon(0.02));
  CHECK(lo < 0.001);
  CHECK(hi > 0.999);
  CHECK(sample_uniform(7, 5) == sample_uniform(7, 5));
  CHECK(sample_uniform(7, 5) != sample_uniform(7, 6));
  CHECK(sample_uniform(7, 5) != sample_uniform(8, 5));
}

TEST_CASE("top-k never emits tokens outside the k largest") {
  auto base = random_logits(200, 1);
  std::vector<int> order(200);
  for (int i = 0; i < 200; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](int a, int b) { return base[a] > base[b]; });
  std::set<int> topk(order.begin(), order.begin() + 5);
  SamplingOptions o;
  o.temperature = 1.5f;
  o.top_k = 5;
  RowSampler s;
  std::set<int> seen;
  for (int i = 0; i < 3000; ++i) {
    auto l = base;
    int t = s.sample(l.data(), 200, o, u_of(i));
    REQUIRE(topk.count(t) == 1);
    seen.insert(t);
  }
  CHECK(seen.size() == 5);  // and every one of them appears
}

TEST_CASE("top-p keeps the smallest prefix reaching p") {
  std::vector<float> l = {std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)};
  SamplingOptions o;
  o.temperature = 1.0f;
  o.top_p = 0.75f;
  RowSampler s;
  auto sup = s.support(l.data(), 4, o);
  CHECK(sup == std::vector<int32_t>{0, 1});  // 0.5 + 0.3 >= 0.75
  int counts[4] = {0, 0, 0, 0};
  for (int i = 0; i < 8000; ++i) {
    auto x = l;
    counts[s.sample(x.data(), 4, o, u_of(i))]++;
  }
  CHECK(counts[2] == 0);
  CHECK(counts[3] == 0);
  CHECK(counts[0] / 8000.0 == doctest::Approx(0.5 / 0.8).epsilon(0.05));
}

TEST_CASE("temperature sampling matches softmax frequencies") {
  std::vector<float> l = {0.0f, 1.0f, 2.0f};
  SamplingOptions o;
  o.temperature = 1.0f;
  RowSampler s;
  double z = 1 + std::exp(1.0) + std::exp(2.0);
  int counts[3] = {0, 0, 0};
  const int N = 20000;
  for (int i = 0; i < N; ++i) {
    auto x = l;
    counts[s.sample(x.data(), 3, o, u_of(i))]++;
  }
  CHECK(counts[2] / double(N) == doctest::Approx(std::exp(2.0) / z).epsilon(0.03));
  CHECK(counts[0] / double(N) == doctest::Approx(1.0 / z).epsilon(0.1));
}

TEST_CASE("a fixed seed repeats; another seed differs") {
  auto base = random_logits(1000, 3);
  auto run = [&](uint64_t seed) {
    SamplingOptions o;
    o.temperature = 1.0f;
    o.seed = seed;
    RowSampler s;
    std::vector<int> out;
    for (int i = 0; i < 50; ++i) {
      auto l = base;
      out.push_back(s.sample(l.data(), 1000, o, sample_uniform(o.seed, i)));
    }
    return out;
  };
  CHECK(run(42) == run(42));
  CHECK(run(42) != run(43));
}

TEST_CASE("bad sampling options") {
  SamplingOptions o;
  o.top_p = 0;
  CHECK_THROWS_AS(o.validate(), Error);
  o.top_p = 1;
  o.temperature = -1;
  CHECK_THROWS_AS(o.validate(), Error);
  o.temperature = NAN;
  CHECK_THROWS_WITH_AS(o.validate(), doctest::Contains("--temperature must be >= 0, got nan"), Error);
  o.temperature = INFINITY;
  CHECK_THROWS_AS(o.validate(), Error);
}

TEST_CASE("NaN or infinite logits give kBadLogits, greedy and sampled, never token 0") {
  RowSampler s;
  SamplingOptions greedy, sampled;
  sampled.temperature = 0.7f;
  sampled.top_k = 3;
  for (float bad : {NAN, INFINITY, -INFINITY})
    for (int at : {0, 2, 4}) {
      std::vector<float> l = {0.5f, 1.0f, 2.0f, -1.0f, 0.0f};
      l[at] = bad;
      INFO("logit ", at, " = ", bad);
      std::vector<float> l2 = l;
      CHECK(s.sample(l.data(), 5, greedy, 0.3) == kBadLogits);
      CHECK(s.sample(l2.data(), 5, sampled, 0.3) == kBadLogits);
    }
  // Banned tokens become -inf after the check: a ban is not a bad logit.
  std::vector<float> l = {0.5f, 1.0f, 2.0f};
  const int32_t ban[] = {2};
  CHECK(s.sample(l.data(), 3, sampled, 0.99, ban, 1) != 2);
}

TEST_CASE("a temperature so small that logits / T overflow is greedy, not the least likely token") {
  RowSampler s;
  SamplingOptions o;
  o.temperature = 1e-30f;  // 2 / 1e-30 overflows a float: the softmax was NaN and the last candidate came out
  CHECK(o.greedy());
  for (int i = 0; i < 50; ++i) {
    std::vector<float> l = {0.1f, 2.0f, -3.0f, 1.9f};
    CHECK(s.sample(l.data(), 4, o, u_of(i)) == 1);
  }
  o.temperature = kGreedyBelow / 2;
  CHECK(o.greedy());
  // Above the threshold, large logits still must not overflow: 3e37 / 0.01 is beyond a float.
  o.temperature = 0.01f;
  CHECK(!o.greedy());
  for (int i = 0; i < 50; ++i) {
    std::vector<float> l = {1e37f, 3e37f, -3e37f, 0.0f};
    CHECK(s.sample(l.data(), 4, o, u_of(i)) == 1);
  }
  CHECK(s.support(std::vector<float>{1e37f, 3e37f, -3e37f}.data(), 3, o).front() == 1);
}
