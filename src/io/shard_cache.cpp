#include "io/shard_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <fstream>

#include "core/error.h"
#include "io/temp_files.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace autodist::io {
namespace {

constexpr uint64_t P1 = 0x9E3779B185EBCA87ull, P2 = 0xC2B2AE3D27D4EB4Full, P3 = 0x165667B19E3779F9ull;
inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
inline uint64_t load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline uint64_t mix(uint64_t h) {
  h ^= h >> 33;
  h *= P2;
  h ^= h >> 29;
  h *= P3;
  return h ^ (h >> 32);
}

// Four independent lanes over 32-byte strides so the loop runs at memory speed.
uint64_t hash_block(const uint8_t* p, size_t n) {
  uint64_t a = P1, b = P2, c = P3, d = P1 ^ P2;
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a = rotl(a + load64(p + i) * P2, 31) * P1;
    b = rotl(b + load64(p + i + 8) * P2, 31) * P1;
    c = rotl(c + load64(p + i + 16) * P2, 31) * P1;
    d = rotl(d + load64(p + i + 24) * P2, 31) * P1;
  }
  uint64_t h = rotl(a, 1) + rotl(b, 7) + rotl(c, 12) + rotl(d, 18) + n;
  for (; i < n; ++i) h = rotl(h ^ (p[i] * P3), 11) * P1;
  return mix(h);
}

std::string now_iso() {
  auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(t));
}

json read_json(const std::string& path) {
  std::ifstream f(path);
  AD_CHECK(f.good(), "cannot read {}", path);
  return json::parse(f);
}

// The checksum of a whole file, read in large pieces.
std::string file_checksum(const SafetensorsFile& f) {
  std::vector<uint8_t> buf(size_t(8) << 20);
  Checksum c;
  for (uint64_t at = 0; at < f.size(); at += buf.size()) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), f.size() - at));
    f.read(at, buf.data(), n);
    c.update(buf.data(), n);
  }
  return Checksum::hex(c.digest());
}

}  // namespace

void Checksum::fold(const uint8_t* p, size_t n) {
  acc_ = rotl(acc_ ^ hash_block(p, n), 27) * P1 + P3;
  total_ += n;
}

void Checksum::update(const void* data, size_t n) {
  auto* p = static_cast<const uint8_t*>(data);
  if (!pending_.empty()) {
    size_t take = std::min(n, kChunk - pending_.size());
    pending_.insert(pending_.end(), p, p + take);
    p += take;
    n -= take;
    if (pending_.size() < kChunk) return;
    fold(pending_.data(), kChunk);
    pending_.clear();
  }
  for (; n >= kChunk; p += kChunk, n -= kChunk) fold(p, kChunk);
  if (n) pending_.assign(p, p + n);
}

uint64_t Checksum::digest() {
  if (!pending_.empty()) fold(pending_.data(), pending_.size());
  pending_.clear();
  return mix(acc_ ^ total_);
}

std::string Checksum::hex(uint64_t h) { return fmt::format("{:016x}", h); }

