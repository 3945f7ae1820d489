// The cpu backend's gemm and embed with weights held in bf16 / f16: results against the f32 path on the same
// (rounded, then widened) values, exact widening, and the refusals.
#include <doctest/doctest.h>

#include <cblas.h>

#include <cmath>
#include <cstdint>
#include <climits>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "backend/backend.h"
#include "core/dtype.h"
#include "core/error.h"

using namespace autodist;

namespace {

float widen(DType t, uint16_t h) { return t == DType::BF16 ? bf16_to_f32(h) : f16_to_f32(h); }

// Rounds f32 values to the half type t: the half bits and their (exact) float32 widening.
void to_half(DType t, const std::vector<float>& v, std::vector<uint16_t>& h, std::vector<float>& wide) {
  h.resize(v.size());
  wide.resize(v.size());
  convert_from_f32(v.data(), t, h.data(), v.size());
  for (size_t i = 0; i < v.size(); ++i) wide[i] = widen(t, h[i]);
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, 4) == 0; }

// Prepares be for one step whose rows are `ids` (one sequence in slot 0) and begins it. Ids are only checked
// against a vocabulary of 2^31 - 1: the tests below embed ids outside the table on purpose.
void begin_ids(Backend& be, StepPlan& plan, const std::vector<int32_t>& ids) {
  const auto T = static_cast<int32_t>(ids.size());
  be.prepare({T, T, 1, 1, INT32_MAX});
  plan.clear();
  plan.add(0, 0, T, ids.data());
  plan.want(T - 1);
  be.begin_step(plan);
}

// Runs fn with OpenBLAS (and so the backend's own kernels) allowed `n` threads, then restores the setting.
template <class F>
void with_threads(int n, F&& fn) {
  int old = openblas_get_num_threads();
  openblas_set_num_threads(n);
  fn();
  openblas_set_num_threads(old);
}

struct Case {
  int64_t M, N, K;
};

// y = x . w^T (+ bias) in double on the widened weights, and per element the size of its terms,
// sum_k |x w| + |bias|, which bounds the rounding error of a float32 dot product.
void reference(const std::vector<float>& x, const std::vector<float>& w, const std::vector<float>* bias,
               const Case& c, std::vector<double>& y, std::vector<double>& scale) {
  y.assign(c.M * c.N, 0.0);
  scale.assign(c.M * c.N, 0.0);
  for (int64_t m = 0; m < c.M; ++m)
    for (int64_t n = 0; n < c.N; ++n) {
      double s = bias ? (*bias)[n] : 0.0, a = bias ? std::fabs((*bias)[n]) : 0.0;
      for (int64_t k = 0; k < c.K; ++k) {
        double p = static_cast<double>(x[m * c.K + k]) * w[n * c.K + k];
        s += p;
        a += std::fabs(p);
      }
      y[m * c.N + n] = s;
      scale[m * c.N + n] = a;
    }
}

// Largest |y - y_ref| / scale over the output (a plain |y_ref| would blow up where the terms cancel).
template <class V>
double worst_rel_error(const std::vector<float>& y, const V& y_ref, const std::vector<double>& scale) {
  double worst = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    double err = std::fabs(static_cast<double>(y[i]) - y_ref[i]);
    worst = std::max(worst, scale[i] > 0 ? err / scale[i] : err);
  }
  return worst;
}

// Runs gemm with half weights and with the widened f32 weights; checks them against each other and against
// the double reference, relative to the size of the terms.
void check_gemm(Backend& be, DType t, const Case& c, bool with_bias, std::mt19937& rng, double tol) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> x(c.M * c.K), w(c.N * c.K), b(c.N);
  for (auto& v : x) v = dist(rng);
  for (auto& v : w) v = dist(rng) * 0.05f;
  for (auto& v : b) v = dist(rng);
  std::vector<uint16_t> wh;
  std::vector<float> wf;
  to_half(t, w, wh, wf);
  // poison the outputs: every element must be written
  std::vector<float> y_half(c.M * c.N, std::numeric_limits<float>::quiet_NaN()), y_f32 = y_half;
  Tensor tx(x.data(), DType::F32, {c.M, c.K}), tb(b.data(), DType::F32, {c.N});
  const Tensor* bias = with_bias ? &tb : nullptr;
  be.gemm(tx, Tensor(wh.data(), t, {c.N, c.K}), bias, Tensor(y_half.data(), DType::F32, {c.M, c.N}));
  be.gemm(tx, Tensor(wf.data(), DType::F32, {c.N, c.K}), bias, Tensor(y_f32.data(), DType::F32, {c.M, c.N}));
  std::vector<double> y_ref, scale;
  reference(x, wf, with_bias ? &b : nullptr, c, y_ref, scale);
  INFO("dtype ", dtype_name(t), " M ", c.M, " N ", c.N, " K ", c.K, " bias ", with_bias);
  bool finite = true;
  for (float v : y_half) finite = finite && std::isfinite(v);
  CHECK(finite);
  CHECK(worst_rel_error(y_half, y_f32, scale) <= tol);
  CHECK(worst_rel_error(y_half, y_ref, scale) <= tol);
}

}  // namespace

