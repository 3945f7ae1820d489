// The cpu backend's kernels of the GPT-2 / OPT block recipes against closed-form values: layernorm with and without
// bias, gelu_new (tanh form), exact gelu, relu, silu, the bias of a row-parallel linear, learned positions (with an
// offset, from an f32 and a bf16 table).
#include <doctest/doctest.h>

#include <climits>
#include <cmath>
#include <vector>

#include "backend/backend.h"
#include "core/dtype.h"
#include "core/error.h"

using namespace autodist;

namespace {
Tensor f32(std::vector<float>& v, Shape s) { return Tensor(v.data(), DType::F32, s); }
}  // namespace

TEST_CASE("cpu layernorm: mean 0, variance 1, then weight and bias") {
  auto be = make_cpu_backend();
  std::vector<float> x{1, 2, 3, 4, -2, 0, 2, 4}, w{1, 2, 1, 0.5f}, b{0.5f, 0, -1, 0}, y(8);
  be->layernorm(f32(x, {2, 4}), f32(w, {4}), nullptr, 0.0f, f32(y, {2, 4}));
  // row 0: mean 2.5, var 1.25; row 1: mean 1, var 5
  const double s0 = 1 / std::sqrt(1.25), s1 = 1 / std::sqrt(5.0);
  CHECK(y[0] == doctest::Approx(-1.5 * s0));
  CHECK(y[1] == doctest::Approx(-0.5 * s0 * 2));
  CHECK(y[3] == doctest::Approx(1.5 * s0 * 0.5));
  CHECK(y[4] == doctest::Approx(-3 * s1));
  const Tensor bias = f32(b, {4}), short_bias = f32(b, {3});
  be->layernorm(f32(x, {2, 4}), f32(w, {4}), &bias, 1e-5f, f32(y, {2, 4}));
  const double e0 = 1 / std::sqrt(1.25 + 1e-5);
  CHECK(y[0] == doctest::Approx(-1.5 * e0 + 0.5));
  CHECK(y[2] == doctest::Approx(0.5 * e0 - 1));
  CHECK_THROWS_WITH_AS(be->layernorm(f32(x, {2, 4}), f32(w, {4}), &short_bias, 1e-5f, f32(y, {2, 4})),
                       doctest::Contains("rows of the 4 values"), Error);
}

TEST_CASE("cpu activations: gelu_new, exact gelu, relu, silu") {
  auto be = make_cpu_backend();
  const std::vector<float> in{-3.0f, -1.0f, -0.1f, 0.0f, 0.5f, 1.0f, 2.5f};
  auto run = [&](Activation a) {
    std::vector<float> x = in, y(in.size());
    be->activation(f32(x, {7}), a, f32(y, {7}));
    return y;
  };
  auto gn = run(Activation::GeluTanh), ge = run(Activation::Gelu), re = run(Activation::Relu),
       si = run(Activation::Silu);
  for (size_t i = 0; i < in.size(); ++i) {
    const double v = in[i];
    CHECK(gn[i] == doctest::Approx(0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)))));
    CHECK(ge[i] == doctest::Approx(0.5 * v * (1 + std::erf(v / std::sqrt(2.0)))));
    CHECK(re[i] == doctest::Approx(v > 0 ? v : 0));
    CHECK(si[i] == doctest::Approx(v / (1 + std::exp(-v))));
  }
  // the two gelus differ (by ~1e-3 near x = -1.4): the tanh form is not exact gelu
  CHECK(std::fabs(gn[1] - ge[1]) > 1e-5);
  std::vector<float> x = in;
  be->activation(f32(x, {7}), Activation::Relu, f32(x, {7}));  // in place
  CHECK(x[0] == 0.0f);
  CHECK(x[6] == 2.5f);
}

TEST_CASE("cpu add_bias and add_positions (plan positions, offset, f32 and bf16 tables)") {
  auto be = make_cpu_backend();
  std::vector<float> y{1, 2, 3, 4, 5, 6}, b{10, 20, 30};
  be->add_bias(f32(y, {2, 3}), f32(b, {3}));
  CHECK(y == std::vector<float>{11, 22, 33, 14, 25, 36});
  // table rows r = (r, 2r); rows at positions 3, 4 of slot 0 and 0 of slot 1, offset 2: rows 5, 6, 2
  std::vector<float> table(2 * 8);
  for (int r = 0; r < 8; ++r) table[2 * r] = static_cast<float>(r), table[2 * r + 1] = 2.0f * r;
  StepPlan p;
  std::vector<int32_t> ids{0, 0, 0};
  p.add(0, 3, 2, ids.data());
  p.add(1, 0, 1, ids.data());
  be->prepare({3, 8, 2, 1, 10});
  be->begin_step(p);
  std::vector<float> x(6, 1.0f);
  be->add_positions(f32(x, {3, 2}), f32(table, {8, 2}), 2);
  CHECK(x == std::vector<float>{6, 11, 7, 13, 3, 5});
  std::vector<uint16_t> half(table.size());
  convert_from_f32(table.data(), DType::BF16, half.data(), table.size());
  std::vector<float> xh(6, 1.0f);
  be->add_positions(f32(xh, {3, 2}), Tensor(half.data(), DType::BF16, {8, 2}), 2);
  CHECK(xh == x);  // small integers are exact in bf16
  CHECK_THROWS_WITH_AS(be->add_positions(f32(x, {3, 2}), f32(table, {8, 2}), 4),
                       doctest::Contains("beyond the 8 rows"), Error);
}
