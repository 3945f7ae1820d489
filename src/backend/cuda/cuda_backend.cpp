// The CUDA backend's host side: argument checks (as the cpu backend's, plus the bounds a device kernel cannot
// afford to get wrong), memory, uploads, cuBLAS, kernel launches. Compiled by g++; the kernels are in *.cu.
#include "backend/cuda/cuda_backend.h"

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>
#include <memory>

#include "backend/cuda/cublas_lazy.h"
#include "backend/cuda/cuda_args.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_kernels.h"
#include "backend/cuda/cuda_sample.h"
#include "core/clock.h"
#include "core/device_wait.h"
#include "core/error.h"

namespace autodist {

namespace cuda {

void throw_cuda_error(cudaError_t e, const char* call, const char* file, int line) {
  cudaGetLastError();  // clear a non-sticky error so that the next launch check does not report it again
  AD_FAIL("CUDA error: {} failed at {}:{}: {} ({})", call, file, line, cudaGetErrorString(e), cudaGetErrorName(e));
}

bool sync_after_launch() noexcept {
  static const bool on = [] {
    const char* v = std::getenv("AUTODIST_CUDA_SYNC");
    return v && std::string(v) == "1";
  }();
  return on;
}

void sync_and_check(const char* call, const char* file, int line) {
  const cudaError_t e = cudaDeviceSynchronize();
  if (e != cudaSuccess) throw_cuda_error(e, call, file, line);
}

namespace {
template <class Query>
void poll_or_block(Query query, cudaError_t (*block)(void*), void* handle, const char* what) {
  const DeviceWaiter& w = device_waiter();
  if (!w) {
    const cudaError_t e = block(handle);
    if (e != cudaSuccess) throw_cuda_error(e, what, __FILE__, __LINE__);
    return;
  }
  w(
      [&] {
        const cudaError_t e = query();
        if (e == cudaErrorNotReady) return false;
        if (e != cudaSuccess) throw_cuda_error(e, what, __FILE__, __LINE__);
        return true;
      },
      what);
}
}  // namespace

void wait_stream(cudaStream_t s, const char* what) {
  poll_or_block([s] { return cudaStreamQuery(s); },
                [](void* h) { return cudaStreamSynchronize(static_cast<cudaStream_t>(h)); }, s, what);
}

void wait_event(cudaEvent_t e, const char* what) {
  poll_or_block([e] { return cudaEventQuery(e); },
                [](void* h) { return cudaEventSynchronize(static_cast<cudaEvent_t>(h)); }, e, what);
}

void throw_cublas_error(cublasStatus_t s, const char* call, const char* file, int line) {
  const Cublas& api = cublas();  // loaded: a cuBLAS status comes from a cuBLAS call
  AD_FAIL("cuBLAS error: {} failed at {}:{}: {} ({})", call, file, line, api.status_string(s), api.status_name(s));
}

}  // namespace cuda

using cuda::check_device;
using cuda::check_f32;
using cuda::check_float;
using cuda::check_i32;
using cuda::round_up;

namespace {

// Half weights, many rows of x: rows of w are widened into at most this many floats (64 MiB) per sgemm.
constexpr int64_t kWidenFloats = int64_t{1} << 24;


}  // namespace

CudaBackend::CudaBackend(int device) : device_(device) {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();
    AD_FAIL("cuda backend: no usable CUDA device ({}: {}); run with --device cpu", cudaGetErrorName(e),
            cudaGetErrorString(e));
  }
  AD_CHECK(n > 0, "cuda backend: no CUDA device found; run with --device cpu");
  AD_CHECK(device >= 0 && device < n, "cuda backend: device {} does not exist ({} CUDA device(s): 0..{})", device, n,
           n - 1);
  try {
    AD_CUDA_CHECK(cudaSetDevice(device));
    if (cudaError_t k = cuda::kernels_loadable(); k != cudaSuccess) {
      cudaGetLastError();
      int major = 0, minor = 0;
      AD_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
      AD_CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device));
      AD_FAIL(
          "cuda backend: this build's kernels cannot run on device {} (compute capability {}.{}): {}; rebuild with "
          "-DCMAKE_CUDA_ARCHITECTURES={}{}",
          device, major, minor, cudaGetErrorString(k), major, minor);
    }
    AD_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    const cuda::Cublas& blas = cuda::cublas();
    AD_CUBLAS_CHECK(blas.create(&blas_));
    AD_CUBLAS_CHECK(blas.set_stream(blas_, stream_));
    // Plain float32 (no TF32 tensor ops), so gemm matches the cpu backend to float32 rounding.
    AD_CUBLAS_CHECK(blas.set_math_mode(blas_, CUBLAS_DEFAULT_MATH));
    staging_.resize(kStagingSlots);
    for (auto& s : staging_) AD_CUDA_CHECK(cudaEventCreateWithFlags(&s.done, cudaEventDisableTiming));
    AD_CUDA_CHECK(cudaEventCreateWithFlags(&host_copy_, cudaEventDisableTiming));
    AD_CUDA_CHECK(cudaEventCreate(&epoch_));
  } catch (...) {
    release();
    throw;
  }
}

