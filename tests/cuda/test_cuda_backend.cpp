// The cuda backend against the cpu backend (the reference), kernel by kernel, on random inputs of awkward sizes:
// the kernels that read no step plan (gemm, rmsnorm, elementwise, copies); test_cuda_step.cpp has the others.
// Suite "cuda kernels" needs a GPU: without one (or in a build without CUDA) each case prints
// "skipped: no GPU (<case>)" and returns, and the ctest test cuda_kernels reports SKIPPED. Suite
// "cuda availability" runs everywhere: the device query and the refusal without a device.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <filesystem>

#include "backend/backend.h"
#include "core/dtype.h"
#include "core/error.h"
#include "cuda_test_util.h"
#include "dist/nccl_communicator.h"
#ifdef AUTODIST_HAVE_CUDA
#include "backend/cuda/cublas_lazy.h"
#endif

using namespace autodist;
using namespace autodist::cudatest;

namespace {

// gemm on both backends with the same operands (w held as wt); compared relative to the size of the terms of each
// dot product (sum_k |x w| + |bias|), since plain |y| can be near zero where terms cancel.
void compare_gemm(Backend& cpu, Backend& gpu, DType wt, int64_t M, int64_t N, int64_t K, bool with_bias,
                  std::mt19937& rng) {
  auto x = randn(M * K, rng), w = randn(N * K, rng, 0.05f), b = randn(N, rng);
  std::vector<uint16_t> wh;
  const void* wdata = w.data();
  if (wt != DType::F32) {
    wh = to_half(wt, w);
    convert_to_f32(wh.data(), wt, w.data(), w.size());  // w now holds the widened values, for the error scale
    wdata = wh.data();
  }
  std::vector<float> poison(M * N, std::numeric_limits<float>::quiet_NaN());
  std::vector<float> out[2];
  Backend* bes[2] = {&cpu, &gpu};
  for (int i = 0; i < 2; ++i) {
    Backend& be = *bes[i];
    Buffer bx = put(be, {M, K}, x), bw = put(be, wt, {N, K}, wdata), bb = put(be, {N}, b), by = put(be, {M, N}, poison);
    be.gemm(bx.t(), bw.t(), with_bias ? &bb.t() : nullptr, by.t());
    out[i] = get(be, by.t());
  }
  double worst = 0;
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double scale = with_bias ? std::fabs(b[n]) : 0.0;
      for (int64_t k = 0; k < K; ++k) scale += std::fabs(static_cast<double>(x[m * K + k]) * w[n * K + k]);
      double got = out[1][m * N + n], want = out[0][m * N + n];
      double err = std::isnan(got) ? INFINITY : std::fabs(got - want) / (scale > 0 ? scale : 1.0);
      worst = std::max(worst, err);
    }
  INFO("w ", dtype_name(wt), " M ", M, " N ", N, " K ", K, " bias ", with_bias);
  CHECK(worst <= 1e-5);
}

}  // namespace

TEST_SUITE_BEGIN("cuda kernels");

CUDA_CASE("cuda gemm: f32 weights match the cpu backend (awkward shapes, bias or not, K = 0)") {
  std::mt19937 rng(1);
  for (int64_t M : {1, 7, 33})
    for (auto [N, K] : std::vector<std::pair<int64_t, int64_t>>{{64, 96}, {130, 64}, {96, 130}, {1007, 130}})
      for (bool bias : {false, true}) compare_gemm(cpu, gpu, DType::F32, M, N, K, bias, rng);
  // K = 0: y = bias (or 0); M = 0: nothing to do
  for (bool bias : {false, true}) {
    std::vector<float> b = randn(5, rng), want(3 * 5, 0.0f), poison(3 * 5, 9.0f);
    if (bias)
      for (int m = 0; m < 3; ++m)
        for (int n = 0; n < 5; ++n) want[m * 5 + n] = b[n];
    Buffer x(&gpu, DType::F32, {3, 0}), w(&gpu, DType::F32, {5, 0}), bb = put(gpu, {5}, b),
                                                                     y = put(gpu, {3, 5}, poison);
    gpu.gemm(x.t(), w.t(), bias ? &bb.t() : nullptr, y.t());
    check_same(get(gpu, y.t()), want);
  }
  Buffer x0(&gpu, DType::F32, {0, 4}), w0(&gpu, DType::F32, {5, 4}), y0(&gpu, DType::F32, {0, 5});
  gpu.gemm(x0.t(), w0.t(), nullptr, y0.t());
  gpu.synchronize();
}

