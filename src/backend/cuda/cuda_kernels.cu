// The CUDA backend's kernels except attention (cuda_attention.cu). Same arithmetic as the cpu backend: float32
// everywhere, half weights widened exactly; results differ from it only by the order of float32 sums.
// Elementwise kernels use grid-stride loops with 64-bit indices, so any size runs with a bounded grid.
#include <cstdint>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_device.cuh"
#include "backend/cuda/cuda_kernels.h"
#include "backend/sampling.h"

namespace autodist::cuda {
namespace {

// bytes 4*M*N written; no FLOPs.
__global__ void fill_rows_kernel(float* y, const float* row, int64_t M, int64_t N) {
  AD_GRID_LOOP(i, M * N) y[i] = row[i % N];
}

// bytes 6n; no FLOPs.
__global__ void widen_kernel(const uint16_t* src, bool bf16, float* dst, int64_t n) {
  AD_GRID_LOOP(i, n) dst[i] = widen_dev(src[i], bf16);
}

// FLOPs 2*M*N*K; bytes 2*N*K (w, read once) + 4*M*K (x, from cache) + 4*M*N. One warp per output column n: lanes
// stride over K, each widened weight is multiplied into all MR rows of x, then a warp sum per row.
// kVec: 8 halves (16 bytes) of w and 2 float4 of x per lane and step (K % 8 == 0, 16-byte aligned w and x).
template <int MR, bool kVec>
__global__ void gemm_half_rows_kernel(const float* x, const uint16_t* w, bool bf16, const float* bias, float* y,
                                      int64_t N, int64_t K) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = blockDim.x >> 5;
  for (int64_t n = blockIdx.x * warps + (threadIdx.x >> 5); n < N; n += static_cast<int64_t>(gridDim.x) * warps) {
    const uint16_t* wr = w + n * K;
    float acc[MR];
#pragma unroll
    for (int m = 0; m < MR; ++m) acc[m] = 0.0f;
    if constexpr (kVec) {
      for (int64_t k = static_cast<int64_t>(lane) * 8; k < K; k += 256) {
        const uint4 raw = *reinterpret_cast<const uint4*>(wr + k);
        const uint32_t words[4] = {raw.x, raw.y, raw.z, raw.w};
        float wf[8];
#pragma unroll
        for (int i = 0; i < 4; ++i) {  // little endian: the low half of each word is the lower index
          wf[2 * i] = widen_dev(static_cast<uint16_t>(words[i] & 0xffffu), bf16);
          wf[2 * i + 1] = widen_dev(static_cast<uint16_t>(words[i] >> 16), bf16);
        }
#pragma unroll
        for (int m = 0; m < MR; ++m) {
          const float4* xp = reinterpret_cast<const float4*>(x + m * K + k);
          const float4 a = xp[0], b = xp[1];
          float s = acc[m];
          s += a.x * wf[0];
          s += a.y * wf[1];
          s += a.z * wf[2];
          s += a.w * wf[3];
          s += b.x * wf[4];
          s += b.y * wf[5];
          s += b.z * wf[6];
          s += b.w * wf[7];
          acc[m] = s;
        }
      }
    } else {
      for (int64_t k = lane; k < K; k += 32) {
        const float wk = widen_dev(wr[k], bf16);
#pragma unroll
        for (int m = 0; m < MR; ++m) acc[m] += x[m * K + k] * wk;
      }
    }
#pragma unroll
    for (int m = 0; m < MR; ++m) acc[m] = warp_sum(acc[m]);
    if (lane == 0) {
      const float b = bias ? bias[n] : 0.0f;
#pragma unroll
      for (int m = 0; m < MR; ++m) y[m * N + n] = acc[m] + b;
    }
  }
}

// FLOPs 4*M*C; bytes 8*M*C + 4*C. One block per row: sum of squares, then scale; x may alias y.
__global__ void rmsnorm_kernel(const float* x, const float* w, float eps, float* y, int64_t M, int64_t C) {
  __shared__ float sh[32];
  for (int64_t m = blockIdx.x; m < M; m += gridDim.x) {
    const float* r = x + m * C;
    float* o = y + m * C;
    float ss = 0.0f;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) ss += r[c] * r[c];
    ss = block_sum(ss, sh);  // its barrier orders every read of the row before any write
    const float inv = static_cast<float>(1.0 / sqrt(static_cast<double>(ss) / C + eps));
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) o[c] = r[c] * inv * w[c];
  }
}

