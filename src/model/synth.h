// defines: SynthPreset, synth_presets, find_preset, write_synthetic_checkpoint (an HF-format checkpoint with
//          seeded random weights, streamed to disk tensor by tensor)
//
// A preset is a config.json (the real shapes of a published model); the tensors written are the family's
// (checkpoint_tensors in model/family.h), so any architecture the engine reads can be synthesised.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "io/model_config.h"

namespace autodist {

struct SynthPreset {
  std::string name;
  nlohmann::json config;  // config.json, without its dtype
};

const std::vector<SynthPreset>& synth_presets();
const SynthPreset& find_preset(const std::string& name);  // throws listing the presets
// A config.json file as a preset (named after the file).
SynthPreset preset_from_config(const std::string& config_json_path);

struct SynthReport {
  size_t bytes = 0;  // written
  int64_t layers = 0, hidden = 0, vocab = 0;
};
// DIR/config.json and DIR/generation_config.json alone (enough for profile, predict and plan); returns the config.
ModelConfig write_synthetic_config(const SynthPreset& p, const std::string& dir, DType dtype, uint64_t seed);
// Writes DIR/config.json (the preset's, with this dtype), DIR/generation_config.json and DIR/model.safetensors:
// matrices uniform with std 0.02, norm weights 1 +- 0.1, biases +- 0.035.
SynthReport write_synthetic_checkpoint(const SynthPreset& p, const std::string& dir, DType dtype, uint64_t seed);

}  // namespace autodist