CudaBackend::~CudaBackend() { release(); }

// Errors are ignored here: this runs from destructors, and after a sticky CUDA error (already reported) every
// call fails.
void CudaBackend::release() noexcept {
  cudaSetDevice(device_);
  if (stream_) cudaStreamSynchronize(stream_);
  jobs_.clear();
  for (Scratch* s : {&widened_, &bounce_, &plan_dev_}) {
    if (s->p) cudaFree(s->p);
    *s = Scratch{};
  }
  for (auto& st : staging_) {
    if (st.host) cudaFreeHost(st.host);
    if (st.done) cudaEventDestroy(st.done);
  }
  staging_.clear();
  for (CUevent_st* e : marks_) cudaEventDestroy(e);
  marks_.clear();
  for (CUevent_st** e : {&host_copy_, &epoch_})
    if (*e) cudaEventDestroy(*e), *e = nullptr;
  if (blas_) cuda::cublas().destroy(blas_);  // blas_ is set only once cuBLAS has loaded
  blas_ = nullptr;
  if (stream_) cudaStreamDestroy(stream_);
  stream_ = nullptr;
  cudaGetLastError();
}

std::string CudaBackend::name() const { return "cuda"; }

void CudaBackend::enter() const { AD_CUDA_CHECK(cudaSetDevice(device_)); }

void* CudaBackend::alloc(size_t bytes) {
  enter();
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, bytes ? bytes : 1);
  if (e != cudaSuccess) {
    cudaGetLastError();
    size_t free_b = 0, total_b = 0;
    if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) cudaGetLastError();
    AD_FAIL("cuda backend: cudaMalloc of {} bytes failed on device {}: {} ({} MiB of {} MiB free)", bytes, device_,
            cudaGetErrorString(e), free_b >> 20, total_b >> 20);
  }
  return p;
}

// Never throws (Buffer's destructor calls it). cudaFree waits for the device, so no kernel still uses p.
void CudaBackend::free(void* p) {
  if (!p) return;
  cudaSetDevice(device_);
  if (cudaFree(p) != cudaSuccess) cudaGetLastError();
}

void CudaBackend::to_device(Tensor dst, const void* host_src) {
  enter();
  check_device(dst, "to_device dst");
  size_t n = dst.nbytes();
  if (n == 0) return;
  AD_CUDA_CHECK(cudaMemcpyAsync(dst.data, host_src, n, cudaMemcpyHostToDevice, stream_));
  cuda::wait_stream(stream_, "cudaStreamSynchronize(stream_)");  // the caller may free or reuse host_src on return
}

void CudaBackend::to_host(void* host_dst, const Tensor& src) {
  enter();
  check_device(src, "to_host src");
  size_t n = src.nbytes();
  if (n == 0) return;
  AD_CUDA_CHECK(cudaMemcpyAsync(host_dst, src.data, n, cudaMemcpyDeviceToHost, stream_));
  cuda::wait_stream(stream_, "cudaStreamSynchronize(stream_)");
}

