#include "tokenizer/utf8.h"

namespace autodist::tokenizer {

Utf8Step utf8_scan(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  uint8_t c = b(i);
  if (c < 0x80) return {Utf8Status::Valid, 1, c};
  size_t need;
  uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte (excludes overlongs, surrogates)
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) {
    need = 1, cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 2, cp = c & 0x0F;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 3, cp = c & 0x07;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return {Utf8Status::Invalid, 1, 0};
  }
  for (size_t k = 1; k <= need; ++k) {
    if (i + k >= s.size()) return {Utf8Status::Truncated, k, 0};
    uint8_t d = b(i + k);
    uint8_t l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
    if (d < l || d > h) return {Utf8Status::Invalid, k, 0};
    cp = (cp << 6) | (d & 0x3F);
  }
  return {Utf8Status::Valid, need + 1, cp};
}

size_t first_invalid_utf8(std::string_view s) {
  size_t i = 0, n = s.size();
  while (i < n) {
    // ASCII fast path, 8 bytes at a time.
    while (i + 8 <= n) {
      uint64_t w;
      __builtin_memcpy(&w, s.data() + i, 8);
      if (w & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= n) break;
    if (static_cast<uint8_t>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    Utf8Step st = utf8_scan(s, i);
    if (st.status != Utf8Status::Valid) return i;
    i += st.len;
  }
  return std::string_view::npos;
}

std::string utf8_lossy(std::string_view s) {
  if (first_invalid_utf8(s) == std::string_view::npos) return std::string(s);
  std::string out;
  out.reserve(s.size() + 8);
  for (size_t i = 0; i < s.size();) {
    Utf8Step st = utf8_scan(s, i);
    if (st.status == Utf8Status::Valid)
      out.append(s.substr(i, st.len));
    else
      out += "\xEF\xBF\xBD";
    i += st.len;
  }
  return out;
}

bool is_unicode_whitespace(uint32_t cp) {
  if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F);
  if (cp < 0x85) return false;
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
         cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

uint32_t last_code_point(std::string_view s, size_t end) {
  if (end == 0) return 0;
  size_t i = end - 1;
  while (i > 0 && (static_cast<uint8_t>(s[i]) & 0xC0) == 0x80) --i;
  Utf8Step st = utf8_scan(s.substr(0, end), i);
  return st.status == Utf8Status::Valid ? st.cp : 0xFFFD;
}

std::string strip_unicode_whitespace(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e) {
    Utf8Step st = utf8_scan(s, b);
    if (st.status != Utf8Status::Valid || !is_unicode_whitespace(st.cp)) break;
    b += st.len;
  }
  while (e > b) {
    size_t i = e - 1;
    while (i > b && (static_cast<uint8_t>(s[i]) & 0xC0) == 0x80) --i;
    Utf8Step st = utf8_scan(s.substr(0, e), i);
    if (st.status != Utf8Status::Valid || !is_unicode_whitespace(st.cp)) break;
    e = i;
  }
  return std::string(s.substr(b, e - b));
}

}  // namespace autodist::tokenizer
