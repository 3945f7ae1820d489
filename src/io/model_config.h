// defines: ModelConfig (architecture differences as data), RopeConfig, load_model_config
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace autodist {

enum class NormKind { RMSNorm, LayerNorm };
enum class PosKind { Rope, Learned };
enum class MlpKind { GatedSilu, Gelu, Relu };
enum class RopeType { Default, Linear, Llama3, Yarn, Dynamic };

struct RopeConfig {
  RopeType type = RopeType::Default;
  double theta = 10000.0;
  double factor = 1.0;
  // llama3
  double low_freq_factor = 1.0, high_freq_factor = 4.0;
  int64_t original_max_position = 0;
  // yarn
  double beta_fast = 32.0, beta_slow = 1.0, mscale = 0.0, mscale_all_dim = 0.0;
  double attention_factor = 0.0;  // 0: derive from factor
  bool truncate = true;
  double partial_rotary_factor = 1.0;
};

struct ModelConfig {
  std::string architecture;  // e.g. Qwen3ForCausalLM
  std::string model_type;    // e.g. qwen3
  int64_t hidden = 0;
  int64_t n_layers = 0;
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t intermediate = 0;
  int64_t vocab = 0;
  int64_t max_position = 0;
  double norm_eps = 1e-6;
  NormKind norm = NormKind::RMSNorm;
  PosKind pos = PosKind::Rope;
  MlpKind mlp = MlpKind::GatedSilu;
  RopeConfig rope;
  bool qkv_bias = false;
  bool o_bias = false;
  bool mlp_bias = false;
  bool qk_norm = false;
  bool tie_embeddings = false;
  int64_t sliding_window = 0;  // 0: full attention
  DType dtype = DType::F32;    // the checkpoint's declared dtype
  std::vector<int64_t> eos_ids;
  int64_t bos_id = -1;

  int64_t q_dim() const { return n_heads * head_dim; }
  int64_t kv_dim() const { return n_kv_heads * head_dim; }
  // Parameter counts, for partition policies and reports.
  int64_t layer_params() const;
  int64_t embed_params() const { return vocab * hidden; }
  void validate() const;  // throws naming the key that is wrong
};

// Reads DIR/config.json (transformers 4 or 5 format) and DIR/generation_config.json if present.
ModelConfig load_model_config(const std::string& dir);
// Parses config.json text (path only for messages).
ModelConfig parse_model_config(const std::string& json_text, const std::string& path);
const char* rope_type_name(RopeType t);

}  // namespace autodist
