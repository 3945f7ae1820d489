// The reference backend: float32 math everywhere, OpenBLAS for the matrix products, plain loops elsewhere.
// Weight matrices (gemm w) and the embedding table may also be held in bf16 or f16 to halve their memory;
// they are widened to float32 on the fly (exactly) and every product and sum is float32.
#include <cblas.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "backend/backend.h"
#include "core/error.h"

namespace autodist {
namespace {

void check_f32(const Tensor& t, const char* what) {
  AD_CHECK(t.dtype == DType::F32 && t.device == Device::CPU, "cpu backend: {} must be a host f32 tensor (got {})",
           what, dtype_name(t.dtype));
}

// Tensors that may be stored in a half type (weights, embedding table): f32, bf16 or f16 on the host.
void check_float(const Tensor& t, const char* what) {
  AD_CHECK((t.dtype == DType::F32 || t.dtype == DType::BF16 || t.dtype == DType::F16) && t.device == Device::CPU,
           "cpu backend: {} must be a host f32, bf16 or f16 tensor (got {})", what, dtype_name(t.dtype));
}

// ---- half -> float32 kernels ------------------------------------------------------------------------------
// gemm with half w takes one of two paths:
//  - few rows of x (M <= kMaxDotRows: decode): dot_rows reads each row of w once, widens it on the fly and
//    dots it with up to 8 rows of x at a time; N is split over Workers threads. No scratch beyond registers.
//  - more rows (prefill): gemm_half_blocked widens a block of rows of w into a reused float32 scratch and
//    lets cblas_sgemm (and its threads) write the matching columns of y.
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

// n elements of a bf16/f16 array -> float32, bit-exact.
void widen_exact(DType t, const void* src, float* dst, size_t n) {
  auto* s = static_cast<const uint16_t*>(src);
  if (t == DType::BF16)
    widen_exact_impl<DType::BF16>(s, dst, n);
  else
    widen_exact_impl<DType::F16>(s, dst, n);
}

// y[m, n] = x[m, :] . w[n, :] (+ bias[n]) for rows n in [n0, n1): w half [N, K], x f32 [M, K], y f32 [M, N].
struct DotArgs {
  const float* x;
  const uint16_t* w;
  const float* bias;
  float* y;
  int64_t M, N, K;
  DType wt;
};

// gemm with M <= this many rows uses dot_rows, more rows widen + sgemm. Measured at K=4096, N=14336 (Zen 5):
// the two are even at M = 12..16 on one thread, dot_rows is 1.5x faster at M = 9 and with two threads.
constexpr int64_t kMaxDotRows = 16;

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

class CpuBackend final : public Backend {
 public:
  Device device() const override { return Device::CPU; }
  std::string name() const override { return "cpu"; }
  void* alloc(size_t bytes) override {
    void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
    AD_CHECK(p, "cpu backend: out of memory allocating {} bytes", bytes);
    return p;
  }
  void free(void* p) override { std::free(p); }
  void to_device(Tensor dst, const void* src) override { std::memcpy(dst.data, src, dst.nbytes()); }
  void to_host(void* dst, const Tensor& src) override { std::memcpy(dst, src.data, src.nbytes()); }
  void copy(Tensor dst, const Tensor& src) override {
    AD_CHECK(dst.nbytes() == src.nbytes(), "copy: sizes differ ({} vs {} bytes)", dst.nbytes(), src.nbytes());
    std::memmove(dst.data, src.data, src.nbytes());
  }
  void fill_zero(Tensor t) override { std::memset(t.data, 0, t.nbytes()); }

  // FLOPs 2*M*N*K; bytes (M*K + M*N)*4 + N*K*sizeof(w). w f32: sgemv/sgemm; w bf16/f16: gemm_half_*.
  void gemm(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor y) override {
    check_f32(x, "gemm x");
    check_float(w, "gemm w");
    check_f32(y, "gemm y");
    if (bias) check_f32(*bias, "gemm bias");
    const auto [M, N, K] = gemm_dims(x, w, bias, y);
    if (M == 0 || N == 0) return;
    float* yp = y.f32();
    const float* bp = bias ? bias->f32() : nullptr;
    if (K == 0) {  // empty sum: y = bias or 0 (BLAS would leave y untouched)
      for (int64_t m = 0; m < M; ++m)
        for (int64_t n = 0; n < N; ++n) yp[m * N + n] = bp ? bp[n] : 0.0f;
      return;
    }
    if (w.dtype != DType::F32) {
      DotArgs a{x.f32(), w.ptr<const uint16_t>(), bp, yp, M, N, K, w.dtype};
      if (M <= kMaxDotRows)
        gemm_half_dot(a);
      else
        gemm_half_blocked(a);
      return;
    }
    if (bp)
      for (int64_t m = 0; m < M; ++m) std::memcpy(yp + m * N, bp, N * 4);
    if (M == 1)
      cblas_sgemv(CblasRowMajor, CblasNoTrans, N, K, 1.0f, w.f32(), K, x.f32(), 1, bp ? 1.0f : 0.0f, yp, 1);
    else
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, x.f32(), K, w.f32(), K,
                  bp ? 1.0f : 0.0f, yp, N);
  }

