// defines: TensorInfo, SafetensorsFile (mmap reader), Checkpoint (single file or sharded index),
//          Slice, write_safetensors
#pragma once
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

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

// A read-only memory map of one .safetensors file, validated on open: header length, JSON,
// dtypes, shapes against byte counts, offsets inside the data section.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  const TensorInfo* find(const std::string& name) const;
  const std::map<std::string, TensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const uint8_t* data(const TensorInfo& t) const { return data_ + t.offset; }
  // The whole mapped file (header included), e.g. to checksum it.
  const uint8_t* bytes() const { return map_; }
  size_t size() const { return map_size_; }
  // Tells the kernel this tensor's pages are no longer needed (read once, already copied).
  void release(const TensorInfo& t) const;

 private:
  std::string path_;
  uint8_t* map_ = nullptr;
  size_t map_size_ = 0;
  const uint8_t* data_ = nullptr;
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
// model.safetensors.index.json. Reads touch only the requested slice of the mmap.
class Checkpoint {
 public:
  explicit Checkpoint(const std::string& dir);
  bool has(const std::string& name) const;
  const TensorInfo& info(const std::string& name) const;  // throws naming the tensor and the dir
  // Shape of the slice (the tensor's shape with the sliced dim narrowed).
  std::vector<int64_t> slice_shape(const std::string& name, Slice s) const;
  // Copy a slice into dst converted to float32 (dst holds numel(slice_shape)).
  void read_f32(const std::string& name, Slice s, float* dst) const;
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
