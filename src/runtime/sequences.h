// defines: Sequences (per-sequence generation state shared by the pipelined and SP+PP loops:
//          outputs, lengths, stop rules, samplers)
#pragma once
#include <vector>

#include "io/model_config.h"
#include "runtime/engine.h"

namespace autodist {

class Sequences {
 public:
  // Validates the options; seqs[b] starts with prompts[b] and no output.
  Sequences(const std::vector<std::vector<int32_t>>& prompts, const GenerateOptions& o, const ModelConfig& c);
  std::vector<SequenceResult> seqs;
  std::vector<int32_t> len;  // tokens so far (prompt + output)
  std::vector<bool> done;

  // Appends tok to sequence b and applies the stop rules (eos after min length, max length, context).
  void accept(int64_t b, int32_t tok);
  // Full logits are needed when sampling, or while eos must be suppressed (min length).
  bool needs_logits(int64_t b) const;
  // Next token of b from its row of logits (modified in place).
  int32_t sample(int64_t b, float* logits);

 private:
  const GenerateOptions& o_;
  const ModelConfig& c_;
  std::vector<Sampler> samplers_;
};

}  // namespace autodist
