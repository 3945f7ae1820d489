#include "tokenizer/bpe.h"

#include <climits>
#include <queue>

#include "core/error.h"
#include "core/json_value.h"
#include "tokenizer/byte_level.h"

namespace autodist::tokenizer {

using nlohmann::json;

namespace {
constexpr size_t kCacheMaxWord = 256;      // longer pre-tokens are rare and not worth keeping
constexpr size_t kCacheCapacity = 1 << 17;  // entries; once full, new words are not cached (as HF)
constexpr size_t kSmallWord = 48;           // below this the O(n^2) scan beats a heap
}  // namespace

void PairMap::reserve(size_t n) {
  size_t cap = 16;
  shift_ = 60;
  while (cap < 2 * n) cap <<= 1, --shift_;
  table_.assign(cap, Entry{kEmpty, 0, 0});
  mask_ = cap - 1;
  size_ = 0;
}

void PairMap::insert(int32_t a, int32_t b, int32_t rank, int32_t id) {
  if (table_.empty() || 2 * (size_ + 1) > table_.size()) {
    std::vector<Entry> old;
    old.swap(table_);
    reserve(std::max<size_t>(16, 2 * (size_ + 1)));
    for (const Entry& e : old)
      if (e.key != kEmpty) insert(static_cast<int32_t>(e.key >> 32), static_cast<int32_t>(e.key & 0xffffffffu),
                                  e.rank, e.id);
  }
  uint64_t k = key(a, b);
  for (size_t i = slot(k);; i = (i + 1) & mask_) {
    Entry& e = table_[i];
    if (e.key == kEmpty) ++size_;
    if (e.key == kEmpty || e.key == k) {
      e = Entry{k, rank, id};
      return;
    }
  }
}

BpeModel& BpeModel::operator=(BpeModel&& o) noexcept {
  vocab_ = std::move(o.vocab_);
  id_bytes_ = std::move(o.id_bytes_);
  merges_ = std::move(o.merges_);
  byte_id_ = o.byte_id_;
  unk_id_ = o.unk_id_;
  ignore_merges_ = o.ignore_merges_;
  cache_ = std::move(o.cache_);
  return *this;
}

BpeModel BpeModel::from_json(const json& j, const std::string& file, int64_t id_limit) {
  AD_CHECK(j.is_object(), "{}: \"model\" is missing or not an object", file);
  std::string type = j.value("type", std::string(j.contains("merges") ? "BPE" : ""));
  AD_CHECK(type == "BPE", "{}: unsupported tokenizer model type '{}': only BPE (byte-level) is supported",
           file, type);
  if (j.contains("dropout") && j["dropout"].is_number() && j["dropout"].get<double>() > 0)
    AD_FAIL("{}: BPE dropout is not supported (it makes encoding random)", file);
  for (const char* k : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (j.contains(k) && j[k].is_string() && !j[k].get<std::string>().empty())
      AD_FAIL("{}: BPE with {} '{}' is not supported", file, k, j[k].get<std::string>());
  AD_CHECK(j.contains("vocab") && j["vocab"].is_object(), "{}: model.vocab is missing or not an object", file);
  AD_CHECK(j.contains("merges") && j["merges"].is_array(), "{}: model.merges is missing or not an array", file);

  BpeModel m;
  m.ignore_merges_ = j.contains("ignore_merges") && json_bool(j["ignore_merges"], file + ": model.ignore_merges");
  StringIdMap by_text;  // token text as written (byte-level alphabet) -> id; merges name tokens so
  by_text.reserve(j["vocab"].size());
  std::vector<const std::string*> owner;  // id -> its token text, to name both of a duplicate pair
  for (auto& [tok, v] : j["vocab"].items()) {
    int64_t x = 0;
    if (!json_int_ok(v, 0, id_limit - 1, x)) json_int(v, fmt::format("{}: model.vocab entry '{}'", file, tok), 0, id_limit - 1);
    const auto id = static_cast<int32_t>(x);
    auto [at, fresh] = by_text.emplace(tok, id);
    if (static_cast<size_t>(id) >= m.id_bytes_.size()) {
      m.id_bytes_.resize(id + 1);
      owner.resize(id + 1, nullptr);
    }
    AD_CHECK(!owner[id], "{}: model.vocab entries '{}' and '{}' both have id {}", file, *owner[id], tok, id);
    owner[id] = &at->first;
    auto bytes = byte_level_to_bytes(tok);
    m.id_bytes_[id] = bytes ? *bytes : tok;
    if (bytes) m.vocab_.emplace(std::move(*bytes), id);  // unreachable by encoding otherwise
  }
  m.byte_id_.fill(-1);
  for (int b = 0; b < 256; ++b) {
    auto it = m.vocab_.find(std::string_view(reinterpret_cast<const char*>(&b), 1));
    if (it != m.vocab_.end()) m.byte_id_[b] = it->second;
  }
  if (j.contains("unk_token") && !j["unk_token"].is_null()) {
    json_string(j["unk_token"], file + ": model.unk_token");
    auto it = by_text.find(j["unk_token"].get<std::string>());
    if (it != by_text.end()) m.unk_id_ = it->second;
  }

  const json& merges = j["merges"];
  // Ranks are int32 (the pair map's entries): more merges than that cannot be ranked.
  AD_CHECK(merges.size() < static_cast<size_t>(INT32_MAX), "{}: model.merges has {} entries, more than {}", file,
           merges.size(), INT32_MAX - 1);
  m.merges_.reserve(merges.size());
  auto lookup = [&](std::string_view tok, size_t rank) {
    auto it = by_text.find(tok);
    if (it == by_text.end()) AD_FAIL("{}: merge {} uses '{}', which is not in the vocab", file, rank + 1, tok);
    return it->second;
  };
  std::string joined;
  for (size_t r = 0; r < merges.size(); ++r) {
    const json& e = merges[r];
    std::string_view a, b;
    if (e.is_string()) {
      const std::string& s = e.get_ref<const std::string&>();
      size_t sp = s.find(' ');
      AD_CHECK(sp != std::string::npos && s.find(' ', sp + 1) == std::string::npos,
               "{}: merge {} '{}' is not two tokens separated by one space", file, r + 1, s);
      a = std::string_view(s).substr(0, sp);
      b = std::string_view(s).substr(sp + 1);
    } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
      a = e[0].get_ref<const std::string&>();
      b = e[1].get_ref<const std::string&>();
    } else {
      AD_FAIL("{}: merge {} is neither \"a b\" nor [\"a\", \"b\"]: {}", file, r + 1, e.dump());
    }
    int32_t ia = lookup(a, r), ib = lookup(b, r);
    joined.assign(a);
    joined.append(b);
    m.merges_.insert(ia, ib, static_cast<int32_t>(r), lookup(joined, r));
  }
  return m;
}

int32_t BpeModel::id_of_bytes(std::string_view bytes) const {
  auto it = vocab_.find(bytes);
  return it == vocab_.end() ? -1 : it->second;
}

void BpeModel::clear_cache() const {
  std::lock_guard<std::mutex> lock(cache_mu_);
  cache_.clear();
}

void BpeModel::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  bool cacheable = word.size() <= kCacheMaxWord;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    auto it = cache_.find(word);
    if (it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  thread_local std::vector<int32_t> sym;
  sym.clear();
  int32_t whole = ignore_merges_ ? id_of_bytes(word) : -1;
  if (whole >= 0) {
    sym.push_back(whole);
  } else {
    for (char c : word) {
      int32_t id = byte_id_[static_cast<uint8_t>(c)];
      if (id < 0) id = unk_id_;  // HF drops a byte the vocab lacks when there is no unk token
      if (id >= 0) sym.push_back(id);
    }
    if (sym.size() <= kSmallWord) merge_small(sym);
    else merge_heap(sym);
  }
  out.insert(out.end(), sym.begin(), sym.end());
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (cache_.size() < kCacheCapacity) cache_.emplace(std::string(word), sym);
  }
}