void* CudaBackend::alloc_host(size_t bytes) {
  enter();
  void* p = nullptr;
  AD_CUDA_CHECK(cudaMallocHost(&p, bytes ? bytes : 1));
  return p;
}

void CudaBackend::free_host(void* p) {
  if (p && cudaFreeHost(p) != cudaSuccess) cudaGetLastError();
}

void CudaBackend::to_host_async(void* host_dst, const Tensor& src) {
  enter();
  check_device(src, "to_host_async src");
  if (src.nbytes() == 0) return;
  AD_CUDA_CHECK(cudaMemcpyAsync(host_dst, src.data, src.nbytes(), cudaMemcpyDeviceToHost, stream_));
  AD_CUDA_CHECK(cudaEventRecord(host_copy_, stream_));
}

void CudaBackend::wait_host() {
  enter();
  cuda::wait_event(host_copy_, "cudaEventSynchronize(host_copy_)");
  check_sample_errors();
}

// memmove semantics, as the cpu backend: overlapping ranges go through a scratch copy (cudaMemcpy is undefined
// for them). Either side may be host memory (cudaMemcpyDefault); then the call waits, as a host copy would.
void CudaBackend::copy(Tensor dst, const Tensor& src) {
  enter();
  AD_CHECK(dst.nbytes() == src.nbytes(), "copy: sizes differ ({} vs {} bytes)", dst.nbytes(), src.nbytes());
  const size_t n = src.nbytes();
  auto* d = static_cast<char*>(dst.data);
  const auto* s = static_cast<const char*>(src.data);
  if (n == 0 || d == s) return;
  if (d < s + n && s < d + n) {
    void* b = grow(bounce_, n);
    AD_CUDA_CHECK(cudaMemcpyAsync(b, s, n, cudaMemcpyDefault, stream_));
    AD_CUDA_CHECK(cudaMemcpyAsync(d, b, n, cudaMemcpyDefault, stream_));
  } else {
    AD_CUDA_CHECK(cudaMemcpyAsync(d, s, n, cudaMemcpyDefault, stream_));
  }
  if (dst.device == Device::CPU || src.device == Device::CPU)
    cuda::wait_stream(stream_, "cudaStreamSynchronize(stream_)");
}

void CudaBackend::fill_zero(Tensor t) {
  enter();
  check_device(t, "fill_zero t");
  if (t.nbytes() == 0) return;
  AD_CUDA_CHECK(cudaMemsetAsync(t.data, 0, t.nbytes(), stream_));
}

void CudaBackend::synchronize() {
  enter();
  cuda::wait_stream(stream_, "cudaStreamSynchronize(stream_)");
  check_sample_errors();
}

void* CudaBackend::grow(Scratch& s, size_t bytes) {
  if (s.p && s.bytes >= bytes) return s.p;
  const size_t n = round_up(std::max(bytes, s.bytes + s.bytes / 2), 4096);
  if (s.p) {
    cuda::wait_stream(stream_, "cudaStreamSynchronize(stream_)");  // queued kernels may still read the old buffer
    AD_CUDA_CHECK(cudaFree(s.p));
    s = Scratch{};
  }
  AD_CUDA_CHECK(cudaMalloc(&s.p, n));
  s.bytes = n;
  return s.p;
}