  void rmsnorm(const Tensor& x, const Tensor& w, float eps, Tensor y) override {
    check_f32(x, "rmsnorm x");
    check_f32(w, "rmsnorm w");
    check_f32(y, "rmsnorm y");
    int64_t C = w.numel(), M = x.numel() / C;
    const float *xp = x.f32(), *wp = w.f32();
    float* yp = y.f32();
    for (int64_t m = 0; m < M; ++m) {
      const float* r = xp + m * C;
      double ss = 0;
      for (int64_t c = 0; c < C; ++c) ss += static_cast<double>(r[c]) * r[c];
      float inv = static_cast<float>(1.0 / std::sqrt(ss / C + eps));
      for (int64_t c = 0; c < C; ++c) yp[m * C + c] = r[c] * inv * wp[c];
    }
  }

  void rope(Tensor x, const int32_t* pos, const RopeTable& rt) override {
    check_f32(x, "rope x");
    int64_t T = x.dim(0), H = x.dim(1), hd = x.dim(2), half = hd / 2;
    float* xp = x.f32();
    std::vector<float> cs(half), sn(half);
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t i = 0; i < half; ++i) {
        double a = pos[t] * rt.inv_freq[i];
        cs[i] = static_cast<float>(std::cos(a) * rt.attention_factor);
        sn[i] = static_cast<float>(std::sin(a) * rt.attention_factor);
      }
      for (int64_t h = 0; h < H; ++h) {
        float* r = xp + (t * H + h) * hd;
        for (int64_t i = 0; i < half; ++i) {
          float a = r[i], b = r[i + half];
          r[i] = a * cs[i] - b * sn[i];
          r[i + half] = b * cs[i] + a * sn[i];
        }
      }
    }
  }

  void silu_mul(const Tensor& gu, Tensor out) override {
    check_f32(gu, "silu_mul gu");
    check_f32(out, "silu_mul out");
    int64_t M = gu.dim(0), I = out.numel() / M;
    const float* g = gu.f32();
    float* o = out.f32();
    for (int64_t m = 0; m < M; ++m)
      for (int64_t i = 0; i < I; ++i) {
        float a = g[m * 2 * I + i], b = g[m * 2 * I + I + i];
        o[m * I + i] = a / (1.0f + std::exp(-a)) * b;
      }
  }

  void split_qkv(const Tensor& qkv, Tensor q, Tensor k, Tensor v) override {
    check_f32(qkv, "split_qkv qkv");
    check_f32(q, "split_qkv q");
    check_f32(k, "split_qkv k");
    check_f32(v, "split_qkv v");
    int64_t T = qkv.dim(0), nq = q.numel() / T, nk = k.numel() / T, W = nq + 2 * nk;
    const float* s = qkv.f32();
    for (int64_t t = 0; t < T; ++t) {
      std::memcpy(q.f32() + t * nq, s + t * W, nq * 4);
      std::memcpy(k.f32() + t * nk, s + t * W + nq, nk * 4);
      std::memcpy(v.f32() + t * nk, s + t * W + nq + nk, nk * 4);
    }
  }

  void add(Tensor y, const Tensor& x) override {
    check_f32(y, "add y");
    check_f32(x, "add x");
    float* yp = y.f32();
    const float* xp = x.f32();
    for (int64_t i = 0, n = y.numel(); i < n; ++i) yp[i] += xp[i];
  }

  void embed(const Tensor& table, const int32_t* ids, int64_t vocab_start, Tensor out) override {
    check_float(table, "embed table");
    check_f32(out, "embed out");
    AD_CHECK(table.ndim() == 2 && out.ndim() >= 1, "embed: table {} must be [V, D] and out {} [T, D]",
             table.shape.str(), out.shape.str());
    int64_t V = table.dim(0), D = table.dim(1), T = out.dim(0);
    AD_CHECK(out.numel() == T * D, "embed: out {} does not fit table {} (rows of {} values)", out.shape.str(),
             table.shape.str(), D);
    const size_t esz = dtype_size(table.dtype);
    float* op = out.f32();
    for (int64_t t = 0; t < T; ++t) {
      int64_t r = ids[t] - vocab_start;
      float* o = op + t * D;
      if (r < 0 || r >= V) {
        std::memset(o, 0, D * 4);
        continue;
      }
      const char* src = static_cast<const char*>(table.data) + static_cast<size_t>(r * D) * esz;
      if (table.dtype == DType::F32)
        std::memcpy(o, src, D * 4);
      else
        widen_exact(table.dtype, src, o, static_cast<size_t>(D));
    }
  }

  void kv_append(const Tensor& k, const Tensor& v, Tensor kc, Tensor vc,
                 const std::vector<AttnSegment>& segs) override {
    check_f32(k, "kv_append k");
    check_f32(v, "kv_append v");
    check_f32(kc, "kv_append kcache");
    check_f32(vc, "kv_append vcache");
    int64_t S = kc.dim(1), row = kc.dim(2) * kc.dim(3);
    for (auto& s : segs) {
      AD_CHECK(s.start_pos + s.len <= S, "kv cache overflow: positions up to {} but the cache holds {}",
               s.start_pos + s.len, S);
      size_t off = (static_cast<size_t>(s.slot) * S + s.start_pos) * row;
      std::memcpy(kc.f32() + off, k.f32() + s.row * row, s.len * row * 4);
      std::memcpy(vc.f32() + off, v.f32() + s.row * row, s.len * row * 4);
    }
  }

  // Per segment and head: scores = Q K^T (sgemm over strided cache rows), masked softmax, P V.
  // FLOPs 4 * len * keys * hd per head.
  void attention(const Tensor& q, const Tensor& kc, const Tensor& vc, const std::vector<AttnSegment>& segs,
                 float scale, int64_t window, Tensor out) override {
    check_f32(q, "attention q");
    check_f32(kc, "attention kcache");
    check_f32(vc, "attention vcache");
    check_f32(out, "attention out");
    int64_t H = q.dim(1), hd = q.dim(2), S = kc.dim(1), Hk = kc.dim(2), group = H / Hk;
    std::vector<float> sc;
    for (auto& s : segs) {
      int64_t keys = s.start_pos + s.len;
      int64_t lo = window > 0 ? std::max<int64_t>(0, s.start_pos - window + 1) : 0;  // first key any row needs
      int64_t nk = keys - lo;
      sc.resize(static_cast<size_t>(s.len * nk));
      for (int64_t h = 0; h < H; ++h) {
        int64_t kh = h / group;
        const float* qp = q.f32() + (s.row * H + h) * hd;
        const float* kp = kc.f32() + ((static_cast<int64_t>(s.slot) * S + lo) * Hk + kh) * hd;
        const float* vp = vc.f32() + ((static_cast<int64_t>(s.slot) * S + lo) * Hk + kh) * hd;
        float* op = out.f32() + (s.row * H + h) * hd;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s.len, nk, hd, scale, qp, H * hd, kp, Hk * hd, 0.0f,
                    sc.data(), nk);
        for (int64_t i = 0; i < s.len; ++i) {
          int64_t p = s.start_pos + i;
          int64_t first = (window > 0 ? std::max<int64_t>(0, p - window + 1) : 0) - lo, last = p - lo;  // inclusive
          float* r = sc.data() + i * nk;
          float mx = -INFINITY;
          for (int64_t j = first; j <= last; ++j) mx = std::max(mx, r[j]);
          double sum = 0;
          for (int64_t j = 0; j < nk; ++j) {
            if (j < first || j > last) {
              r[j] = 0.0f;
            } else {
              r[j] = std::exp(r[j] - mx);
              sum += r[j];
            }
          }
          float inv = static_cast<float>(1.0 / sum);
          for (int64_t j = first; j <= last; ++j) r[j] *= inv;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s.len, hd, nk, 1.0f, sc.data(), nk, vp, Hk * hd, 0.0f,
                    op, H * hd);
      }
    }
  }

  void argmax(const Tensor& x, int64_t valid, float* max_out, int32_t* idx_out) override {
    check_f32(x, "argmax x");
    int64_t M = x.dim(0), V = x.numel() / M;
    for (int64_t m = 0; m < M; ++m) {
      const float* r = x.f32() + m * V;
      int64_t best = 0;
      for (int64_t j = 1; j < valid; ++j)
        if (r[j] > r[best]) best = j;
      max_out[m] = valid > 0 ? r[best] : -INFINITY;
      idx_out[m] = static_cast<int32_t>(best);
    }
  }
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<CpuBackend>(); }

}  // namespace autodist
