#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "core/json_value.h"
#include "core/file.h"
#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/utf8.h"

namespace autodist::tokenizer {

namespace fs = std::filesystem;
using nlohmann::json;

class TokenizerImpl {
 public:
  std::string file, config_file;
  Normalizer normalizer;
  PreTokenizer pre;
  BpeModel bpe;
  AddedTokens added;
  StringIdMap added_ids;               // added token content -> id
  std::vector<std::string> id_bytes;   // every id -> its bytes
  std::vector<char> special;           // every id -> is a special added token
  std::vector<int32_t> eos_ids;
  ChatTemplate chat;

  // Normalizes a piece free of raw-matched added tokens, then BPE-encodes it.
  void encode_text(std::string_view s, bool parse_special, std::vector<int32_t>& out) const {
    std::string norm_storage;
    std::string_view norm = normalizer.apply(s, norm_storage);
    std::vector<Piece> pieces;
    added.split(norm, /*normalized=*/true, parse_special, pieces);
    std::vector<std::string_view> words;
    std::deque<std::string> storage;
    for (const Piece& p : pieces) {
      if (p.id >= 0) {
        out.push_back(p.id);
        continue;
      }
      words.clear();
      pre.split(p.text, words, storage);
      for (std::string_view w : words) bpe.encode_word(w, out);
    }
  }
};

namespace {

json parse_json(const std::string& path) {
  try {
    return json::parse(read_regular_file(path));
  } catch (const json::exception& e) {
    AD_FAIL("{}: malformed JSON: {}", path, e.what());
  }
}

// A token given as "text", as {"content": "text", ...} or as null (none) in tokenizer_config.json.
std::string token_text(const json& cfg, const char* key, const std::string& file) {
  auto it = cfg.find(key);
  if (it == cfg.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  auto c = it->is_object() ? it->find("content") : it->end();
  AD_CHECK(it->is_object() && c != it->end() && c->is_string(),
           "{}: {}: expected a token (a string, or an object with a string 'content'), got {}", file, key,
           it->dump().substr(0, 80));
  return c->get<std::string>();
}

// chat_template as HF writes it: a string, or a list of {"name": ..., "template": "..."} (the "default" one is used,
// else the first).
std::string chat_template_text(const json& cfg, const std::string& file) {
  auto it = cfg.find("chat_template");
  if (it == cfg.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  AD_CHECK(it->is_array(), "{}: chat_template: expected a string or a list of {{\"name\", \"template\"}} objects, got {}",
           file, it->dump().substr(0, 80));
  const json* pick = nullptr;
  for (size_t i = 0; i < it->size(); ++i) {
    const json& t = (*it)[i];
    auto tt = t.is_object() ? t.find("template") : t.end();
    AD_CHECK(t.is_object() && tt != t.end() && tt->is_string(),
             "{}: chat_template[{}]: expected an object with a string 'template', got {}", file, i, t.dump().substr(0, 80));
    auto name = t.find("name");
    if (!pick || (name != t.end() && *name == "default")) pick = &*tt;
    if (name != t.end() && *name == "default") break;
  }
  return pick ? pick->get<std::string>() : "";
}

void check_decoder(const json& j, const std::string& file) {
  if (j.is_null()) return;
  std::string t = j.value("type", "");
  if (t == "ByteLevel") return;
  if (t == "Sequence") {
    for (auto& d : j.value("decoders", json::array())) check_decoder(d, file);
    return;
  }
  AD_FAIL("{}: unsupported decoder '{}' (only ByteLevel)", file, t.empty() ? j.dump() : t);
}

}  // namespace

Tokenizer::Tokenizer(std::unique_ptr<TokenizerImpl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::load(const std::string& path) {
  try {
    return load_checked(path);
  } catch (const json::exception& e) {  // a field of the wrong type somewhere
    AD_FAIL("tokenizer {}: unexpected content in tokenizer.json or tokenizer_config.json: {}", path, e.what());
  }
}

Tokenizer Tokenizer::load_checked(const std::string& path) {
  auto impl = std::make_unique<TokenizerImpl>();
  fs::path p(path);
  std::error_code ec;
  if (fs::is_directory(p, ec)) p /= "tokenizer.json";
  AD_CHECK(fs::exists(p, ec),
           "tokenizer file {} not found: give a tokenizer.json or a directory holding one ('make deps' fetches "
           "the Qwen3 and Llama 3 tokenizers into data/tokenizers/)",
           p.string());
  impl->file = p.string();
  fs::path cfg = p.parent_path() / "tokenizer_config.json";
  if (fs::exists(cfg, ec)) impl->config_file = cfg.string();

  const std::string& file = impl->file;
  json j = parse_json(file);
  AD_CHECK(j.is_object(), "{}: not a tokenizer.json (the top level is not an object)", file);
  AD_CHECK(j.contains("model"), "{}: not a tokenizer.json (no \"model\")", file);
  const json added_tokens = j.value("added_tokens", json::array());
  AD_CHECK(added_tokens.is_array(), "{}: added_tokens: expected an array, got {}", file, json_describe(added_tokens));
  // Ids index the id table: none may reach the number of tokens the file defines (vocab + added tokens; an added
  // token that repeats a vocab entry counts twice, which only loosens the bound).
  const int64_t id_limit = static_cast<int64_t>(
      std::min<size_t>((j["model"].is_object() && j["model"].contains("vocab") ? j["model"]["vocab"].size() : 0) +
                           added_tokens.size(),
                       static_cast<size_t>(INT32_MAX)));
  impl->bpe = BpeModel::from_json(j["model"], file, id_limit);
  impl->normalizer = Normalizer::from_json(j.value("normalizer", json()), file);
  AD_CHECK(j.contains("pre_tokenizer") && !j["pre_tokenizer"].is_null(),
           "{}: no pre_tokenizer; only byte-level BPE tokenizers are supported", file);
  impl->pre = PreTokenizer::from_json(j["pre_tokenizer"], file);
  check_decoder(j.value("decoder", json()), file);

  impl->id_bytes = impl->bpe.id_bytes();
  const size_t model_ids = impl->id_bytes.size();
  std::vector<int64_t> added_at(model_ids, -1);  // id -> index of the added token that has it
  for (size_t i = 0; i < added_tokens.size(); ++i) {
    const json& a = added_tokens[i];
    const std::string at = fmt::format("{}: added_tokens[{}]", file, i);
    AD_CHECK(a.is_object(), "{}: expected an object, got {}", at, json_describe(a));
    AD_CHECK(a.contains("content") && a.contains("id"), "{}: needs \"id\" and \"content\": {}", at, a.dump());
    std::string content = json_string(a["content"], at + ".content");
    const std::string what = fmt::format("{} ('{}')", at, content);
    auto flag = [&](const char* key, bool dflt) {
      return a.contains(key) && !a[key].is_null() ? json_bool(a[key], what + "." + key) : dflt;
    };
    AddedToken t;
    t.id = static_cast<int32_t>(json_int(a["id"], what + ".id", 0, id_limit - 1));
    t.special = flag("special", false);
    t.lstrip = flag("lstrip", false);
    t.rstrip = flag("rstrip", false);
    t.single_word = flag("single_word", false);
    t.normalized = flag("normalized", !t.special);
    t.content = t.normalized ? impl->normalizer.apply(content) : content;
    auto bytes = byte_level_to_bytes(content);
    std::string tok_bytes = bytes ? *bytes : content;
    const auto id = static_cast<size_t>(t.id);
    if (id >= impl->id_bytes.size()) impl->id_bytes.resize(id + 1);
    if (id >= added_at.size()) added_at.resize(id + 1, -1);
    AD_CHECK(added_at[id] < 0, "{}: added tokens {} ('{}') and {} ('{}') both have id {}", file, added_at[id],
             added_tokens[added_at[id]]["content"].get<std::string>(), i, content, id);
    // A vocab entry may be repeated as an added token (GPT-2's <|endoftext|>), not replaced by another.
    AD_CHECK(id >= model_ids || impl->id_bytes[id].empty() || impl->id_bytes[id] == tok_bytes,
             "{}: id {} is already the vocab's token '{}'", what, id, impl->id_bytes[id]);
    added_at[id] = static_cast<int64_t>(i);
    impl->id_bytes[id] = std::move(tok_bytes);
    impl->special.resize(impl->id_bytes.size());
    impl->special[id] = t.special;
    impl->added_ids[content] = t.id;
    impl->added.add(std::move(t));
  }
  impl->special.resize(impl->id_bytes.size());

  Tokenizer tok(std::move(impl));
  TokenizerImpl& im = *tok.impl_;
  std::string jinja, bos;
  if (!im.config_file.empty()) {
    json c = parse_json(im.config_file);
    AD_CHECK(c.is_object(), "{}: the top level is not an object", im.config_file);
    jinja = chat_template_text(c, im.config_file);
    bos = token_text(c, "bos_token", im.config_file);
    std::string eos = token_text(c, "eos_token", im.config_file);
    if (!eos.empty()) {
      int32_t id = tok.token_id(eos);
      AD_CHECK(id >= 0, "{}: eos_token '{}' is not in the vocabulary of {}", im.config_file, eos, im.file);
      im.eos_ids.push_back(id);
    }
  }
  im.chat = ChatTemplate::detect(jinja, tok.token_id("<|im_start|>") >= 0, tok.token_id("<|start_header_id|>") >= 0,
                                 bos);
  return tok;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool parse_special) const {
  size_t bad = first_invalid_utf8(text);
  if (bad != std::string_view::npos)
    AD_FAIL("text to encode is not valid UTF-8: byte {} of {} (0x{:02x})", bad, text.size(),
            static_cast<uint8_t>(text[bad]));
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  std::vector<Piece> pieces;
  impl_->added.split(text, /*normalized=*/false, parse_special, pieces);
  for (const Piece& p : pieces) {
    if (p.id >= 0) out.push_back(p.id);
    else impl_->encode_text(p.text, parse_special, out);
  }
  return out;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special) const {
  std::string bytes;
  for (int32_t id : ids) {
    if (id < 0 || static_cast<size_t>(id) >= impl_->id_bytes.size()) continue;
    if (skip_special && impl_->special[id]) continue;
    bytes += impl_->id_bytes[id];
  }
  return utf8_lossy(bytes);
}

const std::string& Tokenizer::token_bytes(int32_t id) const {
  static const std::string empty;
  if (id < 0 || static_cast<size_t>(id) >= impl_->id_bytes.size()) return empty;
  return impl_->id_bytes[id];
}

int32_t Tokenizer::token_id(std::string_view token) const {
  auto it = impl_->added_ids.find(token);
  if (it != impl_->added_ids.end()) return it->second;
  auto bytes = byte_level_to_bytes(token);
  return bytes ? impl_->bpe.id_of_bytes(*bytes) : -1;
}

size_t Tokenizer::vocab_size() const { return impl_->id_bytes.size(); }

bool Tokenizer::is_special(int32_t id) const {
  return id >= 0 && static_cast<size_t>(id) < impl_->special.size() && impl_->special[id];
}

std::vector<int32_t> Tokenizer::eos_ids_from_config() const { return impl_->eos_ids; }

std::string Tokenizer::render_chat(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const {
  std::string source = impl_->config_file.empty() ? impl_->file + " (no tokenizer_config.json beside it)"
                                                  : impl_->config_file;
  return impl_->chat.render(messages, add_generation_prompt, source);
}

std::string Tokenizer::chat_end_token() const { return impl_->chat.end_token(); }
std::string Tokenizer::chat_template_name() const { return impl_->chat.name(); }
void Tokenizer::clear_cache() const { impl_->bpe.clear_cache(); }

StreamDecoder::StreamDecoder(const Tokenizer& tok, bool skip_special) : tok_(tok), skip_special_(skip_special) {}

std::string StreamDecoder::push(int32_t id) {
  if (skip_special_ && tok_.is_special(id)) return "";
  pending_ += tok_.token_bytes(id);
  // Emit everything up to a trailing, still incomplete character; invalid bytes become U+FFFD now.
  std::string out;
  size_t i = 0;
  while (i < pending_.size()) {
    Utf8Step st = utf8_scan(pending_, i);
    if (st.status == Utf8Status::Truncated) break;
    if (st.status == Utf8Status::Valid) out.append(pending_, i, st.len);
    else out += "\xEF\xBF\xBD";
    i += st.len;
  }
  pending_.erase(0, i);
  return out;
}

std::string StreamDecoder::flush() {
  std::string out = utf8_lossy(pending_);
  pending_.clear();
  return out;
}

}  // namespace autodist::tokenizer
