// defines: the cpu backend's half-weight kernels (cpu_half.cpp): widen_exact, DotArgs, gemm_half_dot,
//          gemm_half_blocked
//
// gemm with half w takes one of two paths:
//  - few rows of x (M <= kMaxDotRows: decode): gemm_half_dot reads each row of w once, widens it in registers and
//    dots it with up to 8 rows of x at a time; N is split over a few persistent worker threads.
//  - more rows (prefill): gemm_half_blocked widens a block of rows of w into a reused float32 scratch and lets
//    cblas_sgemm (and its threads) write the matching columns of y.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace autodist::cpu {

// n elements of a bf16/f16 array -> float32, bit-exact (NaN payloads included).
void widen_exact(DType t, const void* src, float* dst, size_t n);

// y[m, n] = x[m, :] . w[n, :] (+ bias[n]): w half [N, K], x f32 [M, K], y f32 [M, N].
struct DotArgs {
  const float* x;
  const uint16_t* w;
  const float* bias;
  float* y;
  int64_t M, N, K;
  DType wt;
};

// gemm with M <= this many rows uses gemm_half_dot, more rows widen + sgemm. Measured at K=4096, N=14336 (Zen 5):
// the two are even at M = 12..16 on one thread, the dot path is 1.5x faster at M = 9 and with two threads.
constexpr int64_t kMaxDotRows = 16;

void gemm_half_dot(const DotArgs& a);
void gemm_half_blocked(const DotArgs& a);

}  // namespace autodist::cpu