TEST_CASE("cpu gemm: bf16/f16 weights give the f32 gemm of the widened weights (awkward shapes)") {
  auto be = make_cpu_backend();
  std::mt19937 rng(1234);
  for (DType t : {DType::BF16, DType::F16})
    for (int64_t M : {1, 3, 8, 9, 70})
      for (int64_t N : {1, 5, 130, 257})
        for (int64_t K : {7, 64, 129})
          for (bool bias : {false, true}) check_gemm(*be, t, {M, N, K}, bias, rng, 1e-6);
}

TEST_CASE("cpu gemm: half weights on larger shapes, one and two threads (thread split, row blocks)") {
  auto be = make_cpu_backend();
  std::mt19937 rng(99);
  for (int threads : {1, 2})
    with_threads(threads, [&] {
      for (DType t : {DType::BF16, DType::F16}) {
        // Few-row path (M <= 16, x in groups of 8): M * N * K is large enough to split N over two threads.
        for (int64_t M : {1, 3, 8, 11, 16})
          for (bool bias : {false, true}) check_gemm(*be, t, {M, 600, 1100}, bias, rng, 1e-6);
        // Blocked path (M > 16): with K = 4100 it widens 1024 rows of w per sgemm, so N = 1100 takes two
        // blocks, the second partial.
        if (threads == 2) check_gemm(*be, t, {17, 1100, 4100}, /*with_bias=*/true, rng, 1e-6);
      }
    });
}

TEST_CASE("cpu gemm: half weights on exactly representable values give bit-identical results") {
  // x in multiples of 1/8, w in multiples of 1/16 within [-1, 1] (exact in bf16 and f16): every product and
  // partial sum is exact in float32, so any summation order gives the same bits.
  auto be = make_cpu_backend();
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> xi(-16, 16), wi(-16, 16);
  for (DType t : {DType::BF16, DType::F16})
    for (int64_t M : {1, 4, 8, 9, 33})
      for (int64_t K : {7, 64, 129, 1000}) {
        const int64_t N = 67;
        std::vector<float> x(M * K), w(N * K), b(N);
        for (auto& v : x) v = xi(rng) / 8.0f;
        for (auto& v : w) v = wi(rng) / 16.0f;
        for (auto& v : b) v = xi(rng) / 8.0f;
        std::vector<uint16_t> wh;
        std::vector<float> wf;
        to_half(t, w, wh, wf);
        REQUIRE(wf == w);
        for (bool with_bias : {false, true}) {
          std::vector<float> y_half(M * N, -1.0f), y_f32(M * N, -2.0f);
          Tensor tx(x.data(), DType::F32, {M, K}), tb(b.data(), DType::F32, {N});
          const Tensor* bias = with_bias ? &tb : nullptr;
          be->gemm(tx, Tensor(wh.data(), t, {N, K}), bias, Tensor(y_half.data(), DType::F32, {M, N}));
          be->gemm(tx, Tensor(wf.data(), DType::F32, {N, K}), bias, Tensor(y_f32.data(), DType::F32, {M, N}));
          INFO("dtype ", dtype_name(t), " M ", M, " K ", K, " bias ", with_bias);
          CHECK(y_half == y_f32);
        }
      }
}