// Repeatedly merges the adjacent pair of lowest rank, leftmost first: the same order as HF's heap.
void BpeModel::merge_small(std::vector<int32_t>& sym) const {
  int32_t rank[kSmallWord], next_id[kSmallWord];
  size_t n = sym.size();
  auto rate = [&](size_t i) {
    const PairMap::Entry* e = merges_.find(sym[i], sym[i + 1]);
    rank[i] = e ? e->rank : INT32_MAX;
    next_id[i] = e ? e->id : -1;
  };
  for (size_t i = 0; i + 1 < n; ++i) rate(i);
  while (n > 1) {
    size_t best = 0;
    for (size_t i = 1; i + 1 < n; ++i)
      if (rank[i] < rank[best]) best = i;
    if (rank[best] == INT32_MAX) break;
    sym[best] = next_id[best];
    for (size_t i = best + 1; i + 1 < n; ++i) {
      sym[i] = sym[i + 1];
      rank[i] = rank[i + 1];
      next_id[i] = next_id[i + 1];
    }
    --n;
    if (best > 0) rate(best - 1);
    if (best + 1 < n) rate(best);
  }
  sym.resize(n);
}

// Heap of candidate merges (rank, position); stale entries are skipped when popped. O(n log n).
void BpeModel::merge_heap(std::vector<int32_t>& sym) const {
  struct Cand {
    int32_t rank, pos, id;
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  int32_t n = static_cast<int32_t>(sym.size());
  std::vector<int32_t> prev(n), next(n);
  std::vector<char> alive(n, 1);
  for (int32_t i = 0; i < n; ++i) prev[i] = i - 1, next[i] = i + 1 < n ? i + 1 : -1;
  std::priority_queue<Cand, std::vector<Cand>, std::greater<>> heap;
  auto push = [&](int32_t i) {
    if (i < 0 || next[i] < 0) return;
    if (const PairMap::Entry* e = merges_.find(sym[i], sym[next[i]])) heap.push({e->rank, i, e->id});
  };
  for (int32_t i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    Cand c = heap.top();
    heap.pop();
    if (!alive[c.pos] || next[c.pos] < 0) continue;
    int32_t r = next[c.pos];
    const PairMap::Entry* e = merges_.find(sym[c.pos], sym[r]);
    if (!e || e->id != c.id) continue;
    sym[c.pos] = c.id;
    alive[r] = 0;
    next[c.pos] = next[r];
    if (next[r] >= 0) prev[next[r]] = c.pos;
    push(prev[c.pos]);
    push(c.pos);
  }
  size_t k = 0;
  for (int32_t i = 0; i < n; ++i)
    if (alive[i]) sym[k++] = sym[i];
  sym.resize(k);
}

}  // namespace autodist::tokenizer