// FLOPs ~5*M*I (one expf each); bytes 12*M*I.
__global__ void silu_mul_kernel(const float* gu, float* out, int64_t M, int64_t I) {
  AD_GRID_LOOP(i, M * I) {
    const int64_t m = i / I, j = i - m * I;
    const float a = gu[m * 2 * I + j], b = gu[m * 2 * I + I + j];
    out[i] = a / (1.0f + expf(-a)) * b;
  }
}

// bytes 8*T*(nq + 2 nk); no FLOPs.
__global__ void split_qkv_kernel(const float* qkv, float* q, float* k, float* v, int64_t T, int64_t nq, int64_t nk) {
  const int64_t W = nq + 2 * nk;
  AD_GRID_LOOP(i, T * W) {
    const int64_t t = i / W, c = i - t * W;
    const float val = qkv[i];
    if (c < nq)
      q[t * nq + c] = val;
    else if (c < nq + nk)
      k[t * nk + c - nq] = val;
    else
      v[t * nk + c - nq - nk] = val;
  }
}

// FLOPs n; bytes 12n.
__global__ void add_kernel(float* y, const float* x, int64_t n) { AD_GRID_LOOP(i, n) y[i] += x[i]; }

// ---- kernels that read the step plan (device arrays uploaded by begin_step) ----

// FLOPs 6 per rotated pair; bytes 8*T*H*hd + 4*T + 8*T*hd/2 (table rows). One thread per (t, h, pair); cos/sin of
// row t come from the table row of its position (formed in double on the host, as on the cpu).
__global__ void rope_kernel(float* x, const int32_t* pos, const float* cs, int64_t T, int64_t H, int64_t hd) {
  const int64_t half = hd / 2;
  AD_GRID_LOOP(i, T * H * half) {
    const int64_t p = i % half, th = i / half, t = th / H;
    const float* row = cs + static_cast<int64_t>(pos[t]) * hd;
    const float c = row[p], sn = row[half + p];
    float* r = x + th * hd;
    const float a = r[p], b = r[p + half];
    r[p] = a * c - b * sn;
    r[p + half] = b * c + a * sn;
  }
}

// bytes T*D*(4 + element size) + 8*T; no FLOPs. kind: 0 f32, 1 bf16, 2 f16. ids[t] = -1: the slot's token.
__global__ void embed_kernel(const void* table, int kind, const int32_t* ids, const int32_t* slot,
                             const int32_t* slot_tokens, int64_t vocab_start, int64_t V, int64_t D, float* out,
                             int64_t T) {
  AD_GRID_LOOP(i, T * D) {
    const int64_t t = i / D, d = i - t * D;
    const int32_t id = ids[t] >= 0 ? ids[t] : slot_tokens[slot[t]];
    const int64_t r = static_cast<int64_t>(id) - vocab_start;
    float val = 0.0f;
    if (r >= 0 && r < V) {
      const int64_t off = r * D + d;
      val = kind == 0 ? static_cast<const float*>(table)[off]
                      : widen_dev(static_cast<const uint16_t*>(table)[off], kind == 1);
    }
    out[i] = val;
  }
}

// bytes 16 * T * row (k and v read, both caches written); no FLOPs. Row t goes to (slot[t], pos[t]).
__global__ void kv_append_kernel(const float* k, const float* v, float* kc, float* vc, const int32_t* pos,
                                 const int32_t* slot, int64_t T, int64_t S, int64_t row) {
  AD_GRID_LOOP(i, T * row) {
    const int64_t t = i / row, j = i - t * row;
    const int64_t dst = (static_cast<int64_t>(slot[t]) * S + pos[t]) * row + j;
    kc[dst] = k[i];
    vc[dst] = v[i];
  }
}

