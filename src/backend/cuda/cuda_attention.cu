// Causal (optionally sliding-window) GQA attention over the strided KV cache, flash style: one block per
// (row, head), keys visited in tiles with an online softmax, so shared memory is O(hd + tile) whatever the length.
// Straightforward rather than fast: K and V are read once per (row, head), with no reuse across the rows of a
// segment or the heads of a GQA group, and a long decode runs one block per head (no split over keys).
#include <cstdint>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_kernels.h"

namespace autodist::cuda {
namespace {

constexpr int kAttnThreads = 128;
constexpr int kAttnWarps = kAttnThreads / 32;
constexpr int kKeyTile = 64;  // <= kAttnThreads: one thread exponentiates each score of a tile
constexpr int kDimsPerThread = static_cast<int>((kMaxAttentionHeadDim + kAttnThreads - 1) / kAttnThreads);
static_assert(kKeyTile <= kAttnThreads, "one thread per key of a tile");

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// FLOPs 4*hd*keys per (row, head) (q.k and p.v) plus one expf per key; bytes 8*hd*keys (K and V rows) + 8*hd (q, out),
// keys = min(pos + 1, window). Row r = blockIdx.x at position p = pos[r] of slot[r] attends keys j in [lo, p], lo = p - window + 1
// (window > 0) or 0: scores s_j = scale * q.k_j, out = sum_j exp(s_j - m) v_j / sum_j exp(s_j - m), with the
// running max m and both sums rescaled by exp(m_old - m_new) as each tile raises m.
// Per tile: warps compute the scores (lanes over hd, one key per warp at a time) into shared memory; every thread
// takes the tile max (same values, same order, so all agree), one thread per key exponentiates, and thread t
// accumulates output dims t, t + 128, ... over the tile.
__global__ void __launch_bounds__(kAttnThreads)
    attention_kernel(const float* q, const float* kc, const float* vc, const int32_t* pos, const int32_t* slot,
                     int64_t H, int64_t Hk, int64_t hd, int64_t S, float scale, int64_t window, float* out) {
  extern __shared__ float smem[];
  float* qs = smem;       // [hd]
  float* ps = smem + hd;  // [kKeyTile]: scores, then exp(score - m)
  const int64_t row = blockIdx.x;
  const int64_t h = blockIdx.y, kh = h / (H / Hk);
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;

  const float* qp = q + (row * H + h) * hd;
  for (int64_t d = tid; d < hd; d += kAttnThreads) qs[d] = qp[d];
  __syncthreads();

  const int64_t p = pos[row];
  const int64_t lo = window > 0 ? (p - window + 1 > 0 ? p - window + 1 : 0) : 0;
  const int64_t kstride = Hk * hd;  // floats between consecutive positions of one kv head
  const int64_t base = (static_cast<int64_t>(slot[row]) * S * Hk + kh) * hd;
  const float* kb = kc + base;
  const float* vb = vc + base;

  float acc[kDimsPerThread];
#pragma unroll
  for (int i = 0; i < kDimsPerThread; ++i) acc[i] = 0.0f;
  float m = -INFINITY, l = 0.0f;

  for (int64_t j0 = lo; j0 <= p; j0 += kKeyTile) {
    const int n = static_cast<int>(p - j0 + 1 < kKeyTile ? p - j0 + 1 : kKeyTile);
    for (int jj = warp; jj < n; jj += kAttnWarps) {
      const float* kr = kb + (j0 + jj) * kstride;
      float s = 0.0f;
      for (int64_t d = lane; d < hd; d += 32) s += qs[d] * kr[d];
      s = warp_sum(s);
      if (lane == 0) ps[jj] = s * scale;
    }
    __syncthreads();
    float tmax = -INFINITY;
    for (int jj = 0; jj < n; ++jj) tmax = fmaxf(tmax, ps[jj]);
    const float m_new = fmaxf(m, tmax);
    const float alpha = expf(m - m_new);  // 0 on the first tile (m = -inf)
    __syncthreads();                      // every thread has read the raw scores
    if (tid < n) ps[tid] = expf(ps[tid] - m_new);
    __syncthreads();
    float tsum = 0.0f;
    for (int jj = 0; jj < n; ++jj) tsum += ps[jj];
    l = l * alpha + tsum;
#pragma unroll
    for (int i = 0; i < kDimsPerThread; ++i) {
      const int64_t d = tid + static_cast<int64_t>(i) * kAttnThreads;
      if (d < hd) {
        float a = acc[i] * alpha;
        const float* vr = vb + j0 * kstride + d;
        for (int jj = 0; jj < n; ++jj) a += ps[jj] * vr[jj * kstride];
        acc[i] = a;
      }
    }
    m = m_new;
    __syncthreads();  // ps is overwritten by the next tile
  }

  float* op = out + (row * H + h) * hd;
  const float inv = 1.0f / l;
#pragma unroll
  for (int i = 0; i < kDimsPerThread; ++i) {
    const int64_t d = tid + static_cast<int64_t>(i) * kAttnThreads;
    if (d < hd) op[d] = acc[i] * inv;
  }
}

}  // namespace

void launch_attention(const float* q, const float* kc, const float* vc, const int32_t* pos, const int32_t* slot,
                      int64_t T, int64_t H, int64_t Hk, int64_t hd, int64_t S, float scale, int64_t window, float* out,
                      cudaStream_t s) {
  if (T == 0 || H == 0) return;
  const dim3 grid(static_cast<unsigned>(T), static_cast<unsigned>(H));
  const size_t shmem = static_cast<size_t>(hd + kKeyTile) * sizeof(float);
  attention_kernel<<<grid, kAttnThreads, shmem, s>>>(q, kc, vc, pos, slot, H, Hk, hd, S, scale, window, out);
  AD_CUDA_LAUNCH_CHECK("attention_kernel");
}

}  // namespace autodist::cuda