namespace {

// What of one checkpoint file goes into the fingerprint: all of a small file (config.json, the
// index), else the safetensors header and kSamples blocks spread over the data. Two copies of a
// model with equal names, sizes and times but other weights differ in every sampled block.
void hash_content(const fs::path& f, size_t size, Checksum& c) {
  constexpr size_t kSmall = size_t(1) << 20, kBlock = 4096, kSamples = 8;
  int fd = ::open(f.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  AD_CHECK(fd >= 0, "cannot read {}: {}", f.string(), std::strerror(errno));
  std::vector<uint8_t> buf;
  auto take = [&](size_t off, size_t n) {
    buf.resize(n);
    ssize_t got = ::pread(fd, buf.data(), n, static_cast<off_t>(off));
    if (got > 0) c.update(buf.data(), static_cast<size_t>(got));
  };
  if (size <= kSmall) {
    take(0, size);
  } else {
    uint64_t n = 0;  // safetensors: 8-byte header length, then the JSON header
    size_t data = 0;
    if (::pread(fd, &n, 8, 0) == 8 && n <= std::min<uint64_t>(size - 8, 100u << 20)) data = 8 + n;
    take(0, data);
    const size_t span = size - data;
    for (size_t i = 0; i < kSamples; ++i) take(data + (span - std::min(span, kBlock)) * i / (kSamples - 1), kBlock);
  }
  ::close(fd);
}

}  // namespace

std::string model_real_path(const std::string& model_dir) {
  std::error_code ec;
  fs::path dir = fs::canonical(model_dir, ec);
  return ec ? fs::absolute(model_dir).lexically_normal().string() : dir.string();
}

std::string model_fingerprint(const std::string& model_dir) {
  const fs::path dir = model_real_path(model_dir);
  std::error_code ec;
  std::vector<fs::path> files;
  for (auto& e : fs::directory_iterator(dir, ec)) {
    auto name = e.path().filename().string();
    bool weights = name.ends_with(".safetensors") || name.ends_with(".safetensors.index.json");
    if (e.is_regular_file() && (weights || name == "config.json" || name == "generation_config.json"))
      files.push_back(e.path());
  }
  AD_CHECK(!ec, "cannot list model directory {}: {}", model_dir, ec.message());
  std::sort(files.begin(), files.end());
  Checksum c;
  std::string where = dir.string() + "\n";
  c.update(where.data(), where.size());
  for (auto& f : files) {
    struct stat st {};
    AD_CHECK(::stat(f.c_str(), &st) == 0, "cannot stat {}: {}", f.string(), std::strerror(errno));
    std::string desc = fmt::format("{}|{}|{}.{}|{}:{}\n", f.filename().string(), st.st_size, st.st_mtim.tv_sec,
                                   st.st_mtim.tv_nsec, st.st_dev, st.st_ino);
    c.update(desc.data(), desc.size());
    hash_content(f, static_cast<size_t>(st.st_size), c);
  }
  return fmt::format("{}-{}", dir.filename().string(), Checksum::hex(c.digest()));
}

ShardCache::ShardCache(const std::string& cache_dir, const std::string& model_dir, const std::string& layout)
    : model_(model_real_path(model_dir)), fingerprint_(model_fingerprint(model_dir)),
      dir_((fs::path(cache_dir) / fingerprint_ / layout).string()) {
  sweep_stale_temp_files(dir_);  // full-size files of killed writers (none when the entry is new)
}

std::string ShardCache::data_path(int rank) const { return fmt::format("{}/rank{}.safetensors", dir_, rank); }
std::string ShardCache::manifest_path(int rank) const { return fmt::format("{}/rank{}.json", dir_, rank); }

std::unique_ptr<SafetensorsFile> ShardCache::open(int rank, const json& expect, std::string& why, bool verify,
                                                  std::string* checksum) const {
  why.clear();
  const std::string mp = manifest_path(rank), dp = data_path(rank);
  if (!fs::exists(mp)) return nullptr;
  json m;
  try {
    m = read_json(mp);
  } catch (const std::exception& e) {
    why = fmt::format("manifest {} is unreadable ({})", mp, e.what());
    return nullptr;
  }
  if (m.value("model", "") != model_ || m.value("fingerprint", "") != fingerprint_) {
    why = fmt::format("manifest {} was written for model {} (fingerprint {}), not for {} ({})", mp,
                      m.value("model", "?"), m.value("fingerprint", "none"), model_, fingerprint_);
    return nullptr;
  }
  for (auto& [k, v] : expect.items())
    if (!m.contains(k) || m[k] != v) {
      why = fmt::format("manifest {} was written for another {} ({} vs {})", mp, k, m.value(k, json()).dump(),
                        v.dump());
      return nullptr;
    }
  std::error_code ec;
  auto size = fs::file_size(dp, ec);
  if (ec) {
    why = fmt::format("{} is missing", dp);
    return nullptr;
  }
  if (size != m.value("size", size_t(0))) {
    why = fmt::format("{} has {} bytes, its manifest says {} (truncated?)", dp, size, m.value("size", size_t(0)));
    return nullptr;
  }
  std::unique_ptr<SafetensorsFile> f;
  try {
    f = std::make_unique<SafetensorsFile>(dp);
  } catch (const std::exception& e) {
    why = e.what();
    return nullptr;
  }
  if (checksum) *checksum = m.value("checksum", std::string());
  if (!verify) return f;
  std::string got;
  try {
    got = file_checksum(*f);
  } catch (const std::exception& e) {
    why = e.what();
    return nullptr;
  }
  if (got != m.value("checksum", std::string())) {
    why = fmt::format("{} fails its checksum ({} vs {} in the manifest)", dp, got, m.value("checksum", std::string()));
    return nullptr;
  }
  return f;
}

ShardCache::Writer::Writer(const ShardCache& cache, int rank, const std::vector<TensorInfo>& tensors, json manifest,
                           const json& layout_info)
    : path_(cache.data_path(rank)), manifest_path_(cache.manifest_path(rank)), manifest_(std::move(manifest)) {
  manifest_["model"] = cache.model_;
  manifest_["fingerprint"] = cache.fingerprint_;
  std::error_code ec;
  fs::create_directories(cache.entry_dir(), ec);
  AD_CHECK(!ec, "cannot create {}: {}", cache.entry_dir(), ec.message());
  if (!fs::exists(fs::path(cache.entry_dir()) / "layout.json"))
    write_file_atomic((fs::path(cache.entry_dir()) / "layout.json").string(), layout_info.dump(2) + "\n");
  tmp_ = temp_path(path_);
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
  AD_CHECK(fd_ >= 0, "cannot create {}: {}", tmp_, std::strerror(errno));
  std::string header = safetensors_header(tensors);
  expected_ = header.size();
  for (auto& t : tensors) expected_ += t.nbytes;
  manifest_["tensors"] = tensors.size();
  write(header.data(), header.size());
}

ShardCache::Writer::~Writer() {
  if (fd_ >= 0) ::close(fd_);
  if (!done_) ::unlink(tmp_.c_str());
}

void ShardCache::Writer::write(const void* p, size_t n) {
  sum_.update(p, n);
  auto* b = static_cast<const char*>(p);
  while (n > 0) {
    ssize_t w = ::write(fd_, b, n);
    if (w < 0 && errno == EINTR) continue;
    AD_CHECK(w > 0, "cannot write {}: {}", tmp_, std::strerror(errno));
    b += w;
    n -= static_cast<size_t>(w);
    written_ += static_cast<size_t>(w);
  }
}

void ShardCache::Writer::commit() {
  AD_CHECK(written_ == expected_, "{}: wrote {} bytes, expected {}", tmp_, written_, expected_);
  AD_CHECK(::fsync(fd_) == 0, "fsync {}: {}", tmp_, std::strerror(errno));
  ::close(fd_);
  fd_ = -1;
  manifest_["format"] = "autodist-shard-cache";
  manifest_["size"] = written_;
  manifest_["checksum"] = Checksum::hex(sum_.digest());
  manifest_["created"] = now_iso();
  AD_CHECK(::rename(tmp_.c_str(), path_.c_str()) == 0, "rename {} -> {}: {}", tmp_, path_, std::strerror(errno));
  done_ = true;
  write_file_atomic(manifest_path_, manifest_.dump(2) + "\n");
}

void write_file_atomic(const std::string& path, const std::string& text) {
  std::string tmp = temp_path(path);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
  AD_CHECK(fd >= 0, "cannot create {}: {}", tmp, std::strerror(errno));
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    if (ok) err = errno;
    ::unlink(tmp.c_str());
    AD_FAIL("cannot write {}: {}", path, std::strerror(err));
  }
}