// bytes 8*R*D; no FLOPs.
__global__ void gather_rows_kernel(const float* x, const int32_t* rows, int64_t R, int64_t D, float* out) {
  AD_GRID_LOOP(i, R * D) {
    const int64_t r = i / D, d = i - r * D;
    out[i] = x[static_cast<int64_t>(rows[r]) * D + d];
  }
}

// (value, index) a beats b: larger value, or the same value at a smaller index. NaN never beats anything.
__device__ __forceinline__ bool beats(float av, int aj, float bv, int bj) { return av > bv || (av == bv && aj < bj); }

// bytes 4*M*valid + 8*M; compares only. One block per row; the first index of the maximum, as the cpu backend's
// sequential scan. A row with a NaN or infinite logit has no answer: its max is NaN (pick turns it into kBadLogits).
// pairs[m] = (max, vocab_start + index).
__global__ void argmax_kernel(const float* x, int64_t M, int64_t V, int valid, int64_t vocab_start, float* pairs) {
  __shared__ float sv[32];
  __shared__ int sj[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  for (int64_t m = blockIdx.x; m < M; m += gridDim.x) {
    const float* r = x + m * V;
    float bv = -INFINITY;
    int bj = 0x7fffffff;
    int bad = 0;
    for (int j = threadIdx.x; j < valid; j += blockDim.x) {
      const float v = r[j];
      bad |= !isfinite(v);
      if (beats(v, j, bv, bj)) {
        bv = v;
        bj = j;
      }
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
      const float ov = __shfl_xor_sync(0xffffffffu, bv, o);
      const int oj = __shfl_xor_sync(0xffffffffu, bj, o);
      if (beats(ov, oj, bv, bj)) {
        bv = ov;
        bj = oj;
      }
    }
    if (lane == 0) {
      sv[warp] = bv;
      sj[warp] = bj;
    }
    bad = __syncthreads_or(bad);
    if (threadIdx.x == 0) {
      for (int w = 1; w < nw; ++w)
        if (beats(sv[w], sj[w], bv, bj)) {
          bv = sv[w];
          bj = sj[w];
        }
      if (valid <= 0) {
        bv = -INFINITY;
        bj = 0;
      } else if (bad) {
        bv = __int_as_float(0x7fc00000);  // the cpu backend's quiet NaN, bit for bit
        bj = 0;
      }
      pairs[2 * m] = bv;
      pairs[2 * m + 1] = static_cast<float>(vocab_start + bj);
    }
    __syncthreads();  // sv, sj are reused by the next row
  }
}

// One thread per output row: the best of its G candidates (the first part wins ties), as the cpu's pick.
__global__ void pick_kernel(const float* pairs, int64_t G, int64_t R, const int32_t* out_rows, const int32_t* slot,
                            int32_t* tokens, int32_t* slot_tokens) {
  AD_GRID_LOOP(r, R) {
    float best = -INFINITY;
    int32_t bi = static_cast<int32_t>(pairs[2 * r + 1]);
    for (int64_t g = 0; g < G; ++g) {
      const float m = pairs[(g * R + r) * 2];
      if (isnan(m)) {
        bi = kBadLogits;
        break;
      }
      if (m > best) {
        best = m;
        bi = static_cast<int32_t>(pairs[(g * R + r) * 2 + 1]);
      }
    }
    tokens[r] = bi;
    slot_tokens[slot[out_rows[r]]] = bi;
  }
}

// bytes 8*R*V; no FLOPs. out[r, j] = parts[j / Vl, r, j % Vl].
__global__ void gather_vocab_kernel(const float* parts, int64_t R, int64_t Vl, int64_t V, float* out) {
  AD_GRID_LOOP(i, R * V) {
    const int64_t r = i / V, j = i - r * V, g = j / Vl, c = j - g * Vl;
    out[i] = parts[(g * R + r) * Vl + c];
  }
}

__global__ void scatter_slots_kernel(const int32_t* tokens, int64_t R, const int32_t* out_rows, const int32_t* slot,
                                     int32_t* slot_tokens) {
  AD_GRID_LOOP(r, R) slot_tokens[slot[out_rows[r]]] = tokens[r];
}

template <int MR>
void gemm_half_rows_m(bool vec, const float* x, const uint16_t* w, bool bf16, const float* bias, float* y, int64_t N,
                      int64_t K, cudaStream_t s) {
  const unsigned blocks = grid_for(N * 32, kThreads);  // one warp per column
  if (vec)
    gemm_half_rows_kernel<MR, true><<<blocks, kThreads, 0, s>>>(x, w, bf16, bias, y, N, K);
  else
    gemm_half_rows_kernel<MR, false><<<blocks, kThreads, 0, s>>>(x, w, bf16, bias, y, N, K);
  AD_CUDA_LAUNCH_CHECK("gemm_half_rows_kernel");
}

}  // namespace

