// defines: SynthSpec, synth_presets, write_synthetic_checkpoint (HF-format checkpoint with seeded
//          random weights, streamed to disk tensor by tensor)
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace autodist::io {

// Shapes of a Llama-family model; enough to write config.json and every weight.
struct SynthSpec {
  std::string name, architecture, model_type;
  int64_t hidden, layers, heads, kv_heads, head_dim, intermediate, vocab, max_position;
  double rope_theta, norm_eps;
  bool tie_embeddings;
  std::vector<int64_t> eos_ids;
};

const std::vector<SynthSpec>& synth_presets();
const SynthSpec& find_preset(const std::string& name);  // throws listing the presets
// Reads a config.json (any supported architecture) into a spec.
SynthSpec spec_from_config(const std::string& config_json_path);
// Writes DIR/config.json, DIR/generation_config.json and DIR/model.safetensors. Returns bytes written.
size_t write_synthetic_checkpoint(const SynthSpec& s, const std::string& dir, DType dtype, uint64_t seed);

}  // namespace autodist::io
