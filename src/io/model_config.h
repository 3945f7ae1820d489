// defines: ModelConfig (architecture differences as data: the block recipe every family fills in), RopeConfig,
//          the config.json helpers the family files share (model/family.h reads a config into a ModelConfig)
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/activation.h"
#include "core/dtype.h"

namespace autodist {

enum class NormKind { RMSNorm, LayerNorm };
enum class PosKind { Rope, Learned };
// Gated: act(gate) * up then down (Llama); Plain: act(fc) then down (GPT-2, OPT).
enum class MlpKind { Gated, Plain };
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
  std::string family;        // the family file that read it: llama | gpt2 | opt
  int64_t hidden = 0;
  int64_t n_layers = 0;
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t intermediate = 0;
  int64_t vocab = 0;
  int64_t max_position = 0;
  double norm_eps = 1e-6;
  // The block recipe (pre-norm: x += attn(norm(x)); x += mlp(norm(x)); final norm before the head).
  NormKind norm = NormKind::RMSNorm;
  bool norm_bias = false;  // LayerNorm with a bias
  PosKind pos = PosKind::Rope;
  int64_t pos_offset = 0;  // learned positions: row position + offset of the table (OPT: 2)
  MlpKind mlp = MlpKind::Gated;
  Activation act = Activation::Silu;
  RopeConfig rope;
  bool qkv_bias = false;
  bool o_bias = false;
  bool mlp_bias = false;     // biases of the MLP's input linears (gate/up or fc) and of down
  bool qk_norm = false;
  bool scale_attn = true;    // scores scaled by 1/sqrt(head_dim) (GPT-2 scale_attn_weights)
  bool tie_embeddings = false;
  int64_t sliding_window = 0;  // 0: full attention
  DType dtype = DType::F32;    // the checkpoint's declared dtype
  std::vector<int64_t> eos_ids;
  int64_t bos_id = -1;

  int64_t q_dim() const { return n_heads * head_dim; }
  int64_t kv_dim() const { return n_kv_heads * head_dim; }
  // Parameter counts, for reports (the partition sizes what the loader holds: model/partition.h).
  int64_t layer_params() const;
  int64_t embed_params() const { return vocab * hidden; }
  void validate() const;  // throws naming the key that is wrong
};

const char* rope_type_name(RopeType t);
const char* activation_name(Activation a);

namespace config_json {
// The largest size a config may give (hidden, layers, heads, vocab, ...): int32 is what kernels, positions and token
// ids are indexed with.
constexpr int64_t kMaxSize = 2147483647;
// The most layers a config may give.
constexpr int64_t kMaxLayers = 65536;

// Typed reads of one JSON object's keys: a value of the wrong type or out of range throws naming the file and the
// key ("FILE: hidden_size: expected an integer, got string \"64\""). A key that is absent or null takes its default.
class Keys {
 public:
  // prefix names the object inside the file in messages ("rope_scaling.").
  Keys(const nlohmann::json& j, std::string path, std::string prefix = "")
      : j_(j), path_(std::move(path)), prefix_(std::move(prefix)) {}
  bool has(const char* key) const;
  std::string what(const char* key) const { return path_ + ": " + prefix_ + key; }
  int64_t size(const char* key) const;                  // required, in [1, kMaxSize]
  int64_t size_or(const char* key, int64_t def) const;  // in [1, kMaxSize]
  int64_t int_or(const char* key, int64_t def, int64_t lo, int64_t hi) const;
  double number_or(const char* key, double def) const;    // finite
  double positive_or(const char* key, double def) const;  // finite and > 0
  bool flag_or(const char* key, bool def) const;
  std::string text_or(const char* key, const std::string& def) const;

 private:
  const nlohmann::json& j_;
  std::string path_, prefix_;
};

// Adds an id or a list of ids (eos_token_id) to out, once each: int32 ids, those outside [0, vocab) dropped with a
// warning (HF's own tiny configs keep GPT-2's 50256 on a vocab of 1024). what: "FILE: eos_token_id".
void add_ids(const nlohmann::json& v, int64_t vocab, const std::string& what, std::vector<int64_t>& out);
// rope_parameters (transformers 5) or rope_theta + rope_scaling (4).
RopeConfig parse_rope(const nlohmann::json& j, const std::string& path);
// The dtype (or torch_dtype) key: float32 | bfloat16 | float16 (else, and absent: f32); a string.
DType parse_dtype_key(const nlohmann::json& j, const std::string& path);
// An activation name of config.json (hidden_act, activation_function); throws naming key and value.
Activation parse_activation(const std::string& name, const char* key, const std::string& path);
}  // namespace config_json

}  // namespace autodist
