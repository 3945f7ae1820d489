#include "tokenizer/pretokenizer.h"

#include <utf8proc.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "tokenizer/utf8.h"

namespace autodist::tokenizer {

using nlohmann::json;

namespace {

// GPT-2's pattern, used by a ByteLevel pre-tokenizer with use_regex (HF's ByteLevel default).
const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

const std::vector<bool>& nfc_unsafe();

std::string type_of(const json& j) {
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) return "";
  return j["type"].get<std::string>();
}

bool flag(const json& j, const char* key, bool dflt) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() ? it->get<bool>() : dflt;
}

}  // namespace

Normalizer Normalizer::from_json(const json& j, const std::string& file) {
  Normalizer n;
  if (j.is_null()) return n;
  std::string t = type_of(j);
  if (t == "Sequence") {
    for (auto& sub : j.value("normalizers", json::array())) {
      Normalizer s = from_json(sub, file);
      n.forms_.insert(n.forms_.end(), s.forms_.begin(), s.forms_.end());
    }
    return n;
  }
  const int stable = UTF8PROC_STABLE;
  if (t == "NFC") n.forms_.push_back(stable | UTF8PROC_COMPOSE), nfc_unsafe();  // build the table at load
  else if (t == "NFD") n.forms_.push_back(stable | UTF8PROC_DECOMPOSE);
  else if (t == "NFKC") n.forms_.push_back(stable | UTF8PROC_COMPOSE | UTF8PROC_COMPAT);
  else if (t == "NFKD") n.forms_.push_back(stable | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT);
  else
    AD_FAIL("{}: unsupported normalizer '{}' (supported: NFC, NFD, NFKC, NFKD, a Sequence of them, null)",
            file, t.empty() ? j.dump() : t);
  return n;
}

namespace {

// Code points that can make NFC change a text: non-starters, the later parts of canonical
// decompositions (they may compose with what precedes), Hangul vowel and trailing jamo, and the
// characters NFC maps elsewhere (singletons, exclusions). Derived from utf8proc's data once; a text
// with none of them is already NFC, which saves the full normalization for most text.
const std::vector<bool>& nfc_unsafe() {
  static const std::vector<bool> table = [] {
    std::vector<bool> t(0x110000, false);
    utf8proc_int32_t seq[32];
    for (utf8proc_int32_t cp = 0x80; cp < 0x110000; ++cp) {
      if (cp >= 0xD800 && cp < 0xE000) continue;
      const utf8proc_property_t* p = utf8proc_get_property(cp);
      if (p->combining_class != 0) t[cp] = true;
      if (p->decomp_seqindex == UINT16_MAX || p->decomp_type != 0) continue;  // no canonical decomposition
      int bc = 0;
      utf8proc_ssize_t n = utf8proc_decompose_char(cp, seq, 32, UTF8PROC_DECOMPOSE, &bc);
      for (utf8proc_ssize_t k = 1; k < n && k < 32; ++k) t[seq[k]] = true;
      utf8proc_uint8_t in[4];
      utf8proc_ssize_t len = utf8proc_encode_char(cp, in);
      utf8proc_uint8_t* out = nullptr;
      auto nfc = static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE);
      utf8proc_ssize_t m = utf8proc_map(in, len, &out, nfc);
      if (m != len || std::memcmp(in, out, len) != 0) t[cp] = true;
      std::free(out);
    }
    for (int cp = 0x1161; cp <= 0x1175; ++cp) t[cp] = true;  // Hangul V jamo compose with L / LV
    for (int cp = 0x11A8; cp <= 0x11C2; ++cp) t[cp] = true;  // Hangul T jamo compose with LV
    return t;
  }();
  return table;
}

bool nfc_quick_yes(std::string_view s) {
  const std::vector<bool>& unsafe = nfc_unsafe();
  for (size_t i = 0; i < s.size();) {
    if (static_cast<uint8_t>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    Utf8Step st = utf8_scan(s, i);
    if (st.status != Utf8Status::Valid || unsafe[st.cp]) return false;
    i += st.len;
  }
  return true;
}

}  // namespace

std::string_view Normalizer::apply(std::string_view s, std::string& storage) const {
  if (forms_.empty()) return s;
  bool only_nfc = true;
  for (int f : forms_) only_nfc &= f == (UTF8PROC_STABLE | UTF8PROC_COMPOSE);
  if (only_nfc ? nfc_quick_yes(s) : std::all_of(s.begin(), s.end(), [](char c) { return (c & 0x80) == 0; }))
    return s;
  storage.assign(s);
  for (int f : forms_) {
    utf8proc_uint8_t* dst = nullptr;
    utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(storage.data()),
                                      static_cast<utf8proc_ssize_t>(storage.size()), &dst,
                                      static_cast<utf8proc_option_t>(f));
    if (n < 0) AD_FAIL("unicode normalization failed: {}", utf8proc_errmsg(n));
    storage.assign(reinterpret_cast<char*>(dst), static_cast<size_t>(n));
    std::free(dst);
  }
  return storage;
}

std::string Normalizer::apply(std::string_view s) const {
  std::string storage;
  std::string_view v = apply(s, storage);
  return v.data() == storage.data() ? storage : std::string(v);
}

