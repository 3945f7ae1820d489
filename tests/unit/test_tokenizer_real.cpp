// Tokenizer tests on the real Qwen3 and Llama 3 tokenizers (fetched by `make deps` into
// data/tokenizers/), checked against HF tokenizers' outputs in tests/data/tokenizers/.
#include <doctest/doctest.h>
#include <utf8proc.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"

using namespace autodist::tokenizer;
using nlohmann::json;

namespace {

const std::string kData = std::string(AUTODIST_TEST_DATA) + "/tokenizers";

const Tokenizer& real(const std::string& name) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  auto& t = cache[name];
  if (!t) {
    std::string dir = std::string(AUTODIST_SOURCE_DIR) + "/data/tokenizers/" + name;
    REQUIRE_MESSAGE(std::filesystem::exists(dir + "/tokenizer.json"),
                    dir << "/tokenizer.json is missing: run make deps (scripts/fetch_tokenizers.sh)");
    t = std::make_unique<Tokenizer>(Tokenizer::load(dir));
  }
  return *t;
}

std::string nfc(const std::string& s) {
  auto* p = utf8proc_NFC(reinterpret_cast<const utf8proc_uint8_t*>(s.c_str()));
  std::string out(reinterpret_cast<char*>(p));
  std::free(p);
  return out;
}

std::string encode_cp(uint32_t cp) {
  utf8proc_uint8_t buf[4];
  auto n = utf8proc_encode_char(static_cast<utf8proc_int32_t>(cp), buf);
  return std::string(reinterpret_cast<char*>(buf), n);
}

// Random text mixing scripts, emoji sequences, combining marks, whitespace runs, digits, code,
// special-token text and random code points.
std::string random_text(std::mt19937& rng) {
  static const std::vector<std::string> parts = {
      "Hello", " world", "I'll", " THEY'RE", "it's", "x=y+1;", "{\"a\": [1, 2]}", "...", "--", "12345", "3.14",
      " ", "  ", "   ", "\t", "\n", "\r\n", "\n\n\n", " \n ", "\xC2\xA0", "\xE3\x80\x80", "\xE2\x80\xA8",
      "日本語のテキスト", "中文分词", "한국어 텍스트", "Привет, мир", "مرحبا بالعالم", "नमस्ते", "ελληνικά", "ไทย",
      "é", "e\xCC\x81", "n\xCC\x83", "\xE2\x84\xAB", "\xEF\xAC\x81", "\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8",
      "\xE0\xAD\x87\xE0\xAC\xBE", "a\xCC\x81\xCC\xA3", "😀", "👍🏽", "👨‍👩‍👧", "🏳️‍🌈", "🇯🇵", "<|im_end|>", "<|eot_id|>",
      "<think>", "<|endoftext|>", "\xEF\xBF\xBD"};
  std::uniform_int_distribution<int> n_parts(1, 24), pick(0, static_cast<int>(parts.size()) - 1), coin(0, 9);
  std::uniform_int_distribution<uint32_t> any_cp(0, 0x10FFFF), bmp(0x80, 0xFFFF);
  std::string s;
  for (int i = n_parts(rng); i > 0; --i) {
    int c = coin(rng);
    if (c == 0) {
      uint32_t cp = any_cp(rng);
      if ((cp >= 0xD800 && cp < 0xE000) || cp == 0) cp = 'z';  // nfc() below stops at NUL
      s += encode_cp(cp);
    } else if (c == 1) {
      uint32_t cp = bmp(rng);
      if (cp >= 0xD800 && cp < 0xE000) cp = 'q';
      s += encode_cp(cp);
    } else {
      s += parts[pick(rng)];
    }
  }
  return s;
}

void check_fixture(const Tokenizer& t, const std::string& file) {
  std::ifstream f(kData + "/" + file);
  REQUIRE(f);
  std::string line;
  int n = 0;
  while (std::getline(f, line)) {
    json j = json::parse(line);
    auto want = j["ids"].get<std::vector<int32_t>>();
    CHECK_MESSAGE(t.encode(j["text"].get<std::string>()) == want, file << " line " << n + 1);
    CHECK_MESSAGE(t.decode(want) == j["decoded"].get<std::string>(), file << " line " << n + 1);
    ++n;
  }
  CHECK(n > 600);
}

