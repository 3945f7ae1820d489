// defines: BpeModel (byte-level BPE: vocab, merges by rank, a cache of pre-token results)
#pragma once
#include <array>
#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace autodist::tokenizer {

// Open-addressing map (left id, right id) -> (rank, merged id): the inner loop of BPE looks pairs
// up far more often than anything else, and std::unordered_map is several times slower here.
class PairMap {
 public:
  struct Entry {
    uint64_t key;
    int32_t rank;
    int32_t id;
  };
  void reserve(size_t n);
  void insert(int32_t a, int32_t b, int32_t rank, int32_t id);  // a later insert of a pair wins
  const Entry* find(int32_t a, int32_t b) const {
    uint64_t k = key(a, b);
    for (size_t i = slot(k);; i = (i + 1) & mask_) {
      const Entry& e = table_[i];
      if (e.key == k) return &e;
      if (e.key == kEmpty) return nullptr;
    }
  }
  size_t size() const { return size_; }

 private:
  static constexpr uint64_t kEmpty = ~0ull;
  static uint64_t key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  size_t slot(uint64_t k) const { return static_cast<size_t>((k * 0x9E3779B97F4A7C15ull) >> shift_); }
  std::vector<Entry> table_;
  size_t mask_ = 0, size_ = 0;
  int shift_ = 64;
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using StringIdMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

class BpeModel {
 public:
  // j: the "model" section of tokenizer.json (type BPE). file: for errors. Every id must be below id_limit (the
  // number of tokens the file defines: the id table is sized by the largest id) and belong to one token.
  static BpeModel from_json(const nlohmann::json& j, const std::string& file, int64_t id_limit);

  // Appends the ids of one pre-token (raw bytes). Thread-safe.
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;
  // Id of a token given by its bytes; -1 if absent.
  int32_t id_of_bytes(std::string_view bytes) const;
  // Bytes of every model id (empty for gaps); HF ByteLevel decoding of the token string.
  const std::vector<std::string>& id_bytes() const { return id_bytes_; }
  void clear_cache() const;

  BpeModel() = default;
  BpeModel(BpeModel&& o) noexcept { *this = std::move(o); }
  BpeModel& operator=(BpeModel&& o) noexcept;  // the cache's mutex stays put

 private:
  void merge_small(std::vector<int32_t>& sym) const;
  void merge_heap(std::vector<int32_t>& sym) const;

  StringIdMap vocab_;                 // bytes -> id
  std::vector<std::string> id_bytes_;  // id -> bytes
  PairMap merges_;
  std::array<int32_t, 256> byte_id_{};  // id of each single byte, -1 if the vocab lacks it
  int32_t unk_id_ = -1;
  bool ignore_merges_ = false;

  mutable std::mutex cache_mu_;
  mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> cache_;
};

}  // namespace autodist::tokenizer
