// defines: the cuda backend's argument checks (device tensors of the right dtype), shared by its host files
#pragma once
#include <cstddef>

#include "core/error.h"
#include "core/tensor.h"

namespace autodist::cuda {

inline const char* where(Device d) { return d == Device::CPU ? "host" : "device"; }

inline void check_f32(const Tensor& t, const char* what) {
  AD_CHECK(t.dtype == DType::F32 && t.device == Device::CUDA,
           "cuda backend: {} must be a device f32 tensor (got {} in {} memory)", what, dtype_name(t.dtype),
           where(t.device));
}

// Tensors that may be stored in a half type (weights, embedding table).
inline void check_float(const Tensor& t, const char* what) {
  AD_CHECK((t.dtype == DType::F32 || t.dtype == DType::BF16 || t.dtype == DType::F16) && t.device == Device::CUDA,
           "cuda backend: {} must be a device f32, bf16 or f16 tensor (got {} in {} memory)", what, dtype_name(t.dtype),
           where(t.device));
}

inline void check_i32(const Tensor& t, const char* what) {
  AD_CHECK(t.dtype == DType::I32 && t.device == Device::CUDA,
           "cuda backend: {} must be a device i32 tensor (got {} in {} memory)", what, dtype_name(t.dtype),
           where(t.device));
}

inline void check_device(const Tensor& t, const char* what) {
  AD_CHECK(t.device == Device::CUDA, "cuda backend: {} must be a device tensor (got one in host memory)", what);
}

inline size_t round_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

}  // namespace autodist::cuda
