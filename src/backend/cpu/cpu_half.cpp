// The cpu backend's kernels for weight matrices held in bf16 / f16: widened to float32 on the fly (exactly), every
// product and sum float32. See cpu_half.h.
#include "backend/cpu/cpu_half.h"

#include <cblas.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

namespace autodist::cpu {
namespace {

// Baseline code (any target) uses GCC vector extensions, which vectorise at -O2 without intrinsics;
// widen_exact is bit-identical to bf16_to_f32 / f16_to_f32 (NaN payloads included) and serves embed too.
// On x86 with avx2+fma+f16c (checked at run time) the namespace avx2 below takes over the gemm paths
// (vcvtph2ps there quiets signalling NaNs; a NaN weight still gives NaN).
//
// -Wpsabi: 32-byte vector values passed between internal helpers in the baseline build; no ABI is crossed.
// GCC reports it at the end of the file, so it stays off for the file.
#pragma GCC diagnostic ignored "-Wpsabi"

using v8f = float __attribute__((vector_size(32)));
using v8u = uint32_t __attribute__((vector_size(32)));
using v8h = uint16_t __attribute__((vector_size(16)));

inline v8f load8(const float* p) {
  v8f v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// 8 halves -> 8 floats, exact.
template <DType T>
inline v8f widen8(const uint16_t* p) {
  v8h h;
  std::memcpy(&h, p, sizeof h);
  v8u u = __builtin_convertvector(h, v8u);
  if constexpr (T == DType::BF16) {
    return (v8f)(u << 16);
  } else {
    // Exponent and mantissa moved into float position and rebiased (15 -> 127); inf/NaN get the rest of the
    // exponent; zero/subnormal are renormalised by an exact float subtraction of 2^-14.
    v8u o = (u & 0x7fffu) << 13;
    v8u e = o & 0x0f800000u;
    o += 112u << 23;
    v8u inf_nan = (v8u)(e == 0x0f800000u);
    o += inf_nan & (112u << 23);
    v8u sub = (v8u)(e == 0u);
    v8u renorm = (v8u)((v8f)(o + (1u << 23)) - 0x1p-14f);
    o = (sub & renorm) | (~sub & o);
    return (v8f)(o | ((u & 0x8000u) << 16));
  }
}

template <DType T>
inline float widen1(uint16_t h) {
  if constexpr (T == DType::BF16)
    return bf16_to_f32(h);
  else
    return f16_to_f32(h);
}

template <DType T>
void widen_exact_impl(const uint16_t* s, float* d, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    v8f v = widen8<T>(s + i);
    std::memcpy(d + i, &v, sizeof v);
  }
  for (; i < n; ++i) d[i] = widen1<T>(s[i]);
}

}  // namespace

void widen_exact(DType t, const void* src, float* dst, size_t n) {
  auto* s = static_cast<const uint16_t*>(src);
  if (t == DType::BF16)
    widen_exact_impl<DType::BF16>(s, dst, n);
  else
    widen_exact_impl<DType::F16>(s, dst, n);
}

namespace {

// Baseline: widen one row of w into a scratch row, then one dot product per row of x.
void dot_rows_base(const DotArgs& a, int64_t n0, int64_t n1) {
  thread_local std::vector<float> row;
  const int64_t K = a.K, K8 = K / 8 * 8;
  if (row.size() < static_cast<size_t>(K)) row.resize(static_cast<size_t>(K));
  for (int64_t n = n0; n < n1; ++n) {
    widen_exact(a.wt, a.w + n * K, row.data(), static_cast<size_t>(K));
    for (int64_t m = 0; m < a.M; ++m) {
      const float* xr = a.x + m * K;
      v8f acc0 = {}, acc1 = {};
      int64_t k = 0;
      for (; k + 16 <= K; k += 16) {
        acc0 += load8(xr + k) * load8(row.data() + k);
        acc1 += load8(xr + k + 8) * load8(row.data() + k + 8);
      }
      if (k < K8) acc0 += load8(xr + k) * load8(row.data() + k);
      acc0 += acc1;
      float s = ((acc0[0] + acc0[4]) + (acc0[1] + acc0[5])) + ((acc0[2] + acc0[6]) + (acc0[3] + acc0[7]));
      for (k = K8; k < K; ++k) s += xr[k] * row[k];
      a.y[m * a.N + n] = s + (a.bias ? a.bias[n] : 0.0f);
    }
  }
}

#if defined(__x86_64__) || defined(__i386__)
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
namespace avx2 {

template <DType T>
inline __m256 widen8(const uint16_t* p) {
  __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  if constexpr (T == DType::BF16)
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  else
    return _mm256_cvtph_ps(h);
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Software prefetch distance along w: without it the stream from memory runs at a third of the bandwidth as soon
// as each row of w feeds two or more rows of x (measured on a Zen 5 box).
constexpr uintptr_t kPrefetchBytes = 4096;

// Rows [n, n+R) of w, widened in registers once per 8 elements and multiplied into all M rows of x (which stay
// in cache). R*M*U independent accumulators hide the FMA latency; 32 elements (a cache line of w) per step.
template <DType T, int M, int R, int U>
void dot_block(const DotArgs& a, int64_t n) {
  const int64_t K = a.K, K32 = K / 32 * 32, K8 = K / 8 * 8;
  const float* x = a.x;
  const uint16_t* wr[R];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) wr[r] = a.w + (n + r) * K;
  __m256 acc[R][M][U];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int m = 0; m < M; ++m)
#pragma GCC unroll 4
      for (int u = 0; u < U; ++u) acc[r][m][u] = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k < K32; k += 32) {
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r)
      _mm_prefetch(reinterpret_cast<const char*>(reinterpret_cast<uintptr_t>(wr[r] + k) + kPrefetchBytes),
                   _MM_HINT_T0);
#pragma GCC unroll 4
    for (int s = 0; s < 4; ++s) {
      __m256 wv[R];
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) wv[r] = widen8<T>(wr[r] + k + 8 * s);
#pragma GCC unroll 8
      for (int m = 0; m < M; ++m) {
        __m256 xv = _mm256_loadu_ps(x + m * K + k + 8 * s);
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) acc[r][m][s % U] = _mm256_fmadd_ps(xv, wv[r], acc[r][m][s % U]);
      }
    }
  }
  for (; k < K8; k += 8) {
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      __m256 wv = widen8<T>(wr[r] + k);
#pragma GCC unroll 8
      for (int m = 0; m < M; ++m) acc[r][m][0] = _mm256_fmadd_ps(_mm256_loadu_ps(x + m * K + k), wv, acc[r][m][0]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
    float s[M];
#pragma GCC unroll 8
    for (int m = 0; m < M; ++m) {
#pragma GCC unroll 4
      for (int u = 1; u < U; ++u) acc[r][m][0] = _mm256_add_ps(acc[r][m][0], acc[r][m][u]);
      s[m] = hsum(acc[r][m][0]);
    }
    for (int64_t j = K8; j < K; ++j) {
      float wk = widen1<T>(wr[r][j]);
#pragma GCC unroll 8
      for (int m = 0; m < M; ++m) s[m] += x[m * K + j] * wk;
    }
    float b = a.bias ? a.bias[n + r] : 0.0f;
#pragma GCC unroll 8
    for (int m = 0; m < M; ++m) a.y[m * a.N + n + r] = s[m] + b;
  }
}

