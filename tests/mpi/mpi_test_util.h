// defines: world (the test binary's world communicator), Buf (a typed host buffer read and written
//          as float), fill, expect_all (one CHECK per buffer that names the rank and the first bad
//          element), ChunkLimit (RAII override of the MPI chunk size)
//
// Every rank runs every test case in the same order, so collectives inside a case line up. Values
// are small integers, exact in every dtype (bf16 holds integers up to 256 exactly).
#pragma once
#include <doctest/doctest.h>

#include <climits>
#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"
#include "dist/communicator.h"
#include "dist/mpi_communicator.h"

namespace autodist::test {

dist::Communicator& world();

class Buf {
 public:
  Buf(DType t, int64_t n) : t_(t), n_(n), storage_(size_t(n * int64_t(dtype_size(t)) / 8 + 1)) {}
  Tensor tensor() { return Tensor(storage_.data(), t_, Shape{n_}); }
  Tensor block(int64_t first, int64_t count) {
    return Tensor(reinterpret_cast<char*>(storage_.data()) + first * int64_t(dtype_size(t_)), t_, Shape{count});
  }
  int64_t size() const { return n_; }
  DType dtype() const { return t_; }
  void set(int64_t i, float v) {
    void* p = storage_.data();
    switch (t_) {
      case DType::I32: static_cast<int32_t*>(p)[i] = int32_t(v); return;
      case DType::I64: static_cast<int64_t*>(p)[i] = int64_t(v); return;
      default: convert_from_f32(&v, t_, static_cast<char*>(p) + i * int64_t(dtype_size(t_)), 1);
    }
  }
  float get(int64_t i) const {
    const void* p = storage_.data();
    switch (t_) {
      case DType::I32: return float(static_cast<const int32_t*>(p)[i]);
      case DType::I64: return float(static_cast<const int64_t*>(p)[i]);
      default: {
        float v;
        convert_to_f32(static_cast<const char*>(p) + i * int64_t(dtype_size(t_)), t_, &v, 1);
        return v;
      }
    }
  }

 private:
  DType t_;
  int64_t n_;
  std::vector<uint64_t> storage_;
};

template <typename F>
void fill(Buf& b, F&& f) {
  for (int64_t i = 0; i < b.size(); ++i) b.set(i, float(f(i)));
}

template <typename F>
void expect_all(const Buf& b, F&& expect, const std::string& what) {
  int64_t bad = 0, first = -1;
  for (int64_t i = 0; i < b.size(); ++i)
    if (b.get(i) != float(expect(i))) {
      if (first < 0) first = i;
      ++bad;
    }
  INFO(what, " (", std::string(dtype_name(b.dtype())), ", ", b.size(), " elements) on rank ", world().rank(), " of ",
       world().size(), ": ", bad, " wrong; first at ", first, " got ", first >= 0 ? b.get(first) : 0.0f,
       " expected ", first >= 0 ? float(expect(first)) : 0.0f);
  CHECK(bad == 0);
}

inline const std::vector<DType>& all_dtypes() {
  static const std::vector<DType> v{DType::F32, DType::I32, DType::I64, DType::BF16, DType::F16};
  return v;
}
inline const std::vector<int64_t>& awkward_counts() {
  static const std::vector<int64_t> v{1, 7, 1000003};
  return v;
}

// Lowers the MPI chunk size for one scope (every rank must do the same).
struct ChunkLimit {
  explicit ChunkLimit(int64_t n) { dist::set_mpi_chunk_elements(n); }
  ~ChunkLimit() { dist::set_mpi_chunk_elements(INT_MAX); }
};

}  // namespace autodist::test
