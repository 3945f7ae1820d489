#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "core/dtype.h"
#include "core/error.h"

using namespace autodist;

TEST_CASE("bf16 conversion: exact values, rounding to nearest even, inf and NaN") {
  CHECK(bf16_to_f32(f32_to_bf16(1.0f)) == 1.0f);
  CHECK(bf16_to_f32(f32_to_bf16(-2.5f)) == -2.5f);
  CHECK(f32_to_bf16(0.0f) == 0x0000);
  CHECK(f32_to_bf16(-0.0f) == 0x8000);
  // 1 + 2^-8 is exactly halfway between 1 and 1 + 2^-7: ties to even -> 1.0
  CHECK(bf16_to_f32(f32_to_bf16(1.0f + std::ldexp(1.0f, -8))) == 1.0f);
  // 1 + 3*2^-8 is halfway between 1+2^-7 and 1+2^-6: ties to even -> 1 + 2^-6
  CHECK(bf16_to_f32(f32_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8))) == 1.0f + std::ldexp(1.0f, -6));
  // just above halfway rounds up
  CHECK(bf16_to_f32(f32_to_bf16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20))) ==
        1.0f + std::ldexp(1.0f, -7));
  float inf = std::numeric_limits<float>::infinity();
  CHECK(std::isinf(bf16_to_f32(f32_to_bf16(inf))));
  CHECK(bf16_to_f32(f32_to_bf16(-inf)) == -inf);
  CHECK(std::isnan(bf16_to_f32(f32_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  // a NaN whose payload sits only in the low bits must not become inf
  CHECK(std::isnan(bf16_to_f32(f32_to_bf16(bits_f32(0x7f800001u)))));
  // the largest finite float rounds to inf in bf16 (round to nearest even overflows)
  CHECK(std::isinf(bf16_to_f32(f32_to_bf16(std::numeric_limits<float>::max()))));
  // every bf16 bit pattern survives a round trip (NaNs stay NaN)
  for (uint32_t h = 0; h < 65536; ++h) {
    float f = bf16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      CHECK(std::isnan(bf16_to_f32(f32_to_bf16(f))));
    } else {
      REQUIRE(f32_to_bf16(f) == h);
    }
  }
}

TEST_CASE("f16 conversion: normals, subnormals, overflow, round trip of every pattern") {
  CHECK(f16_to_f32(f32_to_f16(1.0f)) == 1.0f);
  CHECK(f32_to_f16(65504.0f) == 0x7bff);
  CHECK(f32_to_f16(65520.0f) == 0x7c00);  // halfway to the next binade rounds to inf
  CHECK(f32_to_f16(std::ldexp(1.0f, -24)) == 0x0001);  // smallest subnormal
  CHECK(f32_to_f16(std::ldexp(1.0f, -25)) == 0x0000);  // halfway to zero: ties to even
  CHECK(f32_to_f16(std::ldexp(1.5f, -25)) == 0x0001);
  CHECK(f32_to_f16(std::ldexp(1.0f, -14)) == 0x0400);  // smallest normal
  CHECK(std::isnan(f16_to_f32(f32_to_f16(std::nanf("")))));
  for (uint32_t h = 0; h < 65536; ++h) {
    float f = f16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      CHECK(std::isnan(f16_to_f32(f32_to_f16(f))));
    } else {
      REQUIRE(f32_to_f16(f) == h);
    }
  }
}

TEST_CASE("dtype names parse both ways") {
  CHECK(parse_safetensors_dtype("BF16") == DType::BF16);
  CHECK(parse_dtype("bfloat16") == DType::BF16);
  CHECK(parse_dtype("f32") == DType::F32);
  CHECK_THROWS_WITH_AS(parse_safetensors_dtype("F8_E4M3"), doctest::Contains("F8_E4M3"), Error);
  CHECK_THROWS_AS(parse_dtype("int4"), Error);
}
