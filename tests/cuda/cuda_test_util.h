// Helpers of the cuda backend tests: the CUDA_CASE macro (a "cuda kernels" case that needs a GPU, else prints
// "skipped: no GPU (<case>)"), random data, buffers on a backend, comparisons.
#pragma once
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "core/dtype.h"
#include "core/error.h"

namespace autodist::cudatest {

// Runs fn(cpu, gpu) with fresh backends, or prints the skip line when no GPU is usable.
inline void run_case(const char* title, void (*fn)(Backend&, Backend&)) {
  if (cuda_device_count() == 0) {
    std::printf("skipped: no GPU (%s)\n", title);
    std::fflush(stdout);
    return;
  }
  auto cpu = make_cpu_backend();
  auto gpu = make_cuda_backend(0);
  fn(*cpu, *gpu);
}

#define AD_CAT2(a, b) a##b
#define AD_CAT(a, b) AD_CAT2(a, b)
#define CUDA_CASE_IMPL(title, fn)           \
  static void fn(Backend& cpu, Backend& gpu); \
  TEST_CASE(title) { run_case(title, fn); } \
  static void fn([[maybe_unused]] Backend& cpu, [[maybe_unused]] Backend& gpu)
// A test case of the "cuda kernels" suite; its body sees `cpu` and `gpu`.
#define CUDA_CASE(title) CUDA_CASE_IMPL(title, AD_CAT(cuda_case_body_, __LINE__))

inline std::vector<float> randn(size_t n, std::mt19937& rng, float sd = 1.0f, float mean = 0.0f) {
  std::normal_distribution<float> d(mean, sd);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// A buffer on `be` holding `data`.
inline Buffer put(Backend& be, DType t, Shape s, const void* data) {
  Buffer b(&be, t, s);
  be.to_device(b.t(), data);
  return b;
}
inline Buffer put(Backend& be, Shape s, const std::vector<float>& v) {
  REQUIRE(static_cast<int64_t>(v.size()) == s.numel());
  return put(be, DType::F32, s, v.data());
}

inline std::vector<float> get(Backend& be, const Tensor& t) {
  std::vector<float> v(static_cast<size_t>(t.numel()));
  be.to_host(v.data(), t);
  return v;
}

inline bool same_bits(float a, float b) { return std::memcmp(&a, &b, 4) == 0; }

// Every |got - want| <= atol + rtol * |want|; NaN only where the reference has NaN.
inline void check_close(const std::vector<float>& got, const std::vector<float>& want, double atol, double rtol) {
  REQUIRE(got.size() == want.size());
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    double e;
    if (std::isnan(want[i]) || std::isnan(got[i]))
      e = std::isnan(want[i]) && std::isnan(got[i]) ? 0.0 : INFINITY;
    else
      e = std::fabs(static_cast<double>(got[i]) - want[i]) / (atol + rtol * std::fabs(want[i]));
    if (e > worst) {
      worst = e;
      at = i;
    }
  }
  INFO("worst at element ", at, ": got ", got[at], ", want ", want[at], " (", worst, " x the tolerance)");
  CHECK(worst <= 1.0);
}

inline void check_same(const std::vector<float>& got, const std::vector<float>& want) {
  REQUIRE(got.size() == want.size());
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (!same_bits(got[i], want[i]) && !bad++) first = i;
  INFO(bad, " elements differ, first at ", first, ": got ", got[first], ", want ", want[first]);
  CHECK(bad == 0);
}

// Rounds to the half type t: the half bits, and the f32 values they hold.
inline std::vector<uint16_t> to_half(DType t, const std::vector<float>& v) {
  std::vector<uint16_t> h(v.size());
  convert_from_f32(v.data(), t, h.data(), v.size());
  return h;
}

// Prepares both backends for plans within lim and begins the step of plan on each (the same host plan).
inline void begin_both(Backend& cpu, Backend& gpu, const StepPlan& plan, const StepLimits& lim) {
  for (Backend* be : {&cpu, &gpu}) {
    be->prepare(lim);
    be->begin_step(plan);
  }
}

}  // namespace autodist::cudatest
