// The kernels of the non-Llama block recipes (GPT-2, OPT): LayerNorm with bias, the elementwise activations, the
// bias of a row-parallel linear, learned absolute positions. Same arithmetic as the cpu backend (float32, the
// LayerNorm statistics in double), results differing only by the order of sums.
#include <cstdint>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_device.cuh"
#include "backend/cuda/cuda_kernels.h"

namespace autodist::cuda {
namespace {

// Sum over the block in double (blockDim.x a multiple of 32). sh: 32 doubles of shared.
__device__ double block_sum_d(double v, double* sh) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  if (lane == 0) sh[warp] = v;
  __syncthreads();
  double t = 0.0;
  for (int i = 0; i < nw; ++i) t += sh[i];
  __syncthreads();
  return t;
}

// FLOPs ~8*M*C; bytes 8*M*C + 8*C. One block per row; mean, then the variance about it, in double.
__global__ void layernorm_kernel(const float* x, const float* w, const float* b, float eps, float* y, int64_t M,
                                 int64_t C) {
  __shared__ double sh[32];
  for (int64_t m = blockIdx.x; m < M; m += gridDim.x) {
    const float* r = x + m * C;
    float* o = y + m * C;
    double s = 0.0;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) s += r[c];
    const double mean = block_sum_d(s, sh) / static_cast<double>(C);
    double v = 0.0;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) v += (r[c] - mean) * (r[c] - mean);
    const double var = block_sum_d(v, sh) / static_cast<double>(C);  // its barriers order the reads before writes
    const float mu = static_cast<float>(mean), inv = static_cast<float>(1.0 / sqrt(var + eps));
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) o[c] = (r[c] - mu) * inv * w[c] + (b ? b[c] : 0.0f);
  }
}

// FLOPs ~10 per element; bytes 8 per element. kind: Activation as an int.
__global__ void activation_kernel(const float* x, int kind, float* y, int64_t n) {
  AD_GRID_LOOP(i, n) {
    const float v = x[i];
    float r;
    switch (kind) {
      case 0: r = v / (1.0f + expf(-v)); break;
      case 1: r = 0.5f * v * (1.0f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v))); break;
      case 2: r = 0.5f * v * (1.0f + erff(v * 0.7071067811865476f)); break;
      default: r = v > 0.0f ? v : 0.0f; break;
    }
    y[i] = r;
  }
}

// bytes 8*M*N + 4*N.
__global__ void add_bias_kernel(float* y, const float* bias, int64_t M, int64_t N) {
  AD_GRID_LOOP(i, M * N) y[i] += bias[i % N];
}

// bytes T*D*(8 + element size). Row t adds table row pos[t] + offset.
__global__ void add_positions_kernel(float* x, const void* table, int kind, const int32_t* pos, int64_t offset,
                                     int64_t D, int64_t T) {
  AD_GRID_LOOP(i, T * D) {
    const int64_t t = i / D, d = i - t * D, off = (static_cast<int64_t>(pos[t]) + offset) * D + d;
    x[i] += kind == 0 ? static_cast<const float*>(table)[off]
                      : widen_dev(static_cast<const uint16_t*>(table)[off], kind == 1);
  }
}

}  // namespace

void launch_layernorm(const float* x, const float* w, const float* b, float eps, float* y, int64_t M, int64_t C,
                      cudaStream_t s) {
  if (M == 0 || C == 0) return;
  layernorm_kernel<<<row_blocks(M), rows_threads(C), 0, s>>>(x, w, b, eps, y, M, C);
  AD_CUDA_LAUNCH_CHECK("layernorm_kernel");
}

void launch_activation(const float* x, int kind, float* y, int64_t n, cudaStream_t s) {
  if (n == 0) return;
  activation_kernel<<<grid_for(n), kThreads, 0, s>>>(x, kind, y, n);
  AD_CUDA_LAUNCH_CHECK("activation_kernel");
}

void launch_add_bias(float* y, const float* bias, int64_t M, int64_t N, cudaStream_t s) {
  if (M * N == 0) return;
  add_bias_kernel<<<grid_for(M * N), kThreads, 0, s>>>(y, bias, M, N);
  AD_CUDA_LAUNCH_CHECK("add_bias_kernel");
}

void launch_add_positions(float* x, const void* table, DType t, const int32_t* pos, int64_t offset, int64_t D,
                          int64_t T, cudaStream_t s) {
  if (T * D == 0) return;
  const int kind = t == DType::F32 ? 0 : (t == DType::BF16 ? 1 : 2);
  add_positions_kernel<<<grid_for(T * D), kThreads, 0, s>>>(x, table, kind, pos, offset, D, T);
  AD_CUDA_LAUNCH_CHECK("add_positions_kernel");
}

}  // namespace autodist::cuda