TEST_CASE("cpu embed: half tables give the widened rows exactly; ids outside the local vocab give zero rows") {
  auto be = make_cpu_backend();
  for (DType t : {DType::BF16, DType::F16}) {
    INFO("dtype ", dtype_name(t));
    // every 16-bit pattern once (inf, NaN payloads, subnormals, -0 included): a [256, 256] table
    const int64_t V = 256, D = 256;
    std::vector<uint16_t> table(V * D);
    for (int64_t i = 0; i < V * D; ++i) table[i] = static_cast<uint16_t>(i);
    const int64_t vocab_start = 1000;
    std::vector<int32_t> ids;
    for (int32_t r = V - 1; r >= 0; --r) ids.push_back(static_cast<int32_t>(vocab_start + r));
    ids.insert(ids.end(), {999, 1256, 0, 7, 1000, 2000000000});
    const int64_t T = static_cast<int64_t>(ids.size());
    std::vector<float> out(T * D, 123.0f);
    int32_t slot_token = 0;
    Tensor slots(&slot_token, DType::I32, {1});
    StepPlan plan;
    begin_ids(*be, plan, ids);
    be->embed(Tensor(table.data(), t, {V, D}), vocab_start, slots, Tensor(out.data(), DType::F32, {T, D}));
    int64_t mismatches = 0;
    for (int64_t i = 0; i < T; ++i) {
      int64_t r = ids[i] - vocab_start;
      for (int64_t d = 0; d < D; ++d) {
        float want = (r >= 0 && r < V) ? widen(t, table[r * D + d]) : 0.0f;
        mismatches += !same_bits(out[i * D + d], want);
      }
    }
    CHECK(mismatches == 0);

    // an odd row length (vector body + scalar tail) and a small table against the f32 table of the same values
    const int64_t V2 = 5, D2 = 37;
    std::mt19937 rng(5);
    std::normal_distribution<float> dist(0.0f, 3.0f);
    std::vector<float> vals(V2 * D2);
    for (auto& v : vals) v = dist(rng);
    std::vector<uint16_t> h;
    std::vector<float> wide;
    to_half(t, vals, h, wide);
    std::vector<int32_t> ids2{12, 10, 9, 15, 14, 11, 3};
    const int64_t T2 = static_cast<int64_t>(ids2.size());
    std::vector<float> out_half(T2 * D2, 7.0f), out_f32(T2 * D2, 8.0f);
    begin_ids(*be, plan, ids2);
    be->embed(Tensor(h.data(), t, {V2, D2}), 10, slots, Tensor(out_half.data(), DType::F32, {T2, D2}));
    be->embed(Tensor(wide.data(), DType::F32, {V2, D2}), 10, slots, Tensor(out_f32.data(), DType::F32, {T2, D2}));
    CHECK(out_half == out_f32);
    for (int64_t i : {2, 3, 6})  // ids 9, 15, 3
      for (int64_t d = 0; d < D2; ++d) CHECK(same_bits(out_half[i * D2 + d], 0.0f));
    for (int64_t d = 0; d < D2; ++d) CHECK(same_bits(out_half[0 * D2 + d], wide[2 * D2 + d]));  // id 12 -> row 2
  }
}

