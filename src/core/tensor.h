// defines: Device, Shape, Tensor (a non-owning view, row-major contiguous, <= 4 dims)
#pragma once
#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "core/dtype.h"
#include "core/error.h"

namespace autodist {

enum class Device : uint8_t { CPU, CUDA };

struct Shape {
  std::array<int64_t, 4> d{1, 1, 1, 1};
  int ndim = 0;
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) {
    AD_CHECK(dims.size() <= 4, "Shape: at most 4 dims, got {}", dims.size());
    for (int64_t v : dims) d[ndim++] = v;
  }
  int64_t operator[](int i) const { return d[i]; }
  int64_t& operator[](int i) { return d[i]; }
  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < ndim; ++i) n *= d[i];
    return n;
  }
  bool operator==(const Shape& o) const {
    if (ndim != o.ndim) return false;
    for (int i = 0; i < ndim; ++i)
      if (d[i] != o.d[i]) return false;
    return true;
  }
  std::string str() const;
};

struct Tensor {
  void* data = nullptr;
  DType dtype = DType::F32;
  Shape shape;
  Device device = Device::CPU;

  Tensor() = default;
  Tensor(void* p, DType t, Shape s, Device dev = Device::CPU) : data(p), dtype(t), shape(s), device(dev) {}

  int64_t numel() const { return shape.numel(); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype); }
  int64_t dim(int i) const { return shape[i]; }
  int ndim() const { return shape.ndim; }
  template <typename T>
  T* ptr() const { return static_cast<T*>(data); }
  float* f32() const {
    AD_CHECK(dtype == DType::F32, "expected an f32 tensor, got {}", dtype_name(dtype));
    return static_cast<float*>(data);
  }
  // Rows [r0, r0+n) of the first dimension.
  Tensor rows(int64_t r0, int64_t n) const {
    Tensor t = *this;
    int64_t row = numel() / shape[0];
    t.data = static_cast<char*>(data) + r0 * row * static_cast<int64_t>(dtype_size(dtype));
    t.shape[0] = n;
    return t;
  }
  Tensor reshape(Shape s) const {
    AD_CHECK(s.numel() == numel(), "reshape {} -> {}: element counts differ", shape.str(), s.str());
    Tensor t = *this;
    t.shape = s;
    return t;
  }
};

inline std::string Shape::str() const {
  std::string s = "[";
  for (int i = 0; i < ndim; ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return s + "]";
}

}  // namespace autodist
