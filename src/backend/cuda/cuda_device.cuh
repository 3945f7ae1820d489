// defines: the device helpers the CUDA backend's kernel files share (grid sizes, grid-stride loops, exact half
//          widening, warp and block sums). Included by *.cu only.
#pragma once
#include <cstdint>

namespace autodist::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = int64_t{1} << 20;

inline unsigned grid_for(int64_t n, int threads = kThreads) {
  int64_t b = (n + threads - 1) / threads;
  return static_cast<unsigned>(b < kMaxBlocks ? b : kMaxBlocks);
}

#define AD_GRID_LOOP(i, n)                                                               \
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); \
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)

// Exact widening, bit for bit as bf16_to_f32 / f16_to_f32 in core/dtype (NaN payloads included).
__device__ __forceinline__ float bf16_to_f32_dev(uint16_t h) { return __uint_as_float(static_cast<uint32_t>(h) << 16); }

__device__ __forceinline__ float f16_to_f32_dev(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0) {  // zero or subnormal: m * 2^-24, exact in float
    float f = static_cast<float>(m) * 0x1p-24f;
    return sign ? -f : f;
  }
  if (e == 31) return __uint_as_float(sign | 0x7f800000u | (m << 13));  // inf / NaN
  return __uint_as_float(sign | ((e + 112u) << 23) | (m << 13));
}

__device__ __forceinline__ float widen_dev(uint16_t h, bool bf16) {
  return bf16 ? bf16_to_f32_dev(h) : f16_to_f32_dev(h);
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Sum over the block (blockDim.x a multiple of 32); every thread gets the same value. sh: 32 floats of shared.
__device__ __forceinline__ float block_sum(float v, float* sh) {
  v = warp_sum(v);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  if (lane == 0) sh[warp] = v;
  __syncthreads();
  float t = 0.0f;
  for (int i = 0; i < nw; ++i) t += sh[i];
  __syncthreads();  // sh is free again for the next call
  return t;
}


inline int rows_threads(int64_t C) {  // threads per row-block: a warp at least, 256 at most, no idle warps for small C
  int64_t t = (C + 31) / 32 * 32;
  return static_cast<int>(t < 32 ? 32 : (t > kThreads ? kThreads : t));
}

inline unsigned row_blocks(int64_t M) { return static_cast<unsigned>(M < kMaxBlocks ? M : kMaxBlocks); }


}  // namespace
}  // namespace autodist::cuda
