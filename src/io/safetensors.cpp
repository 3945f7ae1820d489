#include "io/safetensors.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "core/error.h"
#include "core/file.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace autodist::io {

std::string TensorInfo::shape_str() const {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

namespace {

// As the safetensors library: a larger header is refused before it is read.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

// Parses JSON, refusing a key repeated in one object (nlohmann keeps the last one silently).
json parse_unique_keys(const std::string& path, const char* what, const char* b, const char* e) {
  std::vector<std::set<std::string>> keys(1);
  std::string dup;
  json::parser_callback_t cb = [&](int depth, json::parse_event_t ev, json& parsed) {
    const size_t d = static_cast<size_t>(depth);
    if (ev == json::parse_event_t::object_start) {
      if (keys.size() < d + 2) keys.resize(d + 2);
      keys[d + 1].clear();
    } else if (ev == json::parse_event_t::key && dup.empty() && !keys[d].insert(parsed.get<std::string>()).second) {
      dup = parsed.get<std::string>();
    }
    return true;
  };
  json h;
  try {
    h = json::parse(b, e, cb);
  } catch (const std::exception& ex) {
    AD_FAIL("{}: {} is not valid JSON ({})", path, what, ex.what());
  }
  AD_CHECK(dup.empty(), "{}: {} names '{}' twice", path, what, dup);
  AD_CHECK(h.is_object(), "{}: {} is not a JSON object", path, what);
  return h;
}

uint64_t checked_mul(uint64_t a, uint64_t b, const std::string& path, const std::string& name) {
  uint64_t r = 0;
  AD_CHECK(!__builtin_mul_overflow(a, b, &r), "{}: tensor '{}': its shape's byte count overflows 64 bits", path,
           name);
  return r;
}

TensorInfo parse_tensor(const std::string& path, const std::string& name, const json& v, uint64_t data_size) {
  AD_CHECK(v.is_object(), "{}: tensor '{}' is not a JSON object", path, name);
  for (const char* k : {"dtype", "shape", "data_offsets"})
    AD_CHECK(v.contains(k), "{}: tensor '{}' has no '{}'", path, name, k);
  TensorInfo t;
  t.name = name;
  AD_CHECK(v["dtype"].is_string(), "{}: tensor '{}' has a dtype that is not a string ({})", path, name,
           v["dtype"].dump());
  try {
    t.dtype = parse_safetensors_dtype(v["dtype"].get<std::string>());
  } catch (const Error& e) {
    AD_FAIL("{}: tensor '{}': {}", path, name, e.what());
  }
  const json& shape = v["shape"];
  AD_CHECK(shape.is_array(), "{}: tensor '{}' has a shape that is not an array ({})", path, name, shape.dump());
  uint64_t numel = 1;
  for (const json& d : shape) {
    AD_CHECK(d.is_number_integer() && (d.is_number_unsigned() || d.get<int64_t>() >= 0) &&
                 d.get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX),
             "{}: tensor '{}' has shape {}: dimensions must be non-negative integers", path, name, shape.dump());
    t.shape.push_back(d.get<int64_t>());
    numel = checked_mul(numel, d.get<uint64_t>(), path, name);
  }
  const uint64_t es = dtype_size(t.dtype), need = checked_mul(numel, es, path, name);
  const json& off = v["data_offsets"];
  AD_CHECK(off.is_array() && off.size() == 2 && off[0].is_number_unsigned() && off[1].is_number_unsigned(),
           "{}: tensor '{}' has data_offsets {}: expected [begin, end], two non-negative integers", path, name,
           off.dump());
  const uint64_t b = off[0].get<uint64_t>(), e = off[1].get<uint64_t>();
  AD_CHECK(b <= e, "{}: tensor '{}' has data_offsets [{}, {}]: begin after end", path, name, b, e);
  AD_CHECK(e <= data_size,
           "{}: tensor '{}' data [{}, {}) lies outside the data section ({} bytes): truncated file?", path, name, b, e,
           data_size);
  AD_CHECK(e - b == need, "{}: tensor '{}' has {} bytes but shape {} of {} needs {}", path, name, e - b,
           t.shape_str(), dtype_name(t.dtype), need);
  AD_CHECK(b % es == 0, "{}: tensor '{}' starts at data offset {}, not a multiple of its {}-byte {} elements", path,
           name, b, es, dtype_name(t.dtype));
  t.offset = b;
  t.nbytes = e - b;
  return t;
}

}  // namespace

