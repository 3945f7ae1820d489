// defines: Regex (PCRE2, UTF + Unicode properties, JIT when available) with find_all
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace autodist::tokenizer {

class Regex {
 public:
  // pattern as written in tokenizer.json (Oniguruma syntax, which PCRE2 reads the same for the
  // patterns tokenizers use); literal: match the text itself (a Split with a "String" pattern).
  // what: a short description for error messages (e.g. the file).
  Regex(const std::string& pattern, bool literal, const std::string& what);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Non-empty matches of the regex in s, left to right, as [begin, end) byte offsets.
  // s must be valid UTF-8 (checked by the caller).
  void find_all(std::string_view s, std::vector<std::pair<size_t, size_t>>& out) const;

 private:
  void* code_ = nullptr;  // pcre2_code_8*
  std::string pattern_;
};

}  // namespace autodist::tokenizer
