#include "runtime/sequences.h"

#include <algorithm>

#include "core/error.h"

namespace autodist {

Sequences::Sequences(const std::vector<std::vector<int32_t>>& prompts, const GenerateOptions& o, const ModelConfig& c)
    : o_(o), c_(c) {
  AD_CHECK(!prompts.empty(), "generate: no prompts");
  AD_CHECK(o.max_output >= 1, "--max-output-length must be >= 1, got {}", o.max_output);
  AD_CHECK(o.min_output >= 0 && o.min_output <= o.max_output,
           "--min-output-length {} must be between 0 and --max-output-length {}", o.min_output, o.max_output);
  o.sampling.validate();
  for (auto& p : prompts) {
    seqs.push_back({p, {}, ""});
    seqs.back().output.reserve(static_cast<size_t>(max_new_tokens()));
    len.push_back(static_cast<int32_t>(p.size()));
    done.push_back(false);
  }
}

int64_t Sequences::max_new_tokens() const { return std::min(o_.max_output, c_.max_position); }

void Sequences::accept(int64_t b, int32_t tok) {
  auto& s = seqs[b];
  s.output.push_back(tok);
  ++len[b];
  if (o_.on_token) o_.on_token(b, tok);
  const int64_t n = static_cast<int64_t>(s.output.size());
  bool is_eos = std::find(c_.eos_ids.begin(), c_.eos_ids.end(), tok) != c_.eos_ids.end() ||
                std::find(o_.extra_eos.begin(), o_.extra_eos.end(), tok) != o_.extra_eos.end();
  if (o_.stop_at_eos && is_eos && n >= o_.min_output)
    done[b] = true, s.stop_reason = "eos";
  else if (n >= o_.max_output)
    done[b] = true, s.stop_reason = "length";
  else if (len[b] >= c_.max_position)
    done[b] = true, s.stop_reason = "context";
}

bool Sequences::ban_stop(int64_t b) const {
  return o_.stop_at_eos && !(c_.eos_ids.empty() && o_.extra_eos.empty()) &&
         static_cast<int64_t>(seqs[b].output.size()) < o_.min_output;
}

std::vector<int32_t> Sequences::stop_tokens() const {
  std::vector<int32_t> ids;
  for (int64_t id : c_.eos_ids) ids.push_back(static_cast<int32_t>(id));
  for (int64_t id : o_.extra_eos) ids.push_back(static_cast<int32_t>(id));
  return ids;
}

}  // namespace autodist
