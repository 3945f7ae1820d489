// defines: Normalizer (NFC/NFD/NFKC/NFKD or none, via utf8proc), PreTokenizer (Sequence of Split
//          regex steps and ByteLevel), both read from the sections of a tokenizer.json
#pragma once
#include <deque>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/regex.h"

namespace autodist::tokenizer {

class Normalizer {
 public:
  // j: the "normalizer" value (null, {"type": "NFC"}, or a Sequence of such). file: for errors.
  static Normalizer from_json(const nlohmann::json& j, const std::string& file);
  bool active() const { return !forms_.empty(); }
  // Normalized s: a view of s itself when nothing changes, else of storage.
  std::string_view apply(std::string_view s, std::string& storage) const;
  std::string apply(std::string_view s) const;

 private:
  std::vector<int> forms_;  // utf8proc option sets, applied in order
};

class PreTokenizer {
 public:
  // j: the "pre_tokenizer" value. Requires a ByteLevel step (only byte-level BPE is supported).
  static PreTokenizer from_json(const nlohmann::json& j, const std::string& file);

  // Splits s into the words BPE works on (raw bytes; byte-level mapping is implicit). Views point
  // into s or into storage (pieces that gained a prefix space).
  void split(std::string_view s, std::vector<std::string_view>& out, std::deque<std::string>& storage) const;

 private:
  enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };
  struct Step {
    std::shared_ptr<Regex> regex;  // null: no splitting (ByteLevel with use_regex false)
    Behavior behavior = Behavior::Isolated;
    bool invert = false;
    bool add_prefix_space = false;  // ByteLevel only
  };
  void add_steps(const nlohmann::json& j, const std::string& file, bool& byte_level);
  void apply_step(const Step& st, std::string_view piece, std::vector<std::string_view>& out,
                  std::deque<std::string>& storage) const;
  std::vector<Step> steps_;
};

}  // namespace autodist::tokenizer
