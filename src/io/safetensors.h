// defines: TensorInfo, SafetensorsFile (pread reader), Checkpoint (single file or sharded index),
//          Slice, write_safetensors
#pragma once
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/file.h"
#include "core/tensor.h"

namespace autodist::io {

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  size_t offset = 0;  // from the start of the data section
  size_t nbytes = 0;
  int64_t numel() const {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
  }
  std::string shape_str() const;
};

// Parses and validates the JSON header [b, e) of `path` whose data section has data_size bytes, as the safetensors
// library does: known dtypes, non-negative integer shapes and offsets, byte counts without overflow matching the
// offsets, offsets aligned to the element size, tensors tiling the data section exactly, no name twice.
void parse_safetensors_header(const std::string& path, const char* b, const char* e, uint64_t data_size,
                              std::map<std::string, TensorInfo>& tensors, std::map<std::string, std::string>& meta);

// One .safetensors file, validated on open (parse_safetensors_header), read with pread: a file that shrinks while
// it is read gives an error naming it, not a SIGBUS. Reads may come from several threads at once.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);

  const std::string& path() const { return file_.path(); }
  const TensorInfo* find(const std::string& name) const;
  const std::map<std::string, TensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  uint64_t size() const { return file_.size(); }          // bytes, header included
  const ReadFile& file() const { return file_; }
  uint64_t data_offset() const { return data_offset_; }   // where the data section starts (8 + header length)
  // Bytes [offset, offset + n) of the file.
  void read(uint64_t offset, void* dst, size_t n) const { file_.read_exact(dst, n, offset); }
  // n elements of t from element e0 on, converted to dt into dst: one read straight into dst when no
  // conversion is needed, else through a small staging buffer converted as it is read.
  void read(const TensorInfo& t, uint64_t e0, size_t n, DType dt, void* dst) const;
  std::vector<float> read_f32(const TensorInfo& t) const;

 private:
  ReadFile file_;
  uint64_t data_offset_ = 0;
  std::map<std::string, TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

// A contiguous range along one dimension of a tensor: rows (dim 0) or columns (dim 1 of a 2-D one).
struct Slice {
  int dim = 0;
  int64_t start = 0;
  int64_t count = -1;  // -1: to the end
  static Slice all() { return {}; }
  static Slice rows(int64_t s, int64_t n) { return {0, s, n}; }
  static Slice cols(int64_t s, int64_t n) { return {1, s, n}; }
};

// All tensors of a checkpoint directory: model.safetensors, or the shards listed in
// model.safetensors.index.json. Reads touch only the requested slice (whole rows of a column slice).
class Checkpoint {
 public:
  explicit Checkpoint(const std::string& dir);
  bool has(const std::string& name) const;
  const TensorInfo& info(const std::string& name) const;  // throws naming the tensor and the dir
  // Shape of the slice (the tensor's shape with the sliced dim narrowed).
  std::vector<int64_t> slice_shape(const std::string& name, Slice s) const;
  // Copy a slice into dst converted to dt (dst holds numel(slice_shape) elements of dt).
  void read(const std::string& name, Slice s, DType dt, void* dst) const;
  void read_f32(const std::string& name, Slice s, float* dst) const { read(name, s, DType::F32, dst); }
  std::vector<std::string> names() const;
  size_t bytes_read() const { return bytes_read_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, size_t> where_;  // tensor name -> index into files_
  mutable std::atomic<size_t> bytes_read_{0};
};

struct NamedTensor {
  std::string name;
  Tensor tensor;  // host memory
};
// The order tensors are stored in, as the safetensors library writes them: larger elements first (otherwise in the
// given order), so that every tensor's offset is a multiple of its element size.
std::vector<size_t> safetensors_order(const std::vector<TensorInfo>& tensors);
// The 8-byte length + JSON header (padded to 8 bytes) of a file holding `tensors` back to back in
// safetensors_order (offsets are recomputed).
std::string safetensors_header(const std::vector<TensorInfo>& tensors,
                               const std::map<std::string, std::string>& metadata = {});
// Writes a .safetensors file (header padded to 8 bytes), tensors in safetensors_order.
void write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace autodist::io