CUDA_CASE("cuda gemm: bf16/f16 weights match the cpu backend with the same half weights") {
  std::mt19937 rng(2);
  // M <= 8: the one-pass dot kernel (K % 8 == 0: vector loads; else scalar); M > 8: widened blocks + sgemm.
  for (DType t : {DType::BF16, DType::F16})
    for (int64_t M : {1, 2, 7, 8, 9, 33})
      for (auto [N, K] : std::vector<std::pair<int64_t, int64_t>>{{64, 96}, {130, 64}, {67, 7}, {1007, 130}})
        for (bool bias : {false, true}) compare_gemm(cpu, gpu, t, M, N, K, bias, rng);
  // 4100 rows of K = 4097 exceed one widened block (2^24 floats): two sgemm calls, the second on 5 rows.
  compare_gemm(cpu, gpu, DType::BF16, 9, 4100, 4097, true, rng);
}

CUDA_CASE("cuda rmsnorm: rows and per-head norms (in place) match the cpu backend") {
  std::mt19937 rng(3);
  for (int64_t M : {1, 7, 33})
    for (int64_t C : {64, 96, 130, 4099}) {
      auto x = randn(M * C, rng, 2.0f), w = randn(C, rng, 0.1f, 1.0f);
      std::vector<float> out[2];
      Backend* bes[2] = {&cpu, &gpu};
      for (int i = 0; i < 2; ++i) {
        Buffer bx = put(*bes[i], {M, C}, x), bw = put(*bes[i], {C}, w), by(bes[i], DType::F32, {M, C});
        bes[i]->rmsnorm(bx.t(), bw.t(), 1e-6f, by.t());
        out[i] = get(*bes[i], by.t());
      }
      INFO("M ", M, " C ", C);
      check_close(out[1], out[0], 1e-6, 1e-5);
    }
  for (int64_t T : {1, 7, 33})
    for (int64_t H : {4, 6})
      for (int64_t hd : {32, 64}) {
        auto x = randn(T * H * hd, rng), w = randn(hd, rng, 0.1f, 1.0f);
        std::vector<float> out[2];
        Backend* bes[2] = {&cpu, &gpu};
        for (int i = 0; i < 2; ++i) {
          Buffer bx = put(*bes[i], {T, H, hd}, x), bw = put(*bes[i], {hd}, w);
          Tensor rows = bx.t().reshape({T * H, hd});
          bes[i]->rmsnorm(rows, bw.t(), 1e-6f, rows);
          out[i] = get(*bes[i], bx.t());
        }
        INFO("per head: T ", T, " H ", H, " hd ", hd);
        check_close(out[1], out[0], 1e-6, 1e-5);
      }
}

CUDA_CASE("cuda silu_mul, split_qkv, add: match the cpu backend") {
  std::mt19937 rng(5);
  for (int64_t M : {1, 7, 33})
    for (int64_t I : {64, 130, 1007}) {
      auto gu = randn(M * 2 * I, rng, 3.0f);
      std::vector<float> out[2];
      Backend* bes[2] = {&cpu, &gpu};
      for (int i = 0; i < 2; ++i) {
        Buffer bg = put(*bes[i], {M, 2 * I}, gu), bo(bes[i], DType::F32, {M, I});
        bes[i]->silu_mul(bg.t(), bo.t());
        out[i] = get(*bes[i], bo.t());
      }
      INFO("silu_mul M ", M, " I ", I);
      check_close(out[1], out[0], 1e-6, 1e-5);
    }
  for (int64_t T : {1, 7, 33})
    for (auto [H, Hk] : std::vector<std::pair<int64_t, int64_t>>{{4, 4}, {6, 2}, {8, 1}})
      for (int64_t hd : {32, 64}) {
        auto qkv = randn(T * (H + 2 * Hk) * hd, rng), y = randn(T * H * hd, rng);
        std::vector<float> q[2], k[2], v[2], sum[2];
        Backend* bes[2] = {&cpu, &gpu};
        for (int i = 0; i < 2; ++i) {
          Buffer bqkv = put(*bes[i], {T, (H + 2 * Hk) * hd}, qkv), bq(bes[i], DType::F32, {T, H, hd}),
                 bk(bes[i], DType::F32, {T, Hk, hd}), bv(bes[i], DType::F32, {T, Hk, hd}),
                 by = put(*bes[i], {T, H, hd}, y);
          bes[i]->split_qkv(bqkv.t(), bq.t(), bk.t(), bv.t());
          bes[i]->add(by.t(), bq.t());
          q[i] = get(*bes[i], bq.t());
          k[i] = get(*bes[i], bk.t());
          v[i] = get(*bes[i], bv.t());
          sum[i] = get(*bes[i], by.t());
        }
        INFO("split_qkv T ", T, " H ", H, " Hk ", Hk, " hd ", hd);
        check_same(q[1], q[0]);
        check_same(k[1], k[0]);
        check_same(v[1], v[0]);
        check_same(sum[1], sum[0]);
      }
}

