// defines: ChatTemplate (recognises a model's Jinja chat template and renders it natively:
//          ChatML for Qwen2/2.5, ChatML with <think> handling for Qwen3, Llama 3 and 3.1 headers)
#pragma once
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace autodist::tokenizer {

class ChatTemplate {
 public:
  enum class Kind { None, ChatML, Qwen3, Llama3, Llama31 };

  // jinja: tokenizer_config.json's chat_template ("" when absent); the vocab flags pick a template
  // when there is none. bos: the config's bos_token (Llama 3 templates start with it).
  static ChatTemplate detect(const std::string& jinja, bool vocab_has_im_start, bool vocab_has_header,
                             const std::string& bos);

  // Throws autodist::Error when no template was recognised (source names where it came from).
  std::string render(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                     const std::string& source) const;
  std::string end_token() const;  // "<|im_end|>", "<|eot_id|>" or ""
  std::string name() const;
  Kind kind() const { return kind_; }

 private:
  std::string render_chatml(const std::vector<ChatMessage>& m, bool add_generation_prompt) const;
  std::string render_llama3(const std::vector<ChatMessage>& m, bool add_generation_prompt) const;

  Kind kind_ = Kind::None;
  std::string default_system_;  // ChatML: system turn inserted when the first message is not one
  std::string date_;            // Llama 3.1: "Today Date"
  std::string bos_;
  bool always_generation_prompt_ = false;  // some Llama 3 templates append the header unconditionally
};

}  // namespace autodist::tokenizer
