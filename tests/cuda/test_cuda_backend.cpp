// The cuda backend against the cpu backend (the reference), kernel by kernel, on random inputs of awkward sizes.
// Suite "cuda kernels" needs a GPU: without one (or in a build without CUDA) each case prints
// "skipped: no GPU (<case>)" and returns, and the ctest test cuda_kernels reports SKIPPED. Suite
// "cuda availability" runs everywhere: the device query and the refusal without a device.
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
#include "dist/nccl_communicator.h"
#ifdef AUTODIST_HAVE_CUDA
#include "backend/cuda/cublas_lazy.h"
#endif

using namespace autodist;

namespace {

// Runs fn(cpu, gpu) with fresh backends, or prints the skip line when no GPU is usable.
void run_case(const char* title, void (*fn)(Backend&, Backend&)) {
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
  void fn(Backend& cpu, Backend& gpu);      \
  TEST_CASE(title) { run_case(title, fn); } \
  void fn([[maybe_unused]] Backend& cpu, [[maybe_unused]] Backend& gpu)
// A test case of the "cuda kernels" suite; its body sees `cpu` and `gpu`.
#define CUDA_CASE(title) CUDA_CASE_IMPL(title, AD_CAT(cuda_case_body_, __LINE__))

std::vector<float> randn(size_t n, std::mt19937& rng, float sd = 1.0f, float mean = 0.0f) {
  std::normal_distribution<float> d(mean, sd);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// A buffer on `be` holding `data`.
Buffer put(Backend& be, DType t, Shape s, const void* data) {
  Buffer b(&be, t, s);
  be.to_device(b.t(), data);
  return b;
}
Buffer put(Backend& be, Shape s, const std::vector<float>& v) {
  REQUIRE(static_cast<int64_t>(v.size()) == s.numel());
  return put(be, DType::F32, s, v.data());
}

std::vector<float> get(Backend& be, const Tensor& t) {
  std::vector<float> v(static_cast<size_t>(t.numel()));
  be.to_host(v.data(), t);
  return v;
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, 4) == 0; }

// Every |got - want| <= atol + rtol * |want|; NaN only where the reference has NaN.
void check_close(const std::vector<float>& got, const std::vector<float>& want, double atol, double rtol) {
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

void check_same(const std::vector<float>& got, const std::vector<float>& want) {
  REQUIRE(got.size() == want.size());
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (!same_bits(got[i], want[i]) && !bad++) first = i;
  INFO(bad, " elements differ, first at ", first, ": got ", got[first], ", want ", want[first]);
  CHECK(bad == 0);
}

// Rounds to the half type t: the half bits, and the f32 values they hold.
std::vector<uint16_t> to_half(DType t, const std::vector<float>& v) {
  std::vector<uint16_t> h(v.size());
  convert_from_f32(v.data(), t, h.data(), v.size());
  return h;
}

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

RopeTable rope_table(int64_t hd, double theta, double attention_factor) {
  RopeTable rt;
  for (int64_t i = 0; i < hd / 2; ++i) rt.inv_freq.push_back(1.0 / std::pow(theta, 2.0 * i / hd));
  rt.attention_factor = attention_factor;
  return rt;
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

CUDA_CASE("cuda rope: large positions, two tables on one backend, match the cpu backend") {
  std::mt19937 rng(4);
  std::uniform_int_distribution<int32_t> pd(0, 40000);
  for (int64_t T : {1, 7, 33})
    for (int64_t H : {4, 6, 8})
      for (int64_t hd : {32, 64, 128})
        for (const RopeTable& rt : {rope_table(hd, 1e6, 1.0), rope_table(hd, 1e4, 1.17)}) {
          auto x = randn(T * H * hd, rng);
          std::vector<int32_t> pos(T);
          for (auto& p : pos) p = pd(rng);
          pos[0] = 0;
          std::vector<float> out[2];
          Backend* bes[2] = {&cpu, &gpu};
          for (int i = 0; i < 2; ++i) {
            Buffer bx = put(*bes[i], {T, H, hd}, x);
            bes[i]->rope(bx.t(), pos.data(), rt);
            out[i] = get(*bes[i], bx.t());
          }
          INFO("T ", T, " H ", H, " hd ", hd, " factor ", rt.attention_factor);
          check_close(out[1], out[0], 1e-5, 1e-5);
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

CUDA_CASE("cuda embed: f32/bf16/f16 tables, ids outside the local vocab give zero rows, bit for bit") {
  std::mt19937 rng(6);
  for (DType t : {DType::F32, DType::BF16, DType::F16})
    for (int64_t D : {64, 130})
      for (int64_t vocab_start : {0, 500}) {
        const int64_t V = 1007;
        auto vals = randn(V * D, rng);
        std::vector<uint16_t> h = t == DType::F32 ? std::vector<uint16_t>{} : to_half(t, vals);
        const void* table = t == DType::F32 ? static_cast<const void*>(vals.data()) : h.data();
        std::uniform_int_distribution<int32_t> id(-10, static_cast<int32_t>(vocab_start + V + 10));
        std::vector<int32_t> ids(33);
        for (auto& i : ids) i = id(rng);
        ids[0] = static_cast<int32_t>(vocab_start);
        ids[1] = static_cast<int32_t>(vocab_start + V - 1);
        ids[2] = static_cast<int32_t>(vocab_start + V);
        ids[3] = static_cast<int32_t>(vocab_start - 1);
        const int64_t T = static_cast<int64_t>(ids.size());
        std::vector<float> out[2];
        Backend* bes[2] = {&cpu, &gpu};
        for (int i = 0; i < 2; ++i) {
          Buffer bt = put(*bes[i], t, {V, D}, table), bo = put(*bes[i], {T, D}, std::vector<float>(T * D, 5.0f));
          bes[i]->embed(bt.t(), ids.data(), vocab_start, bo.t());
          out[i] = get(*bes[i], bo.t());
        }
        INFO("table ", dtype_name(t), " D ", D, " vocab_start ", vocab_start);
        check_same(out[1], out[0]);
      }
  // every 16-bit pattern (inf, NaN payloads, subnormals, -0) widened exactly as on the cpu
  for (DType t : {DType::BF16, DType::F16}) {
    const int64_t V = 256, D = 256;
    std::vector<uint16_t> table(V * D);
    for (int64_t i = 0; i < V * D; ++i) table[i] = static_cast<uint16_t>(i);
    std::vector<int32_t> ids(V);
    for (int32_t r = 0; r < V; ++r) ids[r] = V - 1 - r;
    std::vector<float> out[2];
    Backend* bes[2] = {&cpu, &gpu};
    for (int i = 0; i < 2; ++i) {
      Buffer bt = put(*bes[i], t, {V, D}, table.data()), bo(bes[i], DType::F32, {V, D});
      bes[i]->embed(bt.t(), ids.data(), 0, bo.t());
      out[i] = get(*bes[i], bo.t());
    }
    INFO("all patterns of ", dtype_name(t));
    check_same(out[1], out[0]);
  }
}

namespace {

struct AttnCase {
  int64_t H, Hk, hd, S;
  std::vector<AttnSegment> segs;
  int64_t T;
};

// kv_append then attention (for each window) on both backends from the same caches; rows outside every segment keep
// their sentinel.
void compare_attention(Backend& cpu, Backend& gpu, const AttnCase& c, std::mt19937& rng) {
  const int64_t slots = 3;
  auto kc0 = randn(slots * c.S * c.Hk * c.hd, rng), vc0 = randn(slots * c.S * c.Hk * c.hd, rng);
  auto q = randn(c.T * c.H * c.hd, rng), k = randn(c.T * c.Hk * c.hd, rng), v = randn(c.T * c.Hk * c.hd, rng);
  const float scale = 1.0f / std::sqrt(static_cast<float>(c.hd));
  for (int64_t window : {0, 5, 40, 1000}) {
    std::vector<float> kc[2], vc[2], out[2];
    Backend* bes[2] = {&cpu, &gpu};
    for (int i = 0; i < 2; ++i) {
      Backend& be = *bes[i];
      Shape cs{slots, c.S, c.Hk, c.hd};
      Buffer bkc = put(be, cs, kc0), bvc = put(be, cs, vc0), bq = put(be, {c.T, c.H, c.hd}, q),
             bk = put(be, {c.T, c.Hk, c.hd}, k), bv = put(be, {c.T, c.Hk, c.hd}, v),
             bo = put(be, {c.T, c.H, c.hd}, std::vector<float>(c.T * c.H * c.hd, 7.0f));
      be.kv_append(bk.t(), bv.t(), bkc.t(), bvc.t(), c.segs);
      be.attention(bq.t(), bkc.t(), bvc.t(), c.segs, scale, window, bo.t());
      kc[i] = get(be, bkc.t());
      vc[i] = get(be, bvc.t());
      out[i] = get(be, bo.t());
    }
    INFO("H ", c.H, " Hk ", c.Hk, " hd ", c.hd, " S ", c.S, " window ", window);
    check_same(kc[1], kc[0]);
    check_same(vc[1], vc[0]);
    check_close(out[1], out[0], 1e-5, 1e-4);
  }
}

}  // namespace

CUDA_CASE("cuda kv_append + attention: segments at different positions, GQA, sliding window") {
  std::mt19937 rng(7);
  // rows: 33 of slot 2 from position 0 (prefill), 7 of slot 0 from 50 (a later chunk), row 40 in no segment,
  // 1 of slot 1 at 17 (decode)
  const std::vector<AttnSegment> segs{{2, 0, 33, 0}, {0, 50, 7, 33}, {1, 17, 1, 41}};
  for (auto [H, Hk] : std::vector<std::pair<int64_t, int64_t>>{{4, 4}, {6, 2}, {8, 1}})
    for (int64_t hd : {32, 64}) compare_attention(cpu, gpu, {H, Hk, hd, 96, segs, 42}, rng);
  // head dims past one value per thread (96, 256); long keys: many tiles, windows across tile edges
  for (int64_t hd : {96, 256}) compare_attention(cpu, gpu, {4, 2, hd, 96, segs, 42}, rng);
  const std::vector<AttnSegment> long_segs{{0, 1000, 3, 0}, {1, 0, 70, 3}, {2, 600, 129, 73}};
  compare_attention(cpu, gpu, {6, 2, 64, 1100, long_segs, 202}, rng);
}

CUDA_CASE("cuda argmax: first index of the max over `valid` columns, ties, NaN, -inf rows") {
  std::mt19937 rng(8);
  for (int64_t V : {int64_t{1007}, int64_t{151936 + 7}})
    for (int64_t M : {1, 7, 33})
      for (int64_t valid : {V, V - 7, int64_t{1}, int64_t{0}}) {
        auto x = randn(M * V, rng);
        auto at = [&](int64_t m, int64_t j) -> float& { return x[m * V + j]; };
        if (M > 1) at(1, 5) = at(1, 900) = 100.0f;  // tie: index 5
        if (M > 2) at(2, 0) = std::numeric_limits<float>::quiet_NaN();
        if (M > 3) at(3, 10) = std::numeric_limits<float>::quiet_NaN();
        if (M > 4)
          for (int64_t j = 0; j < V; ++j) at(4, j) = -INFINITY;
        if (M > 5) at(5, V - 1) = 1000.0f;  // past `valid` when valid < V
        std::vector<float> mx[2];
        std::vector<int32_t> ix[2];
        Backend* bes[2] = {&cpu, &gpu};
        for (int i = 0; i < 2; ++i) {
          Buffer bx = put(*bes[i], {M, V}, x);
          mx[i].assign(M, 3.0f);
          ix[i].assign(M, -5);
          bes[i]->argmax(bx.t(), valid, mx[i].data(), ix[i].data());
        }
        INFO("V ", V, " M ", M, " valid ", valid);
        CHECK(ix[1] == ix[0]);
        check_same(mx[1], mx[0]);
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
  Buffer k(&gpu, DType::F32, {4, 2, 8}), kc(&gpu, DType::F32, {2, 5, 2, 8}), q(&gpu, DType::F32, {4, 4, 8});
  std::vector<AttnSegment> over{{0, 3, 4, 0}};
  CHECK_THROWS_WITH_AS(gpu.kv_append(k.t(), k.t(), kc.t(), kc.t(), over), doctest::Contains("kv cache overflow"),
                       Error);
  std::vector<AttnSegment> bad_slot{{2, 0, 4, 0}};
  CHECK_THROWS_WITH_AS(gpu.attention(q.t(), kc.t(), kc.t(), bad_slot, 1.0f, 0, q.t()),
                       doctest::Contains("lies outside"), Error);
  Buffer big_q(&gpu, DType::F32, {1, 1, 514}), big_c(&gpu, DType::F32, {1, 2, 1, 514});
  CHECK_THROWS_WITH_AS(gpu.attention(big_q.t(), big_c.t(), big_c.t(), {{0, 0, 1, 0}}, 1.0f, 0, big_q.t()),
                       doctest::Contains("head dim 514"), Error);
  std::vector<float> mx(8);
  std::vector<int32_t> ix(8);
  CHECK_THROWS_WITH_AS(gpu.argmax(x.t(), 9, mx.data(), ix.data()), doctest::Contains("must not exceed"), Error);
}

TEST_SUITE_END();

TEST_SUITE_BEGIN("cuda availability");

TEST_CASE("cuda_device_count never throws; make_cuda_backend refuses a missing device with a message") {
  int n = -1;
  CHECK_NOTHROW(n = cuda_device_count());
  CHECK(n >= 0);
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
