// defines: Checksum (fast 64-bit streaming hash), model_real_path, model_fingerprint, ShardCache
//          (per-rank pre-sharded safetensors + manifest: lookup, atomic write, list/verify/clear),
//          cache_temp_files
//
// Layout on disk:  DIR/<model fingerprint>/<layout>/rank<r>.safetensors  + rank<r>.json (manifest:
// size, checksum, the model's real path and fingerprint, what the file holds) + layout.json (model
// path and layout, for `cache list`). Files are written under a temporary name (io::temp_path) and
// renamed, data before manifest, so a reader that finds a manifest finds its file; concurrent writers
// of one layout produce identical bytes; the next run to use an entry removes the stale temporaries
// of killed writers.
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "io/temp_files.h"

namespace autodist::io {

// Streaming 64-bit hash (not cryptographic: detects truncation and flipped bytes). Data is folded in
// 1 MiB chunks, so the digest depends only on the bytes, not on how update() calls split them.
class Checksum {
 public:
  void update(const void* p, size_t n);
  uint64_t digest();  // once, at the end
  static std::string hex(uint64_t h);

 private:
  static constexpr size_t kChunk = size_t(1) << 20;
  void fold(const uint8_t* p, size_t n);
  std::vector<uint8_t> pending_;
  uint64_t acc_ = 0x9E3779B97F4A7C15ull;
  uint64_t total_ = 0;
};

// The model directory with symlinks resolved (absolute and normalised when it does not exist).
std::string model_real_path(const std::string& model_dir);

// "<dir name>-<16 hex>": a hash of the directory's real path and, for each config and weight file
// (config.json, generation_config.json, *.safetensors, *.safetensors.index.json), its name, size,
// modification time, device and inode, and its content: all of a small file, else the safetensors
// header and 8 blocks of 4 KiB spread over the data (a few reads per file, whatever its size).
std::string model_fingerprint(const std::string& model_dir);

class ShardCache {
 public:
  // entry_dir = cache_dir/model_fingerprint(model_dir)/layout; removes the entry's stale temporaries.
  ShardCache(const std::string& cache_dir, const std::string& model_dir, const std::string& layout);
  const std::string& entry_dir() const { return dir_; }
  std::string data_path(int rank) const;
  std::string manifest_path(int rank) const;

  // The rank's file when its manifest exists, names this model (real path and fingerprint), matches
  // `expect` (every key of it) and the file's size and checksum agree. Otherwise null with `why` saying what was wrong ("" when simply absent).
  // With verify = false the checksum is left to the caller (`checksum` returns the manifest's), so a
  // loader can hash each tensor as it copies it: one pass over the file instead of two.
  std::unique_ptr<SafetensorsFile> open(int rank, const nlohmann::json& expect, std::string& why, bool verify = true,
                                        std::string* checksum = nullptr) const;

  // Streams one rank's file: header first, then the tensors' bytes in order.
  class Writer {
   public:
    Writer(const ShardCache& cache, int rank, const std::vector<TensorInfo>& tensors, nlohmann::json manifest,
           const nlohmann::json& layout_info);
    ~Writer();  // removes the temporary unless committed
    void write(const void* p, size_t n);
    void commit();  // fsync, rename data, then write and rename the manifest

   private:
    std::string path_, tmp_, manifest_path_;
    int fd_ = -1;
    size_t expected_ = 0, written_ = 0;
    Checksum sum_;
    nlohmann::json manifest_;
    bool done_ = false;
  };

 private:
  std::string model_, fingerprint_, dir_;
};

// `autodist cache` support: every rank file under a cache dir.
struct CachedFile {
  std::string entry_dir, file, model, layout;
  int rank = 0;
  size_t size = 0;
  std::string created;
  std::string status;  // ok | missing | size | checksum | manifest (verify only; "" from list)
};
std::vector<CachedFile> list_cache(const std::string& cache_dir, bool verify);
// The temporaries (io::temp_files_in) in every directory under cache_dir: files of writes that are
// under way, or of killed writers (stale: the next run that opens their entry removes them).
std::vector<TempFileInfo> cache_temp_files(const std::string& cache_dir);
// Removes every cache entry (directories holding layout.json) and every stale temporary under cache_dir;
// returns bytes freed.
size_t clear_cache(const std::string& cache_dir);

// Writes `text` to path via a temporary in the same directory and rename.
void write_file_atomic(const std::string& path, const std::string& text);

}  // namespace autodist::io
