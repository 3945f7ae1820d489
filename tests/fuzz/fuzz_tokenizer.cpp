// fuzz_tokenizer: the input is tokenizer.json, then kSep and a text, optionally then kSep and tokenizer_config.json.
// The tokenizer is loaded from its directory, the text encoded (special tokens parsed and not) and decoded back whole
// and streamed (the two must agree); ids taken from the text's bytes (known or not) are decoded too, and the chat
// template rendered when there is one.
#include <cstring>

#include "fuzz_util.h"
#include "tokenizer/tokenizer.h"

using namespace autodist::tokenizer;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace autodist::fuzz;
  FuzzDir& d = FuzzDir::get();
  d.clear();
  auto parts = split_parts(data, size, 3);
  std::string path = d.write("tokenizer.json", parts[0]);
  const std::string_view text = parts.size() > 1 ? parts[1] : std::string_view("Hello, world! 1234 \xE4\xBD\xA0\xE5\xA5\xBD");
  if (parts.size() > 2) d.write("tokenizer_config.json", parts[2]);
  expected([&] {
    Tokenizer tok = Tokenizer::load(path);
    (void)tok.vocab_size();
    (void)tok.token_id(text);
    std::vector<int32_t> raw;  // arbitrary ids, most of them unknown to the vocab
    for (size_t i = 0; i + 4 <= text.size() && raw.size() < 64; i += 4) {
      int32_t id;
      std::memcpy(&id, text.data() + i, 4);
      raw.push_back(id);
      (void)tok.token_bytes(id);
      (void)tok.is_special(id);
    }
    (void)tok.decode(raw);
    (void)tok.decode(raw, /*skip_special=*/true);
    for (bool parse_special : {true, false}) {
      std::vector<int32_t> ids;
      if (!expected([&] { ids = tok.encode(text, parse_special); })) continue;  // invalid UTF-8 is refused
      std::string back = tok.decode(ids);
      StreamDecoder sd(tok);
      std::string streamed;
      for (int32_t id : ids) streamed += sd.push(id);
      streamed += sd.flush();
      fuzz_assert(streamed == back, "whole and streamed decoding of the same ids agree");
      (void)tok.decode(ids, /*skip_special=*/true);
    }
    (void)tok.eos_ids_from_config();
    if (tok.chat_template_name() != "none")
      (void)tok.render_chat({{"system", std::string(text)}, {"user", "hi"}}, /*add_generation_prompt=*/true);
  });
  return 0;
}
