// defines: the kernel launchers of the CUDA backend (cuda_kernels.cu, cuda_attention.cu)
//
// Plain host functions: device pointers in, one stream, no synchronisation, no allocation. Shapes as in
// backend.h. Each launcher returns at once for empty work and checks its launch.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "core/dtype.h"

namespace autodist::cuda {

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
// x[T, H, hd] in place; pos[T] (device), cos_sin [positions, hd] (device): cos in [0, hd/2), sin in [hd/2, hd).
void launch_rope(float* x, const int32_t* pos, const float* cos_sin, int64_t T, int64_t H, int64_t hd, cudaStream_t s);
void launch_silu_mul(const float* gu, float* out, int64_t M, int64_t I, cudaStream_t s);
void launch_split_qkv(const float* qkv, float* q, float* k, float* v, int64_t T, int64_t nq, int64_t nk,
                      cudaStream_t s);
void launch_add(float* y, const float* x, int64_t n, cudaStream_t s);
// y[M, C] = layernorm of each row with w (and b, or null) (cuda_block.cu, as the next three).
void launch_layernorm(const float* x, const float* w, const float* b, float eps, float* y, int64_t M, int64_t C,
                      cudaStream_t s);
// y = act(x); kind: the Activation (0 silu, 1 gelu tanh, 2 gelu erf, 3 relu).
void launch_activation(const float* x, int kind, float* y, int64_t n, cudaStream_t s);
// y[M, N] += bias[N].
void launch_add_bias(float* y, const float* bias, int64_t M, int64_t N, cudaStream_t s);
// x[T, D] += table[pos[t] + offset] (table f32, bf16 or f16; pos from the plan).
void launch_add_positions(float* x, const void* table, DType t, const int32_t* pos, int64_t offset, int64_t D,
                          int64_t T, cudaStream_t s);

// Plan arrays (ids, pos, slot [T]; out_rows [R]) are device memory uploaded by begin_step.
// out[T, D]; a row whose id is -1 (kTokenFromDevice) embeds slot_tokens[slot[t]].
void launch_embed(const void* table, DType t, const int32_t* ids, const int32_t* slot, const int32_t* slot_tokens,
                  int64_t vocab_start, int64_t V, int64_t D, float* out, int64_t T, cudaStream_t s);
// Row t of k, v (row = Hk * hd floats) into caches [slots, S, Hk, hd] at (slot[t], pos[t]).
void launch_kv_append(const float* k, const float* v, float* kc, float* vc, const int32_t* pos, const int32_t* slot,
                      int64_t T, int64_t S, int64_t row, cudaStream_t s);
// Row t of q attends the cache of slot[t] up to pos[t] (and > pos[t] - window when window > 0).
void launch_attention(const float* q, const float* kc, const float* vc, const int32_t* pos, const int32_t* slot,
                      int64_t T, int64_t H, int64_t Hk, int64_t hd, int64_t S, float scale, int64_t window, float* out,
                      cudaStream_t s);
// out[R, D] = x[rows[r]].
void launch_gather_rows(const float* x, const int32_t* rows, int64_t R, int64_t D, float* out, cudaStream_t s);
// Per row of x[M, V]: pairs[m] = (max over the first `valid` columns, vocab_start + index of its first occurrence).
void launch_argmax(const float* x, int64_t M, int64_t V, int64_t valid, int64_t vocab_start, float* pairs,
                   cudaStream_t s);
// tokens[r] = best of pairs[G, R, 2] (first part wins ties); slot_tokens[slot[out_rows[r]]] = tokens[r].
void launch_pick(const float* pairs, int64_t G, int64_t R, const int32_t* out_rows, const int32_t* slot,
                 int32_t* tokens, int32_t* slot_tokens, cudaStream_t s);
// out[R, V] = parts[G, R, Vl] side by side, the first V columns.
void launch_gather_vocab(const float* parts, int64_t R, int64_t Vl, int64_t V, float* out, cudaStream_t s);
// slot_tokens[slot[out_rows[r]]] = tokens[r].
void launch_scatter_slots(const int32_t* tokens, int64_t R, const int32_t* out_rows, const int32_t* slot,
                          int32_t* slot_tokens, cudaStream_t s);

}  // namespace autodist::cuda