// Rows [n0, n1) in blocks of R, the last few one at a time.
template <DType T, int M, int R, int U>
void dot(const DotArgs& a, int64_t n0, int64_t n1) {
  int64_t n = n0;
  for (; n + R <= n1; n += R) dot_block<T, M, R, U>(a, n);
  for (; n < n1; ++n) dot_block<T, M, 1, std::min(4, (8 + M - 1) / M)>(a, n);
}

template <DType T>
void dot_m(const DotArgs& a, int64_t n0, int64_t n1) {
  switch (a.M) {  // rows of w per block R and accumulators per pair U: R*M*U >= 8 where registers allow
    case 1: return dot<T, 1, 1, 4>(a, n0, n1);
    case 2: return dot<T, 2, 4, 1>(a, n0, n1);
    case 3: return dot<T, 3, 3, 1>(a, n0, n1);
    case 4: return dot<T, 4, 2, 1>(a, n0, n1);
    case 5: return dot<T, 5, 1, 1>(a, n0, n1);
    case 6: return dot<T, 6, 1, 1>(a, n0, n1);
    case 7: return dot<T, 7, 1, 1>(a, n0, n1);
    case 8: return dot<T, 8, 1, 1>(a, n0, n1);
    default: return dot_rows_base(a, n0, n1);  // not reached: dot_rows sends 1 <= M <= 8
  }
}

