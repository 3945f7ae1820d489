// defines: DType, dtype_size, dtype_name, parse_dtype, bf16/f16 <-> f32 conversion, convert_to_f32
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace autodist {

enum class DType : uint8_t { F32, BF16, F16, I32, I64 };

size_t dtype_size(DType t);
const char* dtype_name(DType t);           // "f32", "bf16", ...
const char* safetensors_name(DType t);     // "F32", "BF16", ...
DType parse_safetensors_dtype(const std::string& s);  // throws on unsupported
DType parse_dtype(const std::string& s);   // f32|float32|bf16|bfloat16|f16|float16

inline uint32_t f32_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float bits_f32(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// bf16: the top half of a float32. Round to nearest even; NaN stays a (quiet) NaN.
inline uint16_t f32_to_bf16(float f) {
  uint32_t u = f32_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x0040u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}
inline float bf16_to_f32(uint16_t h) { return bits_f32(static_cast<uint32_t>(h) << 16); }

// IEEE binary16 with subnormals, inf, NaN; round to nearest even.
uint16_t f32_to_f16(float f);
float f16_to_f32(uint16_t h);

// Convert n elements of src (dtype t) to float32.
void convert_to_f32(const void* src, DType t, float* dst, size_t n);
// Convert n float32 elements to dtype t (float types only).
void convert_from_f32(const float* src, DType t, void* dst, size_t n);
// Convert n elements of dtype st to dtype dt (a copy when they are the same).
void convert(const void* src, DType st, void* dst, DType dt, size_t n);

}  // namespace autodist