std::vector<CachedFile> list_cache(const std::string& cache_dir, bool verify) {
  AD_CHECK(fs::is_directory(cache_dir), "cache directory {} does not exist", cache_dir);
  std::vector<CachedFile> out;
  for (auto& e : fs::recursive_directory_iterator(cache_dir)) {
    if (!e.is_regular_file() || e.path().filename() != "layout.json") continue;
    fs::path entry = e.path().parent_path();
    json layout;
    try {
      layout = read_json(e.path().string());
    } catch (...) {
    }
    for (auto& m : fs::directory_iterator(entry)) {
      auto name = m.path().filename().string();
      int rank = -1;
      if (std::sscanf(name.c_str(), "rank%d.json", &rank) != 1 || !name.ends_with(".json")) continue;
      CachedFile cf;
      cf.entry_dir = entry.string();
      cf.rank = rank;
      cf.model = layout.value("model", "");
      cf.layout = entry.filename().string();
      cf.file = (entry / fmt::format("rank{}.safetensors", rank)).string();
      json man;
      try {
        man = read_json(m.path().string());
        cf.size = man.value("size", size_t(0));
        cf.created = man.value("created", "");
      } catch (...) {
        cf.status = "manifest";
      }
      if (verify && cf.status.empty()) {
        std::error_code ec;
        auto size = fs::file_size(cf.file, ec);
        if (ec) {
          cf.status = "missing";
        } else if (size != cf.size) {
          cf.status = "size";
        } else {
          cf.status = file_checksum(SafetensorsFile(cf.file)) == man.value("checksum", "") ? "ok" : "checksum";
        }
      }
      out.push_back(std::move(cf));
    }
  }
  std::sort(out.begin(), out.end(),
            [](auto& a, auto& b) { return std::tie(a.entry_dir, a.rank) < std::tie(b.entry_dir, b.rank); });
  return out;
}

std::vector<TempFileInfo> cache_temp_files(const std::string& cache_dir) {
  AD_CHECK(fs::is_directory(cache_dir), "cache directory {} does not exist", cache_dir);
  std::vector<TempFileInfo> out;
  auto add = [&](const fs::path& d) {
    auto t = temp_files_in(d.string());
    out.insert(out.end(), t.begin(), t.end());
  };
  add(cache_dir);
  for (auto& e : fs::recursive_directory_iterator(cache_dir))
    if (e.is_directory()) add(e.path());
  return out;
}

size_t clear_cache(const std::string& cache_dir) {
  AD_CHECK(fs::is_directory(cache_dir), "cache directory {} does not exist", cache_dir);
  std::vector<fs::path> entries;
  for (auto& e : fs::recursive_directory_iterator(cache_dir))
    if (e.is_regular_file() && e.path().filename() == "layout.json") entries.push_back(e.path().parent_path());
  size_t freed = 0;
  for (auto& d : entries) {
    for (auto& f : fs::directory_iterator(d))
      if (f.is_regular_file()) freed += f.file_size();
    fs::remove_all(d);
    // Drop the fingerprint directory too once its last layout is gone.
    std::error_code ec;
    if (fs::is_empty(d.parent_path(), ec)) fs::remove(d.parent_path(), ec);
  }
  // Stale temporaries outside the entries (a write killed before its layout.json was renamed).
  for (auto& t : cache_temp_files(cache_dir))
    if (t.stale && ::unlink(t.path.c_str()) == 0) freed += t.size;
  return freed;
}

}  // namespace autodist::io