cudaError_t kernels_loadable() {
  cudaFuncAttributes a;
  return cudaFuncGetAttributes(&a, add_kernel);
}

void launch_fill_rows(float* y, const float* row, int64_t M, int64_t N, cudaStream_t s) {
  if (M * N == 0) return;
  fill_rows_kernel<<<grid_for(M * N), kThreads, 0, s>>>(y, row, M, N);
  AD_CUDA_LAUNCH_CHECK("fill_rows_kernel");
}

void launch_widen(const void* src, DType t, float* dst, int64_t n, cudaStream_t s) {
  if (n == 0) return;
  widen_kernel<<<grid_for(n), kThreads, 0, s>>>(static_cast<const uint16_t*>(src), t == DType::BF16, dst, n);
  AD_CUDA_LAUNCH_CHECK("widen_kernel");
}

void launch_gemm_half_rows(const float* x, const void* w, DType wt, const float* bias, float* y, int64_t M, int64_t N,
                           int64_t K, cudaStream_t s) {
  if (M == 0 || N == 0) return;
  const auto* wp = static_cast<const uint16_t*>(w);
  const bool bf16 = wt == DType::BF16;
  const bool vec = K % 8 == 0 && reinterpret_cast<uintptr_t>(w) % 16 == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0;
  switch (M) {
    case 1: return gemm_half_rows_m<1>(vec, x, wp, bf16, bias, y, N, K, s);
    case 2: return gemm_half_rows_m<2>(vec, x, wp, bf16, bias, y, N, K, s);
    case 3: return gemm_half_rows_m<3>(vec, x, wp, bf16, bias, y, N, K, s);
    case 4: return gemm_half_rows_m<4>(vec, x, wp, bf16, bias, y, N, K, s);
    case 5: return gemm_half_rows_m<5>(vec, x, wp, bf16, bias, y, N, K, s);
    case 6: return gemm_half_rows_m<6>(vec, x, wp, bf16, bias, y, N, K, s);
    case 7: return gemm_half_rows_m<7>(vec, x, wp, bf16, bias, y, N, K, s);
    case 8: return gemm_half_rows_m<8>(vec, x, wp, bf16, bias, y, N, K, s);
    default: throw_cuda_error(cudaErrorInvalidValue, "launch_gemm_half_rows (M outside 1..8)", __FILE__, __LINE__);
  }
}

void launch_rmsnorm(const float* x, const float* w, float eps, float* y, int64_t M, int64_t C, cudaStream_t s) {
  if (M == 0 || C == 0) return;
  rmsnorm_kernel<<<row_blocks(M), rows_threads(C), 0, s>>>(x, w, eps, y, M, C);
  AD_CUDA_LAUNCH_CHECK("rmsnorm_kernel");
}

void launch_silu_mul(const float* gu, float* out, int64_t M, int64_t I, cudaStream_t s) {
  if (M * I == 0) return;
  silu_mul_kernel<<<grid_for(M * I), kThreads, 0, s>>>(gu, out, M, I);
  AD_CUDA_LAUNCH_CHECK("silu_mul_kernel");
}

void launch_split_qkv(const float* qkv, float* q, float* k, float* v, int64_t T, int64_t nq, int64_t nk,
                      cudaStream_t s) {
  const int64_t n = T * (nq + 2 * nk);
  if (n == 0) return;
  split_qkv_kernel<<<grid_for(n), kThreads, 0, s>>>(qkv, q, k, v, T, nq, nk);
  AD_CUDA_LAUNCH_CHECK("split_qkv_kernel");
}