void parse_safetensors_header(const std::string& path, const char* b, const char* e, uint64_t data_size,
                              std::map<std::string, TensorInfo>& tensors, std::map<std::string, std::string>& meta) {
  const json h = parse_unique_keys(path, "safetensors header", b, e);
  std::vector<const TensorInfo*> by_offset;
  for (auto& [name, v] : h.items()) {
    if (name == "__metadata__") {
      AD_CHECK(v.is_object(), "{}: __metadata__ is not a JSON object", path);
      for (auto& [k, mv] : v.items()) {
        AD_CHECK(mv.is_string(), "{}: __metadata__ '{}' is not a string ({})", path, k, mv.dump());
        meta[k] = mv.get<std::string>();
      }
      continue;
    }
    by_offset.push_back(&(tensors[name] = parse_tensor(path, name, v, data_size)));
  }
  // The tensors, in file order, must tile the data section: no overlap, no gap, nothing after the last.
  std::sort(by_offset.begin(), by_offset.end(), [](const TensorInfo* x, const TensorInfo* y) {
    return std::tie(x->offset, x->nbytes, x->name) < std::tie(y->offset, y->nbytes, y->name);
  });
  uint64_t end = 0;
  const TensorInfo* prev = nullptr;
  for (const TensorInfo* t : by_offset) {
    AD_CHECK(t->offset >= end, "{}: tensor '{}' [{}, {}) overlaps tensor '{}' [{}, {})", path, t->name, t->offset,
             t->offset + t->nbytes, prev ? prev->name : "", prev ? prev->offset : 0, end);
    AD_CHECK(t->offset == end, "{}: {} unused bytes [{}, {}) before tensor '{}'", path, t->offset - end, end,
             t->offset, t->name);
    end = t->offset + t->nbytes;
    prev = t;
  }
  AD_CHECK(end == data_size, "{}: the data section has {} bytes but the tensors end at {} ({} trailing bytes)", path,
           data_size, end, data_size - end);
}

SafetensorsFile::SafetensorsFile(const std::string& path) : file_(path) {
  const uint64_t size = file_.size();
  AD_CHECK(size >= 8, "{}: truncated safetensors file ({} bytes, the 8-byte header length is missing)", path, size);
  uint64_t hlen = 0;
  read(0, &hlen, 8);
  AD_CHECK(hlen <= size - 8,
           "{}: header length {} runs past the end of the file ({} bytes): truncated or not a safetensors file", path,
           hlen, size);
  AD_CHECK(hlen <= kMaxHeaderBytes, "{}: header length {} is over the {} bytes a safetensors header may have", path,
           hlen, kMaxHeaderBytes);
  std::string header(hlen, '\0');
  read(8, header.data(), hlen);
  data_offset_ = 8 + hlen;
  parse_safetensors_header(path, header.data(), header.data() + hlen, size - data_offset_, tensors_, metadata_);
}

void SafetensorsFile::read(const TensorInfo& t, uint64_t e0, size_t n, DType dt, void* dst) const {
  const size_t es = dtype_size(t.dtype);
  AD_CHECK(e0 + n <= t.nbytes / es, "{}: read of elements [{}, {}) past the end of tensor '{}' ({} elements)", path(),
           e0, e0 + n, t.name, t.nbytes / es);
  const uint64_t at = data_offset_ + t.offset + e0 * es;
  if (dt == t.dtype) return read(at, dst, n * es);
  // Converted in chunks small enough to stay in the CPU cache between the read and the conversion.
  constexpr size_t kStage = size_t(1) << 20;
  thread_local std::vector<uint8_t> stage(kStage);
  const size_t per = kStage / es, ds = dtype_size(dt);
  for (size_t i = 0; i < n; i += per) {
    const size_t m = std::min(per, n - i);
    read(at + i * es, stage.data(), m * es);
    convert(stage.data(), t.dtype, static_cast<uint8_t*>(dst) + i * ds, dt, m);
  }
}

std::vector<float> SafetensorsFile::read_f32(const TensorInfo& t) const {
  std::vector<float> v(t.nbytes / dtype_size(t.dtype));
  read(t, 0, v.size(), DType::F32, v.data());
  return v;
}

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

namespace {
// fs::exists without the throwing overload: a name the system refuses (longer than NAME_MAX, a component that is a
// file) reads as missing, the reason in `why`.
bool path_exists(const fs::path& p, std::string& why) {
  std::error_code ec;
  const bool ok = fs::exists(p, ec);
  why = ec ? " (" + ec.message() + ")" : "";
  return ok && !ec;
}
}  // namespace

