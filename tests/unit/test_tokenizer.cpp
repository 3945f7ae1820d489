// Tokenizer unit tests that need no downloaded files: UTF-8 helpers, a tiny byte-level BPE
// (tests/data/tokenizers/tiny), added-token flags, streaming, chat templates, bad input.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

using namespace autodist;
using namespace autodist::tokenizer;

namespace {

const std::string kData = std::string(AUTODIST_TEST_DATA) + "/tokenizers";
const std::string kFFFD = "\xEF\xBF\xBD";

const Tokenizer& tiny() {
  static Tokenizer t = Tokenizer::load(kData + "/tiny");
  return t;
}

// ids of the tiny vocab: bytes are their own ids, then the merges, then the added tokens.
constexpr int32_t kHello = 259, kWorld = 265, kAA = 261, kEnd = 266, kX = 267, kY = 268, kW = 269;

std::string load_error(const std::string& path) {
  try {
    Tokenizer::load(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("tokenizer utf8: invalid input splits into maximal subparts, as Rust's from_utf8_lossy") {
  CHECK(utf8_lossy("abc") == "abc");
  CHECK(utf8_lossy("\xE2\x82" "A") == kFFFD + "A");               // truncated 3-byte char
  CHECK(utf8_lossy("\xF0\x9F\x98") == kFFFD);                     // truncated at the end
  CHECK(utf8_lossy("\xC0\x80") == kFFFD + kFFFD);                 // overlong: never valid
  CHECK(utf8_lossy("\xED\xA0\x80") == kFFFD + kFFFD + kFFFD);     // surrogate
  CHECK(utf8_lossy("\xF4\x90\x80\x80") == kFFFD + kFFFD + kFFFD + kFFFD);  // above U+10FFFF
  CHECK(utf8_lossy("\xF0\x9F\x98\x80") == "\xF0\x9F\x98\x80");
  CHECK(first_invalid_utf8("hello w\xC3\xB6rld") == std::string_view::npos);
  CHECK(first_invalid_utf8("0123456789abcdef\xFF") == 16);
  CHECK(utf8_scan("\xE2\x82", 0).status == Utf8Status::Truncated);
  CHECK(strip_unicode_whitespace(" \t\xE3\x80\x80hi there\n\xC2\xA0") == "hi there");
  CHECK(strip_unicode_whitespace("   ") == "");
}

TEST_CASE("tokenizer tiny BPE: merges by rank, both merge forms, leftmost first on ties") {
  const Tokenizer& t = tiny();
  CHECK(t.vocab_size() == 270);
  CHECK(t.encode("hello world") == std::vector<int32_t>{kHello, kWorld});
  CHECK(t.encode("aaa") == std::vector<int32_t>{kAA, 'a'});  // (a a) merges at the left first
  CHECK(t.encode("12") == std::vector<int32_t>{'1', '2'});   // \p{N} alone: digits one by one
  CHECK(t.token_id("hello") == kHello);
  CHECK(t.token_id("\xC4\xA0world") == kWorld);  // "Ġworld": tokens are named in the byte-level alphabet
  CHECK(t.token_id("<|end|>") == kEnd);
  CHECK(t.token_id("nope") == -1);
  CHECK(t.decode({kHello, kWorld}) == "hello world");
  // Long words take the heap path; it must agree with the simple one.
  std::string many_a(5001, 'a');
  auto ids = t.encode(many_a);
  REQUIRE(ids.size() == 2501);
  CHECK(std::count(ids.begin(), ids.end(), kAA) == 2500);
  CHECK(ids.back() == 'a');
  CHECK(t.decode(ids) == many_a);
  std::string spaces(20000, ' ');
  CHECK(t.decode(t.encode(spaces + "x" + spaces)) == spaces + "x" + spaces);
}

TEST_CASE("tokenizer tiny BPE: added tokens with special, lstrip, rstrip and single_word flags") {
  const Tokenizer& t = tiny();
  using V = std::vector<int32_t>;
  CHECK(t.encode("hello<|end|>") == V{kHello, kEnd});
  CHECK(t.encode("hello<|end|>", /*parse_special=*/false) == V{kHello, '<', '|', 'e', 'n', 'd', '|', '>'});
  CHECK(t.encode("a <x>", false) == V{'a', kX});      // lstrip eats the space before; non-special still parsed
  CHECK(t.encode("<y>  b") == V{kY, 'b'});            // rstrip eats the spaces after
  CHECK(t.encode("a<w>b") == V{'a', '<', 'w', '>', 'b'});  // single_word: not inside a word
  CHECK(t.encode("a <w> b") == V{'a', ' ', kW, ' ', 'b'});
  CHECK(t.is_special(kEnd));
  CHECK_FALSE(t.is_special(kX));
  CHECK(t.decode({kHello, kEnd}) == "hello<|end|>");
  CHECK(t.decode({kHello, kEnd}, /*skip_special=*/true) == "hello");
  CHECK(t.decode({kHello, 99999, -5}) == "hello");  // unknown ids (padded model vocab) are skipped
  CHECK(t.eos_ids_from_config() == V{kEnd});
}

TEST_CASE("tokenizer stream decoder: characters split over tokens come out whole") {
  const Tokenizer& t = tiny();  // ids 0..255 are the single bytes
  StreamDecoder s(t);
  CHECK(s.push('h') == "h");
  CHECK(s.push(0xC3) == "");
  CHECK(s.push(0xA9) == "\xC3\xA9");  // é
  CHECK(s.push(0xF0) == "");
  CHECK(s.push(0x9F) == "");
  CHECK(s.push(0x98) == "");
  CHECK(s.push(0x80) == "\xF0\x9F\x98\x80");  // 😀
  CHECK(s.push(0xA9) == kFFFD);               // a stray continuation byte
  CHECK(s.push(0xE2) == "");
  CHECK(s.push('x') == kFFFD + "x");  // the pending lead byte can no longer complete
  CHECK(s.push(0xE2) == "");
  CHECK(s.flush() == kFFFD);
  CHECK(s.flush() == "");

  StreamDecoder skip(t, /*skip_special=*/true);
  CHECK(skip.push(kEnd) == "");
  CHECK(skip.push(kHello) == "hello");

  // Stream output equals the one-shot decode of the same ids.
  std::vector<int32_t> ids = {0xE4, 0xB8, kHello, 0xAD, 0xE6, 0x96, 0x87, 0xF0, 0x9F};
  StreamDecoder s2(t);
  std::string acc;
  for (int32_t id : ids) acc += s2.push(id);
  acc += s2.flush();
  CHECK(acc == t.decode(ids));
}

TEST_CASE("tokenizer errors: missing file, malformed JSON, other model types, invalid UTF-8") {
  CHECK(load_error(kData + "/no_such_dir/tokenizer.json").find("not found") != std::string::npos);
  CHECK(load_error(std::string(AUTODIST_TEST_DATA)).find("tokenizer.json not found") != std::string::npos);
  std::string e = load_error(kData + "/bad/malformed.json");
  CHECK(e.find("malformed.json: malformed JSON") != std::string::npos);
  e = load_error(kData + "/bad/unigram.json");
  CHECK(e.find("unsupported tokenizer model type 'Unigram'") != std::string::npos);
  e = load_error(kData + "/bad/wordpiece.json");
  CHECK(e.find("unsupported tokenizer model type 'WordPiece'") != std::string::npos);
  CHECK_THROWS_WITH_AS(tiny().encode("ok \xFF\xFE"), doctest::Contains("not valid UTF-8: byte 3"), Error);
  CHECK_THROWS_WITH_AS(tiny().encode("\xED\xA0\x80"), doctest::Contains("not valid UTF-8"), Error);
  CHECK_THROWS_WITH_AS(tiny().render_chat({{"user", "hi"}}, true), doctest::Contains("unknown chat template"),
                       Error);

  // Files that parse but describe something else.
  auto dir = std::filesystem::temp_directory_path() / "autodist_tok_test";
  std::filesystem::create_directories(dir);
  auto write = [&](const std::string& text) {
    std::ofstream(dir / "tokenizer.json") << text;
    return load_error(dir.string());
  };
  CHECK(write("[1, 2]").find("not a tokenizer.json") != std::string::npos);
  const std::string model = R"("model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a c"]})";
  CHECK(write("{" + model + R"(, "pre_tokenizer": {"type": "ByteLevel"}})").find("merge 1 uses 'c'") !=
        std::string::npos);
  CHECK(write(R"({"model": {"type": "BPE", "vocab": {}, "merges": []}, "pre_tokenizer": {"type": "Metaspace"}})")
            .find("unsupported pre_tokenizer 'Metaspace'") != std::string::npos);
  CHECK(write(R"({"model": {"type": "BPE", "vocab": {}, "merges": []}, "pre_tokenizer": null})")
            .find("only byte-level BPE") != std::string::npos);
  CHECK(write(R"({"model": {"type": "BPE", "vocab": {}, "merges": []}, "normalizer": {"type": "Lowercase"},
                  "pre_tokenizer": {"type": "ByteLevel"}})")
            .find("unsupported normalizer 'Lowercase'") != std::string::npos);
  CHECK(write(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": {"type": "ByteLevel"},
                  "added_tokens": [{"id": 1, "content": "<s>", "special": "yes"}]})")
            .find("special: expected true or false, got string \"yes\"") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("tokenizer ids: int32, below the number of tokens the file defines, one token each, typed") {
  auto dir = std::filesystem::temp_directory_path() / "autodist_tok_ids_test";
  std::filesystem::create_directories(dir);
  // vocab {a: 0, b: 1} and the added tokens given; the error of loading it ("" when it loads).
  auto load = [&](const std::string& vocab, const std::string& added) {
    std::ofstream(dir / "tokenizer.json") << R"({"model": {"type": "BPE", "vocab": {)" << vocab
                                          << R"(}, "merges": []}, "pre_tokenizer": {"type": "ByteLevel"},
                                                "added_tokens": [)" << added << "]}";
    return load_error(dir.string());
  };
  const std::string ab = R"("a": 0, "b": 1)";
  auto added = [](const std::string& id, const std::string& content = "<s>") {
    return R"({"id": )" + id + R"(, "content": ")" + content + R"(", "special": true})";
  };
  CHECK(load(ab, added("2")) == "");
  // 2^32-1 passed an int64 range check and became -1 (SIGSEGV); 2^32+5 became 5; 2^63 and beyond wrap int64.
  CHECK(load(ab, added("4294967295")).find("added_tokens[0] ('<s>').id: 4294967295 is too large (at most 2)") !=
        std::string::npos);
  CHECK(load(ab, added("4294967301")).find("4294967301 is too large") != std::string::npos);
  CHECK(load(ab, added("18446744073709551615")).find("18446744073709551615 is too large") != std::string::npos);
  // The id table is sized by the largest id: one far beyond the tokens defined would allocate gigabytes.
  CHECK(load(ab, added("2147483646")).find("2147483646 is too large (at most 2)") != std::string::npos);
  CHECK(load(ab + R"(, "c": 2147483646)", "").find("model.vocab entry 'c': 2147483646 is too large (at most 2)") !=
        std::string::npos);
  CHECK(load(R"("a": 0, "b": 4294967296)", "").find("model.vocab entry 'b': 4294967296 is too large") !=
        std::string::npos);
  CHECK(load(ab, added("-1")).find("('<s>').id: must be >= 0, got -1") != std::string::npos);
  CHECK(load(ab, added("5.5")).find("('<s>').id: expected an integer, got number 5.5") != std::string::npos);
  CHECK(load(ab, added("\"2\"")).find("('<s>').id: expected an integer, got string \"2\"") != std::string::npos);
  CHECK(load(R"("a": 0, "b": 1.0)", "").find("model.vocab entry 'b': expected an integer, got number 1.0") !=
        std::string::npos);
  // Two tokens, one id.
  CHECK(load(R"("a": 0, "b": 0)", "").find("model.vocab entries 'a' and 'b' both have id 0") != std::string::npos);
  CHECK(load(ab, added("2") + ", " + added("2", "<t>"))
            .find("added tokens 0 ('<s>') and 1 ('<t>') both have id 2") != std::string::npos);
  CHECK(load(ab, added("1")).find("('<s>'): id 1 is already the vocab's token 'b'") != std::string::npos);
  CHECK(load(ab, added("1", "b")) == "");  // an added token repeating its vocab entry (GPT-2's <|endoftext|>)
  // Flags and contents of the wrong type name the token and the key.
  CHECK(load(ab, R"({"id": 2, "content": "<s>", "special": "yes"})")
            .find("added_tokens[0] ('<s>').special: expected true or false, got string \"yes\"") != std::string::npos);
  CHECK(load(ab, R"({"id": 2, "content": 7})").find("added_tokens[0].content: expected a string, got number 7") !=
        std::string::npos);
  CHECK(load(ab, R"({"content": "<s>"})").find("added_tokens[0]: needs \"id\" and \"content\"") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("tokenizer chat templates: detection and rendering of ChatML, Qwen3, Llama 3 and 3.1") {
  std::vector<ChatMessage> conv = {{"system", " Be brief. "}, {"user", "hi\n"}, {"assistant", "hello"}};
  // Qwen2.5: a literal default system prompt in the template is used when none is given.
  auto q25 = ChatTemplate::detect(
      R"({%- else %}{{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}{%- else %})"
      R"({{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }})",
      true, false, "");
  CHECK(q25.name() == "chatml");
  CHECK(q25.render({{"user", "hi"}}, true, "t") ==
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
  CHECK(q25.render(conv, false, "t") ==
        "<|im_start|>system\n Be brief. <|im_end|>\n<|im_start|>user\nhi\n<|im_end|>\n"
        "<|im_start|>assistant\nhello<|im_end|>\n");

  // Qwen3: an assistant turn after the last user turn gets a <think> block; earlier ones lose theirs.
  auto q3 = ChatTemplate::detect("<|im_start|> ... '</think>' in message.content", true, false, "");
  CHECK(q3.name() == "qwen3");
  CHECK(q3.render({{"user", "hi"}, {"assistant", "hello"}}, false, "t") ==
        "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nhello<|im_end|>\n");
  CHECK(q3.render({{"user", "q1"}, {"assistant", "<think>\nr1\n</think>\n\na1"}, {"user", "q2"}}, true, "t") ==
        "<|im_start|>user\nq1<|im_end|>\n<|im_start|>assistant\na1<|im_end|>\n"
        "<|im_start|>user\nq2<|im_end|>\n<|im_start|>assistant\n");
  CHECK(q3.render({{"user", "q"}, {"assistant", "<think>\nr\n</think>\n\na"}, {"assistant", "b"}}, false, "t") ==
        "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n<think>\nr\n</think>\n\na<|im_end|>\n"
        "<|im_start|>assistant\n<think>\n\n</think>\n\nb<|im_end|>\n");
  CHECK(q3.end_token() == "<|im_end|>");

  // Llama 3: trimmed content, bos first; this template has no add_generation_prompt switch.
  auto l3 = ChatTemplate::detect("{{ '<|start_header_id|>' + message['role'] }}", false, true, "<|begin_of_text|>");
  CHECK(l3.name() == "llama3");
  CHECK(l3.render(conv, false, "t") ==
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nhello<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n");
  CHECK(l3.end_token() == "<|eot_id|>");

  // Llama 3.1: a system block with the knowledge-cutoff lines always comes first.
  auto l31 = ChatTemplate::detect(
      R"({%- set date_string = "26 Jul 2024" %}{{- "Cutting Knowledge Date: December 2023\n" }}<|start_header_id|>)"
      R"({%- if add_generation_prompt %})",
      false, true, "<|begin_of_text|>");
  CHECK(l31.name() == "llama3.1");
  const std::string head = "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                           "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n";
  CHECK(l31.render({{"user", "hi"}}, true, "t") ==
        head + "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>"
               "<|start_header_id|>assistant<|end_header_id|>\n\n");
  CHECK(l31.render({{"system", "Be brief."}, {"user", "hi"}}, false, "t") ==
        head + "Be brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>");

  // Without a template the vocab decides; with an unknown one rendering fails clearly.
  CHECK(ChatTemplate::detect("", true, false, "").name() == "chatml");
  CHECK(ChatTemplate::detect("", false, true, "").name() == "llama3");
  auto none = ChatTemplate::detect("{{ messages }}", true, true, "");
  CHECK(none.name() == "none");
  CHECK_THROWS_WITH_AS(none.render(conv, true, "cfg.json"), doctest::Contains("cfg.json: unknown chat template"),
                       Error);
  CHECK_THROWS_WITH_AS(q3.render({{"robot", "x"}}, true, "t"), doctest::Contains("role 'robot'"), Error);
}