void launch_add(float* y, const float* x, int64_t n, cudaStream_t s) {
  if (n == 0) return;
  add_kernel<<<grid_for(n), kThreads, 0, s>>>(y, x, n);
  AD_CUDA_LAUNCH_CHECK("add_kernel");
}

void launch_rope(float* x, const int32_t* pos, const float* cos_sin, int64_t T, int64_t H, int64_t hd, cudaStream_t s) {
  const int64_t n = T * H * (hd / 2);
  if (n == 0) return;
  rope_kernel<<<grid_for(n), kThreads, 0, s>>>(x, pos, cos_sin, T, H, hd);
  AD_CUDA_LAUNCH_CHECK("rope_kernel");
}

void launch_embed(const void* table, DType t, const int32_t* ids, const int32_t* slot, const int32_t* slot_tokens,
                  int64_t vocab_start, int64_t V, int64_t D, float* out, int64_t T, cudaStream_t s) {
  if (T * D == 0) return;
  const int kind = t == DType::F32 ? 0 : (t == DType::BF16 ? 1 : 2);
  embed_kernel<<<grid_for(T * D), kThreads, 0, s>>>(table, kind, ids, slot, slot_tokens, vocab_start, V, D, out, T);
  AD_CUDA_LAUNCH_CHECK("embed_kernel");
}

void launch_kv_append(const float* k, const float* v, float* kc, float* vc, const int32_t* pos, const int32_t* slot,
                      int64_t T, int64_t S, int64_t row, cudaStream_t s) {
  if (T * row == 0) return;
  kv_append_kernel<<<grid_for(T * row), kThreads, 0, s>>>(k, v, kc, vc, pos, slot, T, S, row);
  AD_CUDA_LAUNCH_CHECK("kv_append_kernel");
}

void launch_gather_rows(const float* x, const int32_t* rows, int64_t R, int64_t D, float* out, cudaStream_t s) {
  if (R * D == 0) return;
  gather_rows_kernel<<<grid_for(R * D), kThreads, 0, s>>>(x, rows, R, D, out);
  AD_CUDA_LAUNCH_CHECK("gather_rows_kernel");
}

void launch_argmax(const float* x, int64_t M, int64_t V, int64_t valid, int64_t vocab_start, float* pairs,
                   cudaStream_t s) {
  if (M == 0) return;
  argmax_kernel<<<row_blocks(M), kThreads, 0, s>>>(x, M, V, static_cast<int>(valid), vocab_start, pairs);
  AD_CUDA_LAUNCH_CHECK("argmax_kernel");
}

void launch_pick(const float* pairs, int64_t G, int64_t R, const int32_t* out_rows, const int32_t* slot,
                 int32_t* tokens, int32_t* slot_tokens, cudaStream_t s) {
  if (R == 0) return;
  pick_kernel<<<grid_for(R), kThreads, 0, s>>>(pairs, G, R, out_rows, slot, tokens, slot_tokens);
  AD_CUDA_LAUNCH_CHECK("pick_kernel");
}

void launch_gather_vocab(const float* parts, int64_t R, int64_t Vl, int64_t V, float* out, cudaStream_t s) {
  if (R * V == 0) return;
  gather_vocab_kernel<<<grid_for(R * V), kThreads, 0, s>>>(parts, R, Vl, V, out);
  AD_CUDA_LAUNCH_CHECK("gather_vocab_kernel");
}

void launch_scatter_slots(const int32_t* tokens, int64_t R, const int32_t* out_rows, const int32_t* slot,
                          int32_t* slot_tokens, cudaStream_t s) {
  if (R == 0) return;
  scatter_slots_kernel<<<grid_for(R), kThreads, 0, s>>>(tokens, R, out_rows, slot, slot_tokens);
  AD_CUDA_LAUNCH_CHECK("scatter_slots_kernel");
}

}  // namespace autodist::cuda