// FLOPs 2*M*N*K; bytes (M*K + M*N)*4 + N*K*sizeof(w).
// w f32: cublasSgemm. w bf16/f16 with M <= 8 (decode): gemm_half_rows_kernel reads w once and widens it in
// registers. w bf16/f16 with more rows (prefill): blocks of w's rows are widened into a reused f32 scratch and
// multiplied by cublasSgemm. Widening w rather than rounding x to the weight type (cublasGemmEx on halves) keeps the
// cpu backend's contract exactly: x is never rounded, every product and sum is f32. The price is that prefill
// moves w three times (read half, write and read f32) and runs on the f32 units instead of tensor cores.
void CudaBackend::gemm(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor y) {
  enter();
  check_f32(x, "gemm x");
  check_float(w, "gemm w");
  check_f32(y, "gemm y");
  if (bias) check_f32(*bias, "gemm bias");
  const auto [M, N, K] = gemm_dims(x, w, bias, y);
  if (M == 0 || N == 0) return;
  float* yp = y.f32();
  const float* bp = bias ? bias->f32() : nullptr;
  if (K == 0) {  // empty sum: y = bias or 0
    if (bp)
      cuda::launch_fill_rows(yp, bp, M, N, stream_);
    else
      AD_CUDA_CHECK(cudaMemsetAsync(yp, 0, static_cast<size_t>(M * N) * sizeof(float), stream_));
    return;
  }
  AD_CHECK(M <= INT_MAX && N <= INT_MAX && K <= INT_MAX, "cuda gemm: M={} N={} K={} exceed cuBLAS's int sizes", M, N,
           K);
  if (w.dtype != DType::F32 && M <= cuda::kMaxHalfDotRows) {
    cuda::launch_gemm_half_rows(x.f32(), w.data, w.dtype, bp, yp, M, N, K, stream_);
    return;
  }
  if (bp) cuda::launch_fill_rows(yp, bp, M, N, stream_);
  const float one = 1.0f, beta = bp ? 1.0f : 0.0f;
  // Row-major y = x . w^T is column-major y^T = w^T(as stored, K x N, transposed) . x^T(K x M).
  if (w.dtype == DType::F32) {
    AD_CUBLAS_CHECK(cuda::cublas().sgemm(blas_, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(N), static_cast<int>(M),
                                         static_cast<int>(K), &one, w.f32(), static_cast<int>(K), x.f32(),
                                         static_cast<int>(K), &beta, yp, static_cast<int>(N)));
    return;
  }
  const int64_t nb = std::clamp<int64_t>(kWidenFloats / K, 1, N);
  auto* wf = static_cast<float*>(grow(widened_, static_cast<size_t>(nb * K) * sizeof(float)));
  const auto* wp = static_cast<const uint16_t*>(w.data);
  for (int64_t n0 = 0; n0 < N; n0 += nb) {
    const int64_t rows = std::min(nb, N - n0);
    cuda::launch_widen(wp + n0 * K, w.dtype, wf, rows * K, stream_);
    AD_CUBLAS_CHECK(cuda::cublas().sgemm(blas_, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(rows), static_cast<int>(M),
                                         static_cast<int>(K), &one, wf, static_cast<int>(K), x.f32(),
                                         static_cast<int>(K), &beta, yp + n0, static_cast<int>(N)));
  }
}

void CudaBackend::rmsnorm(const Tensor& x, const Tensor& w, float eps, Tensor y) {
  enter();
  check_f32(x, "rmsnorm x");
  check_f32(w, "rmsnorm w");
  check_f32(y, "rmsnorm y");
  const int64_t C = w.numel();
  AD_CHECK(C > 0 && x.numel() % C == 0 && y.numel() == x.numel(),
           "rmsnorm: x {} and y {} must be rows of the {} values of w", x.shape.str(), y.shape.str(), C);
  cuda::launch_rmsnorm(x.f32(), w.f32(), eps, y.f32(), x.numel() / C, C, stream_);
}

void CudaBackend::layernorm(const Tensor& x, const Tensor& w, const Tensor* b, float eps, Tensor y) {
  enter();
  check_f32(x, "layernorm x");
  check_f32(w, "layernorm w");
  check_f32(y, "layernorm y");
  if (b) check_f32(*b, "layernorm b");
  const int64_t C = w.numel();
  AD_CHECK(C > 0 && x.numel() % C == 0 && y.numel() == x.numel() && (!b || b->numel() == C),
           "layernorm: x {} and y {} must be rows of the {} values of w (and b)", x.shape.str(), y.shape.str(), C);
  cuda::launch_layernorm(x.f32(), w.f32(), b ? b->f32() : nullptr, eps, y.f32(), x.numel() / C, C, stream_);
}

