// defines: Sequences (per-sequence generation state shared by every schedule: outputs, lengths, stop rules)
#pragma once
#include <vector>

#include "io/model_config.h"
#include "runtime/engine.h"

namespace autodist {

class Sequences {
 public:
  // Validates the options; seqs[b] starts with prompts[b] and no output (room for max_output tokens reserved).
  Sequences(const std::vector<std::vector<int32_t>>& prompts, const GenerateOptions& o, const ModelConfig& c);
  std::vector<SequenceResult> seqs;
  std::vector<int32_t> len;  // tokens so far (prompt + output)
  std::vector<bool> done;
  int64_t size() const { return static_cast<int64_t>(seqs.size()); }

  // Appends tok to sequence b and applies the stop rules (eos after min length, max length, context).
  void accept(int64_t b, int32_t tok);
  // The stop tokens may not be sampled yet (eos suppressed until the minimum length).
  bool ban_stop(int64_t b) const;
  // The head needs the full logits (sampling, or a ban to apply) rather than a greedy argmax.
  bool needs_logits(int64_t b) const { return !o_.sampling.greedy() || ban_stop(b); }
  // Every stop token (the config's eos ids and the extra ones), the list a ban excludes.
  std::vector<int32_t> stop_tokens() const;
  const GenerateOptions& options() const { return o_; }
  // The most tokens any sequence can add: --max-output-length, or the context when that ends first (a length
  // given as "as many as fit", 2^63-1, sizes nothing).
  int64_t max_new_tokens() const;

 private:
  const GenerateOptions& o_;
  const ModelConfig& c_;
};

}  // namespace autodist
