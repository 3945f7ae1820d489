// defines: the kernel launchers of the CUDA backend (cuda_kernels.cu, cuda_attention.cu)
//
// Plain host functions: device pointers in, one stream, no synchronisation, no allocation. Shapes as in
// backend.h. Each launcher returns at once for empty work and checks its launch.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "core/dtype.h"

namespace autodist::cuda {

// Same layout as AttnSegment (checked in cuda_backend.cpp), so the host vector uploads as is.
struct SegDev {
  int32_t slot, start_pos, len, row;
};
// One row of an attention call: its row in q/out, its position in the sequence, its cache slot.
struct AttnRowDev {
  int32_t row, pos, slot, pad;
};

// Largest head dim the attention kernel takes (registers per thread).
constexpr int64_t kMaxAttentionHeadDim = 512;
// gemm with half weights and at most this many rows of x uses launch_gemm_half_rows.
constexpr int64_t kMaxHalfDotRows = 8;

// cudaSuccess when this build's kernels can run on the current device (SASS or PTX for its architecture).
cudaError_t kernels_loadable();

// y[M, N] = bias[N] per row.
void launch_fill_rows(float* y, const float* row, int64_t M, int64_t N, cudaStream_t s);
// dst[n] = src[n] widened from bf16 / f16 to f32, exactly.
void launch_widen(const void* src, DType t, float* dst, int64_t n, cudaStream_t s);
// y[M, N] = x[M, K] . w[N, K]^T (+ bias) for half w and 1 <= M <= kMaxHalfDotRows: w read once, widened in
// registers, f32 products and sums.
void launch_gemm_half_rows(const float* x, const void* w, DType wt, const float* bias, float* y, int64_t M, int64_t N,
                           int64_t K, cudaStream_t s);
void launch_rmsnorm(const float* x, const float* w, float eps, float* y, int64_t M, int64_t C, cudaStream_t s);
// x[T, H, hd] in place; pos[T] and inv_freq[hd/2] in device memory.
void launch_rope(float* x, const int32_t* pos, const double* inv_freq, double attention_factor, int64_t T, int64_t H,
                 int64_t hd, cudaStream_t s);
void launch_silu_mul(const float* gu, float* out, int64_t M, int64_t I, cudaStream_t s);
void launch_split_qkv(const float* qkv, float* q, float* k, float* v, int64_t T, int64_t nq, int64_t nk,
                      cudaStream_t s);
void launch_add(float* y, const float* x, int64_t n, cudaStream_t s);
// out[T, D]; ids[T] in device memory.
void launch_embed(const void* table, DType t, const int32_t* ids, int64_t vocab_start, int64_t V, int64_t D, float* out,
                  int64_t T, cudaStream_t s);
// segs[nseg] in device memory; row = Hk * hd floats per position; max_len the longest segment.
void launch_kv_append(const float* k, const float* v, float* kc, float* vc, const SegDev* segs, int64_t nseg, int64_t S,
                      int64_t row, int64_t max_len, cudaStream_t s);
// rows[nrows] in device memory; caches [slots, S, Hk, hd].
void launch_attention(const float* q, const float* kc, const float* vc, const AttnRowDev* rows, int64_t nrows,
                      int64_t H, int64_t Hk, int64_t hd, int64_t S, float scale, int64_t window, float* out,
                      cudaStream_t s);
// Per row of x[M, V]: max over the first `valid` columns and the index of its first occurrence (device outputs).
void launch_argmax(const float* x, int64_t M, int64_t V, int64_t valid, float* max_out, int32_t* idx_out,
                   cudaStream_t s);

}  // namespace autodist::cuda