TEST_CASE("cpu backend: operands of the wrong dtype or shape are refused with a message") {
  auto be = make_cpu_backend();
  std::vector<float> f(64, 1.0f);
  std::vector<uint16_t> h(64, 0);
  std::vector<int32_t> ids{0, 1};
  Tensor x(f.data(), DType::F32, {2, 4}), w(f.data(), DType::F32, {3, 4}), y(f.data(), DType::F32, {2, 3});
  Tensor wb(h.data(), DType::BF16, {3, 4});

  CHECK_THROWS_WITH_AS(be->gemm(Tensor(h.data(), DType::BF16, {2, 4}), w, nullptr, y),
                       doctest::Contains("gemm x must be a host f32 tensor (got bf16)"), Error);
  CHECK_THROWS_WITH_AS(be->gemm(Tensor(h.data(), DType::F16, {2, 4}), wb, nullptr, y),
                       doctest::Contains("gemm x must be a host f32 tensor (got f16)"), Error);
  CHECK_THROWS_WITH_AS(be->gemm(x, Tensor(f.data(), DType::I32, {3, 4}), nullptr, y),
                       doctest::Contains("gemm w must be a host f32, bf16 or f16 tensor (got i32)"), Error);
  CHECK_THROWS_WITH_AS(be->gemm(x, wb, nullptr, Tensor(h.data(), DType::BF16, {2, 3})),
                       doctest::Contains("gemm y must be a host f32 tensor (got bf16)"), Error);
  Tensor bias_h(h.data(), DType::BF16, {3});
  CHECK_THROWS_WITH_AS(be->gemm(x, wb, &bias_h, y), doctest::Contains("gemm bias must be a host f32 tensor (got bf16)"),
                       Error);
  CHECK_THROWS_WITH_AS(be->gemm(x, Tensor(h.data(), DType::BF16, {3, 5}), nullptr, y),
                       doctest::Contains("do not fit"), Error);
  Tensor bias4(f.data(), DType::F32, {4});
  CHECK_THROWS_WITH_AS(be->gemm(x, wb, &bias4, y), doctest::Contains("bias [4] does not fit"), Error);

  int32_t slot_token = 0;
  Tensor slots(&slot_token, DType::I32, {1});
  CHECK_THROWS_WITH_AS(be->embed(Tensor(h.data(), DType::BF16, {4, 4}), 0, slots, Tensor(f.data(), DType::F32, {2, 4})),
                       doctest::Contains("outside a step"), Error);
  StepPlan plan;
  begin_ids(*be, plan, ids);
  CHECK_THROWS_WITH_AS(be->embed(Tensor(f.data(), DType::I32, {4, 4}), 0, slots, Tensor(f.data(), DType::F32, {2, 4})),
                       doctest::Contains("embed table must be a host f32, bf16 or f16 tensor (got i32)"), Error);
  CHECK_THROWS_WITH_AS(be->embed(Tensor(h.data(), DType::BF16, {4, 4}), 0, slots, Tensor(h.data(), DType::BF16, {2, 4})),
                       doctest::Contains("embed out must be a host f32 tensor (got bf16)"), Error);
  CHECK_THROWS_WITH_AS(be->embed(Tensor(h.data(), DType::BF16, {4, 4}), 0, slots, Tensor(f.data(), DType::F32, {2, 5})),
                       doctest::Contains("does not fit"), Error);
  CHECK_THROWS_WITH_AS(be->embed(Tensor(h.data(), DType::BF16, {4, 4}), 0, Tensor(f.data(), DType::F32, {1}),
                                 Tensor(f.data(), DType::F32, {2, 4})),
                       doctest::Contains("embed slot_tokens must be a host i32 tensor (got f32)"), Error);

  // every other kernel stays float32-only
  CHECK_THROWS_WITH_AS(be->rmsnorm(x, Tensor(h.data(), DType::BF16, {4}), 1e-6f, x),
                       doctest::Contains("rmsnorm w must be a host f32 tensor (got bf16)"), Error);
  CHECK_THROWS_WITH_AS(be->add(x, Tensor(h.data(), DType::F16, {2, 4})),
                       doctest::Contains("add x must be a host f32 tensor (got f16)"), Error);
  CHECK_THROWS_WITH_AS(be->silu_mul(Tensor(h.data(), DType::BF16, {2, 4}), Tensor(f.data(), DType::F32, {2, 2})),
                       doctest::Contains("silu_mul gu must be a host f32 tensor (got bf16)"), Error);
  float pairs[2];
  CHECK_THROWS_WITH_AS(be->argmax(Tensor(h.data(), DType::BF16, {1, 4}), 4, 0, Tensor(pairs, DType::F32, {1, 2})),
                       doctest::Contains("argmax x must be a host f32 tensor (got bf16)"), Error);
}

TEST_CASE("cpu gemm: f32 weights keep their path; empty K gives the bias") {
  auto be = make_cpu_backend();
  // y[2,2] = x[2,3] . w[2,3]^T + b
  std::vector<float> x{1, 2, 3, 4, 5, 6}, w{1, 0, -1, 0.5f, 0.5f, 0.5f}, b{10, 20}, y(4, 0.0f);
  Tensor tb(b.data(), DType::F32, {2});
  be->gemm(Tensor(x.data(), DType::F32, {2, 3}), Tensor(w.data(), DType::F32, {2, 3}), &tb,
           Tensor(y.data(), DType::F32, {2, 2}));
  CHECK(y == std::vector<float>{10 - 2, 20 + 3, 10 - 2, 20 + 7.5f});
  std::vector<uint16_t> wh(2);
  std::vector<float> y0(6, 5.0f);
  be->gemm(Tensor(x.data(), DType::F32, {3, 0}), Tensor(wh.data(), DType::BF16, {2, 0}), &tb,
           Tensor(y0.data(), DType::F32, {3, 2}));
  CHECK(y0 == std::vector<float>{10, 20, 10, 20, 10, 20});
}