CUDA_CASE("cuda layernorm (with and without bias), activations, add_bias: match the cpu backend") {
  std::mt19937 rng(11);
  for (int64_t M : {1, 7, 33})
    for (int64_t C : {64, 96, 130, 1600}) {
      auto x = randn(M * C, rng, 2.0f, 0.5f), w = randn(C, rng, 0.1f, 1.0f), b = randn(C, rng, 0.1f);
      for (bool bias : {false, true}) {
        std::vector<float> out[2];
        Backend* bes[2] = {&cpu, &gpu};
        for (int i = 0; i < 2; ++i) {
          Buffer bx = put(*bes[i], {M, C}, x), bw = put(*bes[i], {C}, w), bb = put(*bes[i], {C}, b),
                 by(bes[i], DType::F32, {M, C});
          bes[i]->layernorm(bx.t(), bw.t(), bias ? &bb.t() : nullptr, 1e-5f, by.t());
          out[i] = get(*bes[i], by.t());
        }
        INFO("layernorm M ", M, " C ", C, " bias ", bias);
        check_close(out[1], out[0], 1e-5, 1e-5);
      }
    }
  for (Activation a : {Activation::Silu, Activation::GeluTanh, Activation::Gelu, Activation::Relu})
    for (int64_t n : {1, 1000, 100003}) {
      auto x = randn(n, rng, 3.0f);
      std::vector<float> out[2];
      Backend* bes[2] = {&cpu, &gpu};
      for (int i = 0; i < 2; ++i) {
        Buffer bx = put(*bes[i], {n}, x);
        bes[i]->activation(bx.t(), a, bx.t());
        out[i] = get(*bes[i], bx.t());
      }
      INFO("activation ", static_cast<int>(a), " n ", n);
      check_close(out[1], out[0], 1e-6, 1e-5);
    }
  for (auto [M, N] : std::vector<std::pair<int64_t, int64_t>>{{1, 64}, {33, 130}}) {
    auto y = randn(M * N, rng), b = randn(N, rng);
    std::vector<float> out[2];
    Backend* bes[2] = {&cpu, &gpu};
    for (int i = 0; i < 2; ++i) {
      Buffer by = put(*bes[i], {M, N}, y), bb = put(*bes[i], {N}, b);
      bes[i]->add_bias(by.t(), bb.t());
      out[i] = get(*bes[i], by.t());
    }
    check_same(out[1], out[0]);
  }
}

CUDA_CASE("cuda copy, fill_zero, to_host: round trips, host views, overlapping copies (memmove)") {
  std::mt19937 rng(9);
  const int64_t R = 37, C = 33;
  auto a = randn(R * C, rng);
  std::vector<float> out[2];
  Backend* bes[2] = {&cpu, &gpu};
  for (int i = 0; i < 2; ++i) {
    Backend& be = *bes[i];
    Buffer x = put(be, {R, C}, a), y(&be, DType::F32, {R, C});
    be.copy(y.t(), x.t());
    be.copy(y.t().rows(1, R - 1), y.t().rows(0, R - 1));  // overlapping, forward
    be.copy(y.t().rows(0, R - 3), y.t().rows(3, R - 3));  // overlapping, backward
    be.fill_zero(y.t().rows(R - 2, 2));
    out[i] = get(be, y.t());
  }
  check_same(out[1], out[0]);
  // host <-> device through copy
  std::vector<float> host(R * C, 0.0f);
  Buffer d = put(gpu, {R, C}, a);
  gpu.copy(Tensor(host.data(), DType::F32, {R, C}, Device::CPU), d.t());
  check_same(host, a);
  Buffer e(&gpu, DType::F32, {R, C});
  gpu.copy(e.t(), Tensor(a.data(), DType::F32, {R, C}, Device::CPU));
  check_same(get(gpu, e.t()), a);
}