void dot_rows(const DotArgs& a, int64_t n0, int64_t n1) {
  if (a.wt == DType::BF16)
    dot_m<DType::BF16>(a, n0, n1);
  else
    dot_m<DType::F16>(a, n0, n1);
}

template <DType T>
void widen_impl(const uint16_t* s, float* d, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(d + i, widen8<T>(s + i));
  for (; i < n; ++i) d[i] = widen1<T>(s[i]);
}

void widen(DType t, const uint16_t* s, float* d, size_t n) {
  if (t == DType::BF16)
    widen_impl<DType::BF16>(s, d, n);
  else
    widen_impl<DType::F16>(s, d, n);
}

}  // namespace avx2
#pragma GCC pop_options

bool use_avx2() {
  static const bool ok =
      __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  return ok;
}
#endif

// The kernels take up to 8 rows of x at a time (registers); more rows go in groups, each reading w again.
void dot_rows(const DotArgs& a, int64_t n0, int64_t n1) {
  for (int64_t m0 = 0; m0 < a.M; m0 += 8) {
    DotArgs g = a;
    g.x = a.x + m0 * a.K;
    g.y = a.y + m0 * a.N;
    g.M = std::min<int64_t>(8, a.M - m0);
#if defined(__x86_64__) || defined(__i386__)
    if (use_avx2()) {
      avx2::dot_rows(g, n0, n1);
      continue;
    }
#endif
    dot_rows_base(g, n0, n1);
  }
}

// For the gemm path: as widen_exact, except that it may quiet signalling NaNs.
void widen_fast(DType t, const void* src, float* dst, size_t n) {
#if defined(__x86_64__) || defined(__i386__)
  if (use_avx2()) return avx2::widen(t, static_cast<const uint16_t*>(src), dst, n);
#endif
  widen_exact(t, src, dst, n);
}

// ---- a few persistent worker threads for the kernels that OpenBLAS does not run ---------------------------
// Started on first use with hardware_concurrency()-1 threads; run() hands parts 1..parts-1 to them and runs
// part 0 on the caller. No allocation per call. Callers are serialised.
class Workers {
 public:
  static Workers& get() {
    static Workers w;
    return w;
  }
  int capacity() const { return static_cast<int>(threads_.size()) + 1; }

  void run(int parts, void (*fn)(void*, int), void* ctx) {
    parts = std::clamp(parts, 1, capacity());
    if (parts == 1) return fn(ctx, 0);
    std::lock_guard<std::mutex> one_at_a_time(run_mu_);
    {
      std::lock_guard<std::mutex> lk(mu_);
      fn_ = fn;
      ctx_ = ctx;
      parts_ = parts;
      pending_ = parts - 1;
      ++gen_;
    }
    cv_.notify_all();
    fn(ctx, 0);
    std::unique_lock<std::mutex> lk(mu_);
    done_cv_.wait(lk, [&] { return pending_ == 0; });
  }

  ~Workers() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

