// defines: AddedToken, AddedTokens (finds added/special tokens in text, leftmost-longest, with HF's
//          lstrip/rstrip/single_word rules)
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace autodist::tokenizer {

struct AddedToken {
  int32_t id = -1;
  std::string content;  // matched against the text (normalized content when `normalized`)
  bool special = false;
  bool lstrip = false, rstrip = false, single_word = false, normalized = false;
};

// A piece of text: either plain text to normalize and pre-tokenize, or one added token.
struct Piece {
  std::string_view text;
  int32_t id = -1;  // >= 0: an added token
};

class AddedTokens {
 public:
  // Tokens are matched in two passes, as in HF: those with normalized=false on the raw text, then
  // those with normalized=true on the normalized text.
  void add(AddedToken t);
  const std::vector<AddedToken>& tokens() const { return tokens_; }

  // Splits s around the tokens whose `normalized` flag equals `normalized` (skipping special tokens
  // unless with_special). Whitespace eaten by lstrip/rstrip belongs to the token.
  void split(std::string_view s, bool normalized, bool with_special, std::vector<Piece>& out) const;
  bool any(bool normalized) const { return count_[normalized] > 0; }

 private:
  struct Node {
    std::vector<std::pair<uint8_t, int32_t>> next;  // byte -> node
    int32_t token = -1;                             // index into tokens_ ending here
  };
  int32_t child(int32_t node, uint8_t b) const;
  // Longest allowed token starting at s[i]: index into tokens_ and its length, or -1.
  int32_t longest_at(std::string_view s, size_t i, bool normalized, bool with_special, size_t& len) const;

  std::vector<AddedToken> tokens_;
  std::vector<Node> trie_{Node{}};
  std::array<bool, 256> first_byte_{};
  int count_[2] = {0, 0};
};

}  // namespace autodist::tokenizer
