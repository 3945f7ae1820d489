// defines: AD_CUDA_CHECK, AD_CUBLAS_CHECK, AD_CUDA_LAUNCH_CHECK (every CUDA / cuBLAS return code checked),
//          sync_after_launch (AUTODIST_CUDA_SYNC=1)
//
// A failed call throws autodist::Error naming the call, file:line and cudaGetErrorString. The throwing functions
// live in cuda_backend.cpp (compiled by g++): fmt stays out of the nvcc-compiled kernels, whose C++20 consteval
// format strings nvcc 13 rejects.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

namespace autodist::cuda {
[[noreturn]] void throw_cuda_error(cudaError_t e, const char* call, const char* file, int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t s, const char* call, const char* file, int line);
// AUTODIST_CUDA_SYNC=1 in the environment (read once): every launch check also synchronises the device and checks,
// so a faulting kernel is named where it ran instead of at the next synchronising call. For debugging only.
bool sync_after_launch() noexcept;
void sync_and_check(const char* call, const char* file, int line);
// Waits for a stream's work or an event: through the process's device waiter when one is set (core/device_wait.h:
// NCCL peers watched, --comm-timeout applied), else blocking in the runtime. Throws on a CUDA error, naming `what`.
void wait_stream(cudaStream_t s, const char* what);
void wait_event(cudaEvent_t e, const char* what);
}  // namespace autodist::cuda

#define AD_CUDA_CHECK(call)                                                                                   \
  do {                                                                                                        \
    cudaError_t ad_cuda_e_ = (call);                                                                          \
    if (ad_cuda_e_ != cudaSuccess) ::autodist::cuda::throw_cuda_error(ad_cuda_e_, #call, __FILE__, __LINE__); \
  } while (0)

#define AD_CUBLAS_CHECK(call)                                                        \
  do {                                                                               \
    cublasStatus_t ad_cublas_s_ = (call);                                            \
    if (ad_cublas_s_ != CUBLAS_STATUS_SUCCESS)                                       \
      ::autodist::cuda::throw_cublas_error(ad_cublas_s_, #call, __FILE__, __LINE__); \
  } while (0)

// After a kernel launch: a bad launch configuration (or an earlier asynchronous fault) surfaces here; with
// AUTODIST_CUDA_SYNC=1 the kernel's own faults too.
#define AD_CUDA_LAUNCH_CHECK(kernel)                                                             \
  do {                                                                                           \
    cudaError_t ad_cuda_e_ = cudaGetLastError();                                                 \
    if (ad_cuda_e_ != cudaSuccess)                                                               \
      ::autodist::cuda::throw_cuda_error(ad_cuda_e_, "launch of " kernel, __FILE__, __LINE__);   \
    if (::autodist::cuda::sync_after_launch())                                                   \
      ::autodist::cuda::sync_and_check("run of " kernel " (AUTODIST_CUDA_SYNC=1)", __FILE__, __LINE__); \
  } while (0)