 private:
  Workers() {
    int n = std::clamp(static_cast<int>(std::thread::hardware_concurrency()), 1, 64) - 1;
    for (int i = 0; i < n; ++i) threads_.emplace_back([this, i] { loop(i + 1); });
  }

  void loop(int part) {
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lk(mu_);
    for (;;) {
      cv_.wait(lk, [&] { return stop_ || gen_ != seen; });
      if (stop_) return;
      seen = gen_;
      if (part >= parts_) continue;
      auto fn = fn_;
      void* ctx = ctx_;
      lk.unlock();
      fn(ctx, part);
      lk.lock();
      if (--pending_ == 0) done_cv_.notify_one();
    }
  }

  std::vector<std::thread> threads_;
  std::mutex run_mu_, mu_;
  std::condition_variable cv_, done_cv_;
  void (*fn_)(void*, int) = nullptr;
  void* ctx_ = nullptr;
  int parts_ = 0, pending_ = 0;
  uint64_t gen_ = 0;
  bool stop_ = false;
};

// Threads for a kernel of `work` multiply-adds: OpenBLAS's thread count (OPENBLAS_NUM_THREADS, so one setting
// governs both), and one only when the work is too small to pay for waking another thread.
int kernel_threads(int64_t work) {
  constexpr int64_t kMinWorkPerThread = 1 << 18;
  int64_t t = std::min<int64_t>(openblas_get_num_threads(), work / kMinWorkPerThread);
  return static_cast<int>(std::max<int64_t>(t, 1));
}

// gemm with half weights, few rows: w is read once, widened in registers, dotted with every row of x.
}  // namespace

void gemm_half_dot(const DotArgs& a) {
  int parts = kernel_threads(a.M * a.N * a.K);
  parts = static_cast<int>(std::min<int64_t>(parts, a.N));
  if (parts > 1) parts = std::min(parts, Workers::get().capacity());
  struct Ctx {
    const DotArgs* a;
    int parts;
  } ctx{&a, parts};
  auto part_fn = [](void* p, int i) {
    auto* c = static_cast<Ctx*>(p);
    int64_t N = c->a->N;
    dot_rows(*c->a, N * i / c->parts, N * (i + 1) / c->parts);
  };
  if (parts == 1)
    dot_rows(a, 0, a.N);
  else
    Workers::get().run(parts, part_fn, &ctx);
}

// gemm with half weights, many rows: widen a block of w's rows into a reused float32 scratch and let sgemm
// write the matching columns of y (ldc = N).
void gemm_half_blocked(const DotArgs& a) {
  thread_local std::vector<float> scratch;
  const int64_t M = a.M, N = a.N, K = a.K;
  // 16 MiB of widened rows per sgemm. Fewer, larger calls matter with OpenBLAS threads: M=128, K=4096,
  // N=14336 on two threads took 118 ms in 4 MiB blocks, 107 ms in 16 MiB, 100 ms in 64 MiB (f32 w: 82 ms);
  // on one thread all of them match f32.
  constexpr int64_t kBlockFloats = 1 << 22;
  int64_t nb = std::clamp<int64_t>(kBlockFloats / std::max<int64_t>(K, 1), 64, std::max<int64_t>(N, 1));
  nb = std::min<int64_t>((nb + 15) / 16 * 16, N);
  if (scratch.size() < static_cast<size_t>(nb * K)) scratch.resize(static_cast<size_t>(nb * K));
  if (a.bias)
    for (int64_t m = 0; m < M; ++m) std::memcpy(a.y + m * N, a.bias, N * 4);
  for (int64_t n0 = 0; n0 < N; n0 += nb) {
    int64_t rows = std::min(nb, N - n0);
    widen_fast(a.wt, a.w + n0 * K, scratch.data(), static_cast<size_t>(rows * K));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, rows, K, 1.0f, a.x, K, scratch.data(), K,
                a.bias ? 1.0f : 0.0f, a.y + n0, N);
  }
}

}  // namespace autodist::cpu
