// defines: UTF-8 helpers for the tokenizer: utf8_scan (one character or one invalid subpart),
//          first_invalid_utf8, utf8_lossy (Rust from_utf8_lossy semantics, as HF decode),
//          is_unicode_whitespace, strip_unicode_whitespace (Python str.strip, as Jinja's trim)
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace autodist::tokenizer {

enum class Utf8Status { Valid, Invalid, Truncated };

struct Utf8Step {
  Utf8Status status;
  size_t len;     // bytes consumed: the character, or the maximal invalid subpart (>= 1)
  uint32_t cp;    // code point when Valid
};

// Decodes the character at s[i]. Invalid input is split into "maximal subparts" (Unicode 3.9, what
// Rust's from_utf8_lossy and hence HF decode replace by one U+FFFD each). Truncated: a valid prefix
// of a character that runs into the end of s (a streaming decoder waits for more bytes).
Utf8Step utf8_scan(std::string_view s, size_t i);

// Offset of the first byte that is not valid UTF-8, or npos.
size_t first_invalid_utf8(std::string_view s);

// s with every invalid subpart (and a truncated tail) replaced by U+FFFD.
std::string utf8_lossy(std::string_view s);

// Python's str.isspace set (also Rust's char::is_whitespace, up to U+001C..U+001F).
bool is_unicode_whitespace(uint32_t cp);
// Code point before byte offset end (s[0..end) must be valid UTF-8); 0 when end == 0.
uint32_t last_code_point(std::string_view s, size_t end);

// Python str.strip() / Jinja trim: leading and trailing Unicode whitespace removed.
std::string strip_unicode_whitespace(std::string_view s);

}  // namespace autodist::tokenizer