static_assert(static_cast<int>(Activation::Silu) == 0 && static_cast<int>(Activation::GeluTanh) == 1 &&
                  static_cast<int>(Activation::Gelu) == 2 && static_cast<int>(Activation::Relu) == 3,
              "launch_activation's kind numbers");

void CudaBackend::activation(const Tensor& x, Activation act, Tensor y) {
  enter();
  check_f32(x, "activation x");
  check_f32(y, "activation y");
  AD_CHECK(x.numel() == y.numel(), "activation: x {} and y {} differ in size", x.shape.str(), y.shape.str());
  cuda::launch_activation(x.f32(), static_cast<int>(act), y.f32(), x.numel(), stream_);
}

void CudaBackend::add_bias(Tensor y, const Tensor& bias) {
  enter();
  check_f32(y, "add_bias y");
  check_f32(bias, "add_bias bias");
  const int64_t N = bias.numel();
  AD_CHECK(N > 0 && y.numel() % N == 0, "add_bias: y {} is not rows of the {} values of the bias", y.shape.str(), N);
  cuda::launch_add_bias(y.f32(), bias.f32(), y.numel() / N, N, stream_);
}

void CudaBackend::silu_mul(const Tensor& gu, Tensor out) {
  enter();
  check_f32(gu, "silu_mul gu");
  check_f32(out, "silu_mul out");
  const int64_t M = gu.ndim() ? gu.dim(0) : 0;
  if (M == 0) return;
  const int64_t I = out.numel() / M;
  AD_CHECK(out.numel() == M * I && gu.numel() == 2 * M * I, "silu_mul: gu {} must be [M, 2I] for out {} [M, I]",
           gu.shape.str(), out.shape.str());
  cuda::launch_silu_mul(gu.f32(), out.f32(), M, I, stream_);
}

void CudaBackend::split_qkv(const Tensor& qkv, Tensor q, Tensor k, Tensor v) {
  enter();
  check_f32(qkv, "split_qkv qkv");
  check_f32(q, "split_qkv q");
  check_f32(k, "split_qkv k");
  check_f32(v, "split_qkv v");
  const int64_t T = qkv.ndim() ? qkv.dim(0) : 0;
  if (T == 0) return;
  const int64_t nq = q.numel() / T, nk = k.numel() / T;
  AD_CHECK(q.numel() == T * nq && k.numel() == T * nk && v.numel() == k.numel() && qkv.numel() == T * (nq + 2 * nk),
           "split_qkv: qkv {} does not split into q {} k {} v {}", qkv.shape.str(), q.shape.str(), k.shape.str(),
           v.shape.str());
  cuda::launch_split_qkv(qkv.f32(), q.f32(), k.f32(), v.f32(), T, nq, nk, stream_);
}

void CudaBackend::add(Tensor y, const Tensor& x) {
  enter();
  check_f32(y, "add y");
  check_f32(x, "add x");
  AD_CHECK(x.numel() == y.numel(), "add: y {} and x {} differ in size", y.shape.str(), x.shape.str());
  cuda::launch_add(y.f32(), x.f32(), y.numel(), stream_);
}

std::string CudaBackend::device_uuid() const {
  cudaDeviceProp p{};
  AD_CUDA_CHECK(cudaGetDeviceProperties(&p, device_));
  const auto* b = reinterpret_cast<const unsigned char*>(p.uuid.bytes);
  std::string s = "GPU-";
  for (int i = 0; i < 16; ++i) {
    s += fmt::format("{:02x}", b[i]);
    if (i == 3 || i == 5 || i == 7 || i == 9) s += '-';
  }
  return s;
}

int cuda_device_count() noexcept {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

std::unique_ptr<Backend> make_cuda_backend(int device) { return std::make_unique<CudaBackend>(device); }

}  // namespace autodist