PreTokenizer PreTokenizer::from_json(const json& j, const std::string& file) {
  PreTokenizer p;
  bool byte_level = false;
  p.add_steps(j, file, byte_level);
  if (!byte_level)
    AD_FAIL("{}: pre_tokenizer has no ByteLevel step; only byte-level BPE tokenizers (GPT-2, Llama 3, "
            "Qwen) are supported",
            file);
  return p;
}

void PreTokenizer::add_steps(const json& j, const std::string& file, bool& byte_level) {
  std::string t = type_of(j);
  if (t == "Sequence") {
    for (auto& sub : j.value("pretokenizers", json::array())) add_steps(sub, file, byte_level);
  } else if (t == "ByteLevel") {
    byte_level = true;
    Step st;
    st.add_prefix_space = flag(j, "add_prefix_space", true);
    if (flag(j, "use_regex", true)) st.regex = std::make_shared<Regex>(kGpt2Pattern, false, file);
    steps_.push_back(st);
  } else if (t == "Split") {
    Step st;
    const json& pat = j.value("pattern", json::object());
    if (pat.contains("Regex") && pat["Regex"].is_string())
      st.regex = std::make_shared<Regex>(pat["Regex"].get<std::string>(), false, file);
    else if (pat.contains("String") && pat["String"].is_string())
      st.regex = std::make_shared<Regex>(pat["String"].get<std::string>(), true, file);
    else
      AD_FAIL("{}: Split pre-tokenizer without a Regex or String pattern: {}", file, pat.dump());
    std::string b = j.value("behavior", std::string("Isolated"));
    if (b == "Removed") st.behavior = Behavior::Removed;
    else if (b == "Isolated") st.behavior = Behavior::Isolated;
    else if (b == "MergedWithPrevious") st.behavior = Behavior::MergedWithPrevious;
    else if (b == "MergedWithNext") st.behavior = Behavior::MergedWithNext;
    else if (b == "Contiguous") st.behavior = Behavior::Contiguous;
    else AD_FAIL("{}: unknown Split behavior '{}'", file, b);
    st.invert = flag(j, "invert", false);
    steps_.push_back(st);
  } else {
    AD_FAIL("{}: unsupported pre_tokenizer '{}' (supported: Sequence, Split, ByteLevel)", file,
            t.empty() ? j.dump() : t);
  }
}

void PreTokenizer::split(std::string_view s, std::vector<std::string_view>& out,
                         std::deque<std::string>& storage) const {
  std::vector<std::string_view> cur{s}, next;
  for (const Step& st : steps_) {
    next.clear();
    for (std::string_view piece : cur) apply_step(st, piece, next, storage);
    cur.swap(next);
  }
  out.insert(out.end(), cur.begin(), cur.end());
}

void PreTokenizer::apply_step(const Step& st, std::string_view piece, std::vector<std::string_view>& out,
                              std::deque<std::string>& storage) const {
  if (st.add_prefix_space && (piece.empty() || piece[0] != ' ')) {
    storage.push_back(" " + std::string(piece));
    piece = storage.back();
  }
  if (!st.regex) {
    if (!piece.empty()) out.push_back(piece);
    return;
  }
  thread_local std::vector<std::pair<size_t, size_t>> matches;
  matches.clear();
  st.regex->find_all(piece, matches);

  // Segments covering the piece: (begin, end, is_match), as HF's Split before applying the behavior.
  struct Seg {
    size_t b, e;
    bool m;
  };
  thread_local std::vector<Seg> segs, merged;
  segs.clear();
  size_t pos = 0;
  for (auto [b, e] : matches) {
    if (b > pos) segs.push_back({pos, b, st.invert});
    segs.push_back({b, e, !st.invert});
    pos = e;
  }
  if (pos < piece.size()) segs.push_back({pos, piece.size(), st.invert});

  merged.clear();
  bool prev = false;
  switch (st.behavior) {
    case Behavior::Isolated:
      merged = segs;
      break;
    case Behavior::Removed:
      for (auto& g : segs)
        if (!g.m) merged.push_back(g);
      break;
    case Behavior::MergedWithPrevious:
      for (auto& g : segs) {
        if (g.m && !prev && !merged.empty()) merged.back().e = g.e;
        else merged.push_back(g);
        prev = g.m;
      }
      break;
    case Behavior::MergedWithNext:
      for (size_t i = segs.size(); i-- > 0;) {
        const Seg& g = segs[i];
        if (g.m && !prev && !merged.empty()) merged.back().b = g.b;
        else merged.push_back(g);
        prev = g.m;
      }
      std::reverse(merged.begin(), merged.end());
      break;
    case Behavior::Contiguous:
      for (size_t i = 0; i < segs.size(); ++i) {
        if (i > 0 && segs[i].m == prev) merged.back().e = segs[i].e;
        else merged.push_back(segs[i]);
        prev = segs[i].m;
      }
      break;
  }
  for (auto& g : merged)
    if (g.e > g.b) out.push_back(piece.substr(g.b, g.e - g.b));
}

}  // namespace autodist::tokenizer
