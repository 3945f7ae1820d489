// defines: ChatMessage, Tokenizer (byte-level BPE from a HF tokenizer.json, ids identical to HF
//          tokenizers), StreamDecoder (token-by-token text that never splits a UTF-8 character)
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace autodist::tokenizer {

struct ChatMessage {
  std::string role;  // "system", "user", "assistant" (Qwen also "tool")
  std::string content;
};

class TokenizerImpl;

class Tokenizer {
 public:
  // path: a tokenizer.json file, or a directory holding tokenizer.json (and tokenizer_config.json,
  // which gives the chat template and the eos token). Throws autodist::Error naming the file on a
  // missing or malformed file or an unsupported model, normalizer or pre-tokenizer.
  static Tokenizer load(const std::string& path);

  // Ids for text, as HF `encode(text, add_special_tokens=False)`. With parse_special the text of a
  // special token (e.g. "<|im_end|>") becomes its id; without, it is encoded as plain text.
  // Throws on invalid UTF-8. Thread-safe.
  std::vector<int32_t> encode(std::string_view text, bool parse_special = true) const;
  // Text for ids, as HF `decode` (no clean-up of spaces); invalid UTF-8 becomes U+FFFD; ids the
  // tokenizer does not know (a model's padded vocab rows) are skipped, as HF does.
  std::string decode(const std::vector<int32_t>& ids, bool skip_special = false) const;
  // Raw bytes of one token (may be part of a UTF-8 character); empty for an unknown id.
  const std::string& token_bytes(int32_t id) const;

  int32_t token_id(std::string_view token) const;  // vocab or added token text; -1 if absent
  size_t vocab_size() const;                         // max id + 1, added tokens included
  bool is_special(int32_t id) const;

  // eos_token of tokenizer_config.json as ids (empty when not given).
  std::vector<int32_t> eos_ids_from_config() const;
  // The prompt for a conversation, as the model's own chat template renders it (ChatML for Qwen2,
  // Qwen2.5, Qwen3; header blocks for Llama 3 and 3.1). Throws when the template is not one of these.
  std::string render_chat(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const;
  // The token that ends an assistant turn: "<|im_end|>" (ChatML) or "<|eot_id|>" (Llama 3).
  std::string chat_end_token() const;
  // "chatml", "qwen3", "llama3", "llama3.1" or "none" (no template recognised).
  std::string chat_template_name() const;

  void clear_cache() const;  // drops the pre-token cache (benchmarks measure cold encoding with it)

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

 private:
  explicit Tokenizer(std::unique_ptr<TokenizerImpl> impl);
  static Tokenizer load_checked(const std::string& path);
  std::unique_ptr<TokenizerImpl> impl_;
};

// Feeds ids one at a time (generation) and returns text as soon as it is whole: bytes of a UTF-8
// character split over several tokens are held back until the character is complete.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tok, bool skip_special = false);
  std::string push(int32_t id);
  std::string flush();  // whatever is pending; an incomplete character becomes U+FFFD

 private:
  const Tokenizer& tok_;
  bool skip_special_;
  std::string pending_;
};

}  // namespace autodist::tokenizer
