#include "io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace autodist::io {

std::string TensorInfo::shape_str() const {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  AD_CHECK(fd >= 0, "cannot open safetensors file {}: {}", path, std::strerror(errno));
  struct stat st {};
  fstat(fd, &st);
  map_size_ = static_cast<size_t>(st.st_size);
  if (map_size_ < 8) {
    ::close(fd);
    AD_FAIL("{}: truncated safetensors file ({} bytes, the 8-byte header length is missing)", path, map_size_);
  }
  void* p = mmap(nullptr, map_size_, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  AD_CHECK(p != MAP_FAILED, "cannot mmap {}: {}", path, std::strerror(errno));
  map_ = static_cast<uint8_t*>(p);

  uint64_t hlen = 0;
  std::memcpy(&hlen, map_, 8);
  if (hlen > map_size_ - 8) {
    munmap(map_, map_size_);
    map_ = nullptr;
    AD_FAIL("{}: header length {} runs past the end of the file ({} bytes): truncated or not a safetensors file",
            path, hlen, map_size_);
  }
  data_ = map_ + 8 + hlen;
  size_t data_size = map_size_ - 8 - hlen;
  json h;
  try {
    h = json::parse(reinterpret_cast<const char*>(map_ + 8), reinterpret_cast<const char*>(data_));
  } catch (const std::exception& e) {
    munmap(map_, map_size_);
    map_ = nullptr;
    AD_FAIL("{}: safetensors header is not valid JSON ({})", path, e.what());
  }
  try {
    AD_CHECK(h.is_object(), "{}: safetensors header is not a JSON object", path);
    for (auto& [name, v] : h.items()) {
      if (name == "__metadata__") {
        for (auto& [k, mv] : v.items())
          if (mv.is_string()) metadata_[k] = mv.get<std::string>();
        continue;
      }
      TensorInfo t;
      t.name = name;
      t.dtype = parse_safetensors_dtype(v.at("dtype").get<std::string>());
      t.shape = v.at("shape").get<std::vector<int64_t>>();
      auto off = v.at("data_offsets").get<std::vector<uint64_t>>();
      AD_CHECK(off.size() == 2 && off[0] <= off[1], "{}: tensor '{}' has bad data_offsets", path, name);
      AD_CHECK(off[1] <= data_size,
               "{}: tensor '{}' data [{}, {}) lies outside the data section ({} bytes): truncated file?", path,
               name, off[0], off[1], data_size);
      for (auto d : t.shape) AD_CHECK(d >= 0, "{}: tensor '{}' has a negative dimension", path, name);
      t.offset = off[0];
      t.nbytes = off[1] - off[0];
      AD_CHECK(t.nbytes == static_cast<size_t>(t.numel()) * dtype_size(t.dtype),
               "{}: tensor '{}' has {} bytes but shape {} of {} needs {}", path, name, t.nbytes, t.shape_str(),
               dtype_name(t.dtype), t.numel() * dtype_size(t.dtype));
      tensors_[name] = std::move(t);
    }
  } catch (const nlohmann::json::exception& e) {
    munmap(map_, map_size_);
    map_ = nullptr;
    AD_FAIL("{}: malformed safetensors header ({})", path, e.what());
  } catch (...) {
    munmap(map_, map_size_);
    map_ = nullptr;
    throw;
  }
}

SafetensorsFile::~SafetensorsFile() {
  if (map_) munmap(map_, map_size_);
}

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

Checkpoint::Checkpoint(const std::string& dir) : dir_(dir) {
  AD_CHECK(fs::is_directory(dir), "model directory '{}' does not exist", dir);
  fs::path single = fs::path(dir) / "model.safetensors";
  fs::path index = fs::path(dir) / "model.safetensors.index.json";
  if (fs::exists(index)) {
    json j;
    try {
      std::ifstream f(index);
      j = json::parse(f);
    } catch (const std::exception& e) {
      AD_FAIL("{}: not valid JSON ({})", index.string(), e.what());
    }
    AD_CHECK(j.contains("weight_map") && j["weight_map"].is_object(), "{}: no 'weight_map' object",
             index.string());
    std::map<std::string, size_t> file_idx;
    for (auto& [name, fv] : j["weight_map"].items()) {
      AD_CHECK(fv.is_string(), "{}: weight_map maps '{}' to {}, expected a shard file name (a string)",
               index.string(), name, fv.dump());
      std::string fname = fv.get<std::string>();
      auto it = file_idx.find(fname);
      if (it == file_idx.end()) {
        fs::path fp = fs::path(dir) / fname;
        AD_CHECK(fs::exists(fp), "{} names shard '{}' which does not exist", index.string(), fp.string());
        files_.push_back(std::make_unique<SafetensorsFile>(fp.string()));
        it = file_idx.emplace(fname, files_.size() - 1).first;
      }
      AD_CHECK(files_[it->second]->find(name), "{} maps '{}' to {}, which does not hold it", index.string(), name,
               fname);
      where_[name] = it->second;
    }
  } else if (fs::exists(single)) {
    files_.push_back(std::make_unique<SafetensorsFile>(single.string()));
    for (auto& [name, t] : files_[0]->tensors()) where_[name] = 0;
  } else {
    AD_FAIL("no model.safetensors or model.safetensors.index.json in '{}'", dir);
  }
}

void SafetensorsFile::release(const TensorInfo& t) const {
  // madvise wants page-aligned ranges: only whole pages inside the tensor.
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  uintptr_t a = reinterpret_cast<uintptr_t>(data_ + t.offset), e = a + t.nbytes;
  a = (a + page - 1) / page * page;
  e = e / page * page;
  if (e > a) madvise(reinterpret_cast<void*>(a), e - a, MADV_DONTNEED);
}

bool Checkpoint::has(const std::string& name) const { return where_.count(name) > 0; }

const TensorInfo& Checkpoint::info(const std::string& name) const {
  auto it = where_.find(name);
  AD_CHECK(it != where_.end(), "weight '{}' is missing from the checkpoint in '{}'", name, dir_);
  return *files_[it->second]->find(name);
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> v;
  for (auto& [n, i] : where_) v.push_back(n);
  return v;
}

std::vector<int64_t> Checkpoint::slice_shape(const std::string& name, Slice s) const {
  auto shape = info(name).shape;
  if (s.count < 0 && s.start == 0) return shape;
  AD_CHECK(s.dim < static_cast<int>(shape.size()) && s.dim <= 1, "slice of '{}' along dim {} of shape {}", name,
           s.dim, info(name).shape_str());
  int64_t n = s.count < 0 ? shape[s.dim] - s.start : s.count;
  AD_CHECK(s.start >= 0 && s.start + n <= shape[s.dim], "slice [{}, {}) of '{}' dim {} is out of range (size {})",
           s.start, s.start + n, name, s.dim, shape[s.dim]);
  shape[s.dim] = n;
  return shape;
}

void Checkpoint::read_f32(const std::string& name, Slice s, float* dst) const {
  const TensorInfo& t = info(name);
  const uint8_t* base = files_[where_.at(name)]->data(t);
  auto out = slice_shape(name, s);
  size_t es = dtype_size(t.dtype);
  if (s.dim == 0 || out == t.shape) {
    int64_t row = t.shape.empty() ? 1 : t.numel() / std::max<int64_t>(t.shape[0], 1);
    int64_t n = 1;
    for (auto d : out) n *= d;
    convert_to_f32(base + s.start * row * es, t.dtype, dst, static_cast<size_t>(n));
    bytes_read_ += static_cast<size_t>(n) * es;
    return;
  }
  // Columns of a 2-D [rows, cols] tensor: one strided copy per row.
  AD_CHECK(t.shape.size() == 2, "column slice of '{}' needs a 2-D tensor, shape is {}", name, t.shape_str());
  int64_t rows = t.shape[0], cols = t.shape[1], n = out[1];
  for (int64_t r = 0; r < rows; ++r)
    convert_to_f32(base + (r * cols + s.start) * es, t.dtype, dst + r * n, static_cast<size_t>(n));
  bytes_read_ += static_cast<size_t>(rows * n) * es;
}

std::string safetensors_header(const std::vector<TensorInfo>& tensors,
                               const std::map<std::string, std::string>& metadata) {
  json h = json::object();
  if (!metadata.empty()) h["__metadata__"] = metadata;
  size_t off = 0;
  for (auto& t : tensors) {
    h[t.name] = {{"dtype", safetensors_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {off, off + t.nbytes}}};
    off += t.nbytes;
  }
  std::string hs = h.dump();
  while ((hs.size() + 8) % 8) hs.push_back(' ');
  uint64_t hlen = hs.size();
  return std::string(reinterpret_cast<const char*>(&hlen), 8) + hs;
}

void write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<TensorInfo> infos;
  for (auto& nt : tensors) {
    TensorInfo t;
    t.name = nt.name;
    t.dtype = nt.tensor.dtype;
    t.shape.assign(nt.tensor.shape.d.begin(), nt.tensor.shape.d.begin() + nt.tensor.ndim());
    t.nbytes = nt.tensor.nbytes();
    infos.push_back(std::move(t));
  }
  std::string hs = safetensors_header(infos, metadata);
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  AD_CHECK(f.good(), "cannot write {}", path);
  f.write(hs.data(), static_cast<std::streamsize>(hs.size()));
  for (auto& nt : tensors) f.write(static_cast<const char*>(nt.tensor.data), static_cast<std::streamsize>(nt.tensor.nbytes()));
  f.close();
  AD_CHECK(f.good(), "error while writing {} (disk full?)", path);
}

}  // namespace autodist::io
