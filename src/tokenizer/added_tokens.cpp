#include "tokenizer/added_tokens.h"

#include <utf8proc.h>

#include "tokenizer/utf8.h"

namespace autodist::tokenizer {

namespace {

// Rust's char::is_alphanumeric (plus '_'), which HF uses for single_word boundaries.
bool is_word_char(uint32_t cp) {
  if (cp < 0x80) return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || cp == '_';
  utf8proc_category_t c = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  return c == UTF8PROC_CATEGORY_LU || c == UTF8PROC_CATEGORY_LL || c == UTF8PROC_CATEGORY_LT ||
         c == UTF8PROC_CATEGORY_LM || c == UTF8PROC_CATEGORY_LO || c == UTF8PROC_CATEGORY_ND ||
         c == UTF8PROC_CATEGORY_NL || c == UTF8PROC_CATEGORY_NO;
}

}  // namespace

int32_t AddedTokens::child(int32_t node, uint8_t b) const {
  for (auto& [c, n] : trie_[node].next)
    if (c == b) return n;
  return -1;
}

void AddedTokens::add(AddedToken t) {
  if (t.content.empty()) return;  // an empty token can never match
  int32_t node = 0;
  for (char ch : t.content) {
    uint8_t b = static_cast<uint8_t>(ch);
    int32_t nx = child(node, b);
    if (nx < 0) {
      nx = static_cast<int32_t>(trie_.size());
      trie_[node].next.emplace_back(b, nx);
      trie_.emplace_back();
    }
    node = nx;
  }
  first_byte_[static_cast<uint8_t>(t.content[0])] = true;
  ++count_[t.normalized];
  trie_[node].token = static_cast<int32_t>(tokens_.size());
  tokens_.push_back(std::move(t));
}

int32_t AddedTokens::longest_at(std::string_view s, size_t i, bool normalized, bool with_special,
                                size_t& len) const {
  int32_t best = -1, node = 0;
  for (size_t k = i; k < s.size(); ++k) {
    node = child(node, static_cast<uint8_t>(s[k]));
    if (node < 0) break;
    int32_t t = trie_[node].token;
    if (t >= 0 && tokens_[t].normalized == normalized && (with_special || !tokens_[t].special)) {
      best = t;
      len = k + 1 - i;
    }
  }
  return best;
}

void AddedTokens::split(std::string_view s, bool normalized, bool with_special, std::vector<Piece>& out) const {
  if (!count_[normalized]) {
    if (!s.empty()) out.push_back({s, -1});
    return;
  }
  size_t done = 0;  // end of the last token emitted
  size_t i = 0;
  while (i < s.size()) {
    if (!first_byte_[static_cast<uint8_t>(s[i])]) {
      ++i;
      continue;
    }
    size_t len = 0;
    int32_t t = longest_at(s, i, normalized, with_special, len);
    if (t < 0) {
      ++i;
      continue;
    }
    const AddedToken& tok = tokens_[t];
    size_t start = i, stop = i + len;
    if (tok.single_word) {
      bool left_ok = start == 0 || !is_word_char(last_code_point(s, start));
      bool right_ok = stop == s.size() || !is_word_char(utf8_scan(s, stop).cp);
      if (!left_ok || !right_ok) {
        i = stop;  // HF moves on past a rejected match
        continue;
      }
    }
    if (tok.lstrip) {
      while (start > done) {
        size_t p = start - 1;
        while (p > done && (static_cast<uint8_t>(s[p]) & 0xC0) == 0x80) --p;
        if (!is_unicode_whitespace(utf8_scan(s, p).cp)) break;
        start = p;
      }
    }
    if (tok.rstrip) {
      while (stop < s.size()) {
        Utf8Step st = utf8_scan(s, stop);
        if (st.status != Utf8Status::Valid || !is_unicode_whitespace(st.cp)) break;
        stop += st.len;
      }
    }
    if (start > done) out.push_back({s.substr(done, start - done), -1});
    out.push_back({s.substr(start, stop - start), tok.id});
    done = i = stop;
  }
  if (done < s.size()) out.push_back({s.substr(done), -1});
}

}  // namespace autodist::tokenizer
