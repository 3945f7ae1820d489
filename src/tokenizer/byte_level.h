// defines: GPT-2 byte-level alphabet: byte_to_char, char_to_byte, byte_level_to_bytes
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tokenizer/utf8.h"

namespace autodist::tokenizer {

// GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the other 68 bytes map to
// U+0100.. in byte order. Vocab entries are written in this alphabet ("Ġ" is the space byte).
inline const std::array<uint16_t, 256>& byte_to_char() {
  static const std::array<uint16_t, 256> table = [] {
    std::array<uint16_t, 256> t{};
    uint16_t n = 0;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      t[b] = printable ? static_cast<uint16_t>(b) : static_cast<uint16_t>(256 + n++);
    }
    return t;
  }();
  return table;
}

// Inverse table over code points < 324; -1 where a code point is not in the alphabet.
inline int char_to_byte(uint32_t cp) {
  static const std::array<int16_t, 324> table = [] {
    std::array<int16_t, 324> t;
    t.fill(-1);
    for (int b = 0; b < 256; ++b) t[byte_to_char()[b]] = static_cast<int16_t>(b);
    return t;
  }();
  return cp < table.size() ? table[cp] : -1;
}

// The bytes a byte-level token string stands for; nullopt when it holds a character outside the
// alphabet (HF's ByteLevel decoder then passes the token's own UTF-8 through unchanged).
inline std::optional<std::string> byte_level_to_bytes(std::string_view tok) {
  std::string out;
  out.reserve(tok.size());
  for (size_t i = 0; i < tok.size();) {
    Utf8Step st = utf8_scan(tok, i);
    if (st.status != Utf8Status::Valid) return std::nullopt;
    int b = char_to_byte(st.cp);
    if (b < 0) return std::nullopt;
    out.push_back(static_cast<char>(b));
    i += st.len;
  }
  return out;
}

}  // namespace autodist::tokenizer