void check_round_trip(const Tokenizer& t, bool normalizes, uint32_t seed) {
  std::mt19937 rng(seed);
  for (int i = 0; i < 400; ++i) {
    std::string text = random_text(rng);
    std::vector<int32_t> ids = t.encode(text);
    std::string want = normalizes ? nfc(text) : text;
    REQUIRE_MESSAGE(t.decode(ids) == want, "seed " << seed << " case " << i << ": " << json(text).dump());
    StreamDecoder s(t);
    std::string streamed;
    for (int32_t id : ids) streamed += s.push(id);
    streamed += s.flush();
    REQUIRE_MESSAGE(streamed == want, "stream, case " << i);
  }
}

}  // namespace

TEST_CASE("qwen3 tokenizer: every HF reference line, ids and decoded text") {
  check_fixture(real("qwen3"), "qwen3.jsonl");
}

TEST_CASE("llama3 tokenizer: every HF reference line, ids and decoded text") {
  check_fixture(real("llama3"), "llama3.jsonl");
}

TEST_CASE("tokenizer round trip: qwen3 and llama3, decode(encode(x)) == x on random multilingual text (NFC for Qwen)") {
  check_round_trip(real("qwen3"), true, 1234);
  check_round_trip(real("llama3"), false, 5678);
}

TEST_CASE("tokenizer NFC quick check agrees with full utf8proc normalization") {
  auto norm = Normalizer::from_json(json{{"type", "NFC"}}, "test");
  std::mt19937 rng(42);
  for (int i = 0; i < 2000; ++i) {
    std::string s = random_text(rng);
    REQUIRE_MESSAGE(norm.apply(s) == nfc(s), json(s).dump());
  }
  // Composition that needs the preceding character: jamo, Indic vowel signs, combining marks.
  for (std::string s : {"\xE1\x84\x80\xE1\x85\xA1", "\xEA\xB0\x80\xE1\x86\xA8", "\xE0\xAD\x87\xE0\xAC\xBE",
                        "e\xCC\x81", "\xE2\x84\xA6", "\xE0\xA5\x98"})
    CHECK(norm.apply(s) == nfc(s));
  CHECK(norm.apply("e\xCC\x81") == "\xC3\xA9");
}

TEST_CASE("tokenizer qwen3 and llama3: special tokens, eos, chat templates from tokenizer_config.json") {
  const Tokenizer& q = real("qwen3");
  const Tokenizer& l = real("llama3");
  CHECK(q.vocab_size() == 151669);
  CHECK(l.vocab_size() == 128256);
  CHECK(q.token_id("<|im_end|>") == 151645);
  CHECK(q.eos_ids_from_config() == std::vector<int32_t>{151645});
  CHECK(l.eos_ids_from_config() == std::vector<int32_t>{128001});
  CHECK(q.chat_end_token() == "<|im_end|>");
  CHECK(l.chat_end_token() == "<|eot_id|>");
  CHECK(q.chat_template_name() == "qwen3");
  CHECK(l.chat_template_name() == "llama3");
  CHECK(q.encode("<|im_end|>", false) == std::vector<int32_t>{27, 91, 318, 6213, 91, 29});
  CHECK(q.decode({151644, 872, 151645}, true) == "user");

  for (auto [tok, file] : {std::pair{&q, "qwen3_chat.json"}, std::pair{&l, "llama3_chat.json"}}) {
    std::ifstream f(kData + "/" + file);
    json convs = json::parse(f);
    REQUIRE(convs.size() == 3);
    for (auto& c : convs) {
      std::vector<ChatMessage> m;
      for (auto& msg : c["messages"]) m.push_back({msg["role"].get<std::string>(), msg["content"].get<std::string>()});
      std::string text = tok->render_chat(m, true);
      CHECK(text == c["text"].get<std::string>());
      CHECK(tok->encode(text) == c["ids"].get<std::vector<int32_t>>());
    }
  }
}

TEST_CASE("qwen3 tokenizer: concurrent encoding gives the serial result") {
  const Tokenizer& q = real("qwen3");
  std::mt19937 rng(7);
  std::vector<std::string> texts;
  for (int i = 0; i < 300; ++i) texts.push_back(random_text(rng));
  q.clear_cache();
  std::vector<std::vector<std::vector<int32_t>>> got(4);
  std::vector<std::thread> th;
  for (int k = 0; k < 4; ++k)
    th.emplace_back([&, k] {
      for (auto& s : texts) got[k].push_back(q.encode(s));
    });
  for (auto& x : th) x.join();
  for (size_t i = 0; i < texts.size(); ++i)
    for (int k = 0; k < 4; ++k) REQUIRE(got[k][i] == q.encode(texts[i]));
}