CUDA_CASE("cuda backend: host tensors, wrong dtypes and misfit shapes are refused with a message") {
  std::vector<float> h(64, 1.0f);
  Tensor host(h.data(), DType::F32, {8, 8});
  Buffer x(&gpu, DType::F32, {8, 8}), w(&gpu, DType::F32, {4, 8}), y(&gpu, DType::F32, {8, 4}),
      wi(&gpu, DType::I32, {4, 8}), bad_y(&gpu, DType::F32, {8, 5});
  CHECK_THROWS_WITH_AS(gpu.gemm(host, w.t(), nullptr, y.t()), doctest::Contains("must be a device f32 tensor"), Error);
  CHECK_THROWS_WITH_AS(gpu.gemm(x.t(), wi.t(), nullptr, y.t()), doctest::Contains("f32, bf16 or f16"), Error);
  CHECK_THROWS_WITH_AS(gpu.gemm(x.t(), w.t(), nullptr, bad_y.t()), doctest::Contains("do not fit"), Error);
  Buffer big_q(&gpu, DType::F32, {1, 1, 514}), big_c(&gpu, DType::F32, {1, 2, 1, 514});
  StepPlan p;
  const int32_t id = 0;
  p.add(0, 0, 1, &id);
  gpu.prepare({1, 2, 1, 1, 1});
  gpu.begin_step(p);
  CHECK_THROWS_WITH_AS(gpu.attention(big_q.t(), big_c.t(), big_c.t(), 1.0f, 0, big_q.t()),
                       doctest::Contains("head dim 514"), Error);
  Buffer pairs(&gpu, DType::F32, {8, 2});
  CHECK_THROWS_WITH_AS(gpu.argmax(x.t(), 9, 0, pairs.t()), doctest::Contains("valid 9"), Error);
}

TEST_SUITE_END();

TEST_SUITE_BEGIN("cuda availability");

TEST_CASE("cuda_device_count never throws; make_cuda_backend refuses a missing device with a message") {
  int n = -1;
  CHECK_NOTHROW(n = cuda_device_count());
  // The driver lists its GPUs here; no directory (no driver, a container without one): no usable device.
  int listed = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/driver/nvidia/gpus", ec);
       !ec && it != std::filesystem::directory_iterator(); ++it)
    ++listed;
#ifdef AUTODIST_HAVE_CUDA
  CHECK(n <= listed);  // CUDA_VISIBLE_DEVICES may hide some
  if (!std::getenv("CUDA_VISIBLE_DEVICES")) CHECK(n == listed);
#else
  CHECK(n == 0);  // a build without CUDA sees none, whatever the machine has
  (void)listed;
#endif
  CHECK_THROWS_WITH_AS(make_cuda_backend(n), doctest::Contains("cuda backend"), Error);  // one past the last device
  if (n == 0) {
    CHECK_THROWS_WITH_AS(make_cuda_backend(0), doctest::Contains("cuda backend"), Error);
    try {
      make_cuda_backend(0);
    } catch (const Error& e) {
      const std::string msg = std::string("without a GPU: ") + e.what();
      MESSAGE(msg);
    }
  }
  if (n > 0) {
    auto be = make_cuda_backend(0);
    CHECK(be->device() == Device::CUDA);
    CHECK(be->name() == "cuda");
  }
}

TEST_CASE("make_nccl_communicator refuses what it cannot use with a message (links in every build)") {
  auto cpu = make_cpu_backend();
  CHECK_THROWS_AS(dist::make_nccl_communicator(nullptr, *cpu), Error);
}

#ifdef AUTODIST_HAVE_CUDA
TEST_CASE("cuBLAS loads on first use (dlopen) with every entry point the backend calls") {
  const cuda::Cublas* api = nullptr;
  REQUIRE_NOTHROW(api = &cuda::cublas());
  const bool all_found = api->create && api->destroy && api->set_stream && api->set_math_mode && api->sgemm &&
                         api->status_name && api->status_string;
  REQUIRE(all_found);
  CHECK(std::string(api->status_name(CUBLAS_STATUS_NOT_INITIALIZED)) == "CUBLAS_STATUS_NOT_INITIALIZED");
  CHECK(std::string(api->status_string(CUBLAS_STATUS_SUCCESS)).size() > 0);
}
#endif

TEST_SUITE_END();
