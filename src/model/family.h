// defines: MatrixSource, VectorSource, LayerSources, ModelSources (where each tensor of the block recipe lives in a
//          checkpoint), Family (one architecture family as data), the registry (family_for, families),
//          parse_model_config, load_model_config, checkpoint_tensors
//
// A family file (family_llama.cpp, family_gpt2.cpp, family_opt.cpp) reads the config keys of its architectures
// into a ModelConfig (the block recipe), refusing by name what it does not support, and names the checkpoint
// tensors of each logical weight. The registry maps config.json's architectures[0] to a family; nothing else looks
// at architecture names. The loader (weights.cpp) and the synthetic checkpoints (synth.cpp) both work from these
// sources, so a family's tensor names live in one place.
#pragma once
#include <string>
#include <vector>

#include "io/model_config.h"

namespace autodist {

// A logical matrix W [out, in] (y = x W^T, the Linear convention): rows [row0, row0 + out) of the checkpoint tensor
// `name`, stored [rows_total, in] (Linear), or stored transposed [in, rows_total] (GPT-2's Conv1D: y = x W).
struct MatrixSource {
  std::string name;
  int64_t rows_total = 0, in = 0, row0 = 0;
  bool conv1d = false;
  bool empty() const { return name.empty(); }
  std::vector<int64_t> stored_shape() const;
};

// A logical vector: elements [off, off + n) of the checkpoint vector `name` of `total` elements.
struct VectorSource {
  std::string name;
  int64_t total = 0, off = 0;
  bool empty() const { return name.empty(); }
};

// One decoder layer. Plain MLPs have no gate (up is the fc); absent tensors are empty.
struct LayerSources {
  VectorSource attn_norm, attn_norm_bias;
  MatrixSource q, k, v, o;
  VectorSource q_bias, k_bias, v_bias, o_bias;
  VectorSource q_norm, k_norm;
  VectorSource mlp_norm, mlp_norm_bias;
  MatrixSource gate, up, down;
  VectorSource gate_bias, up_bias, down_bias;
};

struct ModelSources {
  MatrixSource embed;      // [vocab, D]
  MatrixSource positions;  // [max_position + pos_offset, D] (learned positions) or empty
  VectorSource final_norm, final_norm_bias;
  MatrixSource lm_head;    // empty when tied to the embedding
};

struct Family {
  const char* name;                        // llama | gpt2 | opt
  std::vector<std::string> architectures;  // the architectures[0] values it reads
  // Reads config.json into c (c.architecture is set); refuses unsupported values naming key and value.
  void (*read_config)(const nlohmann::json& j, const std::string& path, ModelConfig& c);
  ModelSources (*model_sources)(const ModelConfig& c);
  LayerSources (*layer_sources)(const ModelConfig& c, int64_t layer);
  // A prefix that checkpoints saved from the bare model omit ("transformer." of GPT-2): tried without it when a
  // name is missing. Empty: none.
  const char* optional_prefix;
};

const std::vector<const Family*>& families();
// The family of an architecture; throws listing the supported architectures.
const Family& family_for(const std::string& architecture, const std::string& path);
const Family& family_of(const ModelConfig& c);

// Reads DIR/config.json (transformers 4 or 5 format) and DIR/generation_config.json if present.
ModelConfig load_model_config(const std::string& dir);
// Parses config.json text (path only for messages).
ModelConfig parse_model_config(const std::string& json_text, const std::string& path);

// Every tensor of a full checkpoint of c (name, stored shape, and whether it is a norm weight, a bias or a
// matrix): what synth writes. Fused sources (GPT-2's c_attn) appear once.
struct CheckpointTensor {
  enum Kind { Matrix, NormWeight, Bias };
  std::string name;
  std::vector<int64_t> shape;
  Kind kind = Matrix;
};
std::vector<CheckpointTensor> checkpoint_tensors(const ModelConfig& c);

}  // namespace autodist