Checkpoint::Checkpoint(const std::string& dir) : dir_(dir) {
  std::error_code ec;
  AD_CHECK(fs::is_directory(dir, ec), "model directory '{}' does not exist{}", dir,
           ec ? " (" + ec.message() + ")" : "");
  fs::path single = fs::path(dir) / "model.safetensors";
  fs::path index = fs::path(dir) / "model.safetensors.index.json";
  std::string why;
  if (path_exists(index, why)) {
    const std::string text = read_regular_file(index.string());
    const json j = parse_unique_keys(index.string(), "the index", text.data(), text.data() + text.size());
    AD_CHECK(j.contains("weight_map") && j["weight_map"].is_object(), "{}: no 'weight_map' object",
             index.string());
    std::map<std::string, size_t> file_idx;
    for (auto& [name, fv] : j["weight_map"].items()) {
      AD_CHECK(fv.is_string(), "{}: weight_map maps '{}' to {}, expected a shard file name (a string)",
               index.string(), name, fv.dump());
      const std::string fname = fv.get<std::string>();
      // A shard is a file of this directory: no path, so an index cannot point reads anywhere else.
      AD_CHECK(!fname.empty() && fname != "." && fname != ".." && fname.find('/') == std::string::npos &&
                   fname.find('\0') == std::string::npos,
               "{}: weight_map maps '{}' to '{}': expected a plain file name in the model directory", index.string(),
               name, fname);
      auto it = file_idx.find(fname);
      if (it == file_idx.end()) {
        fs::path fp = fs::path(dir) / fname;
        AD_CHECK(path_exists(fp, why), "{} names shard '{}' which does not exist{}", index.string(), fp.string(), why);
        files_.push_back(std::make_unique<SafetensorsFile>(fp.string()));
        it = file_idx.emplace(fname, files_.size() - 1).first;
      }
      AD_CHECK(files_[it->second]->find(name), "{} maps '{}' to {}, which does not hold it", index.string(), name,
               fname);
      where_[name] = it->second;
    }
  } else if (path_exists(single, why)) {
    files_.push_back(std::make_unique<SafetensorsFile>(single.string()));
    for (auto& [name, t] : files_[0]->tensors()) where_[name] = 0;
  } else {
    AD_FAIL("no model.safetensors or model.safetensors.index.json in '{}'", dir);
  }
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

void Checkpoint::read(const std::string& name, Slice s, DType dt, void* dst) const {
  const TensorInfo& t = info(name);
  const SafetensorsFile& f = *files_[where_.at(name)];
  auto out = slice_shape(name, s);
  const size_t es = dtype_size(t.dtype);
  if (s.dim == 0 || out == t.shape) {
    int64_t row = t.shape.empty() ? 1 : t.numel() / std::max<int64_t>(t.shape[0], 1);
    int64_t n = 1;
    for (auto d : out) n *= d;
    f.read(t, static_cast<uint64_t>(s.start * row), static_cast<size_t>(n), dt, dst);
    bytes_read_ += static_cast<size_t>(n) * es;
    return;
  }
  // Columns of a 2-D [rows, cols] tensor: one read per row.
  AD_CHECK(t.shape.size() == 2, "column slice of '{}' needs a 2-D tensor, shape is {}", name, t.shape_str());
  const int64_t rows = t.shape[0], cols = t.shape[1], n = out[1];
  const size_t ds = dtype_size(dt);
  for (int64_t r = 0; r < rows; ++r)
    f.read(t, static_cast<uint64_t>(r * cols + s.start), static_cast<size_t>(n), dt,
           static_cast<uint8_t*>(dst) + static_cast<size_t>(r * n) * ds);
  bytes_read_ += static_cast<size_t>(rows * n) * es;
}

std::vector<size_t> safetensors_order(const std::vector<TensorInfo>& tensors) {
  std::vector<size_t> order(tensors.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return dtype_size(tensors[a].dtype) > dtype_size(tensors[b].dtype);
  });
  return order;
}

std::string safetensors_header(const std::vector<TensorInfo>& tensors,
                               const std::map<std::string, std::string>& metadata) {
  json h = json::object();
  if (!metadata.empty()) h["__metadata__"] = metadata;
  size_t off = 0;
  for (size_t i : safetensors_order(tensors)) {
    const TensorInfo& t = tensors[i];
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
  for (size_t i : safetensors_order(infos))
    f.write(static_cast<const char*>(tensors[i].tensor.data), static_cast<std::streamsize>(tensors[i].tensor.nbytes()));
  f.close();
  AD_CHECK(f.good(), "error while writing {} (disk full?)", path);
}

}  // namespace autodist::io
