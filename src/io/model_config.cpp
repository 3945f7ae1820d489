#include "io/model_config.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/log.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace autodist {

const char* rope_type_name(RopeType t) {
  switch (t) {
    case RopeType::Default: return "default";
    case RopeType::Linear: return "linear";
    case RopeType::Llama3: return "llama3";
    case RopeType::Yarn: return "yarn";
    case RopeType::Dynamic: return "dynamic";
  }
  return "?";
}

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::Silu: return "silu";
    case Activation::GeluTanh: return "gelu_new";
    case Activation::Gelu: return "gelu";
    case Activation::Relu: return "relu";
  }
  return "?";
}

int64_t ModelConfig::layer_params() const {
  int64_t attn = hidden * (q_dim() + 2 * kv_dim()) + q_dim() * hidden;
  if (qkv_bias) attn += q_dim() + 2 * kv_dim();
  if (o_bias) attn += hidden;
  int64_t mlp_p = (mlp == MlpKind::Gated ? 3 : 2) * hidden * intermediate;
  if (mlp_bias) mlp_p += (mlp == MlpKind::Gated ? 2 : 1) * intermediate + hidden;
  const int64_t norms = (norm_bias ? 4 : 2) * hidden + (qk_norm ? 2 * head_dim : 0);
  return attn + mlp_p + norms;
}

void ModelConfig::validate() const {
  AD_CHECK(hidden > 0 && n_layers > 0 && n_heads > 0 && n_kv_heads > 0 && head_dim > 0 && intermediate > 0 &&
               vocab > 0 && max_position > 0,
           "config of {}: sizes must be positive (hidden {}, layers {}, heads {}, kv heads {}, head_dim {}, "
           "intermediate {}, vocab {}, max positions {})",
           architecture, hidden, n_layers, n_heads, n_kv_heads, head_dim, intermediate, vocab, max_position);
  AD_CHECK(n_heads % n_kv_heads == 0, "config: num_attention_heads {} is not a multiple of num_key_value_heads {}",
           n_heads, n_kv_heads);
  AD_CHECK(pos != PosKind::Rope || head_dim % 2 == 0, "config: head_dim {} must be even for rotary embeddings",
           head_dim);
}

namespace config_json {

void add_ids(const json& v, std::vector<int64_t>& out) {
  auto add = [&](int64_t id) {
    for (auto x : out)
      if (x == id) return;
    out.push_back(id);
  };
  if (v.is_number_integer()) add(v.get<int64_t>());
  if (v.is_array())
    for (auto& x : v)
      if (x.is_number_integer()) add(x.get<int64_t>());
}

RopeConfig parse_rope(const json& j, const std::string& path) {
  RopeConfig r;
  // transformers 5: rope_parameters holds theta and the scaling; 4: rope_theta + rope_scaling.
  json params = json::object();
  if (j.contains("rope_parameters") && j["rope_parameters"].is_object()) params = j["rope_parameters"];
  if (j.contains("rope_scaling") && j["rope_scaling"].is_object())
    for (auto& [k, v] : j["rope_scaling"].items()) params[k] = v;
  r.theta = get_or<double>(params, "rope_theta", get_or<double>(j, "rope_theta", 10000.0));
  std::string type = get_or<std::string>(params, "rope_type", get_or<std::string>(params, "type", "default"));
  if (type == "default") r.type = RopeType::Default;
  else if (type == "linear") r.type = RopeType::Linear;
  else if (type == "llama3") r.type = RopeType::Llama3;
  else if (type == "yarn") r.type = RopeType::Yarn;
  else if (type == "dynamic") r.type = RopeType::Dynamic;
  else AD_FAIL("{}: rope type '{}' is not supported (supported: default, linear, llama3, yarn, dynamic)", path, type);
  r.factor = get_or<double>(params, "factor", 1.0);
  r.low_freq_factor = get_or<double>(params, "low_freq_factor", 1.0);
  r.high_freq_factor = get_or<double>(params, "high_freq_factor", 4.0);
  r.original_max_position = get_or<int64_t>(params, "original_max_position_embeddings", 0);
  r.beta_fast = get_or<double>(params, "beta_fast", 32.0);
  r.beta_slow = get_or<double>(params, "beta_slow", 1.0);
  r.mscale = get_or<double>(params, "mscale", 0.0);
  r.mscale_all_dim = get_or<double>(params, "mscale_all_dim", 0.0);
  r.attention_factor = get_or<double>(params, "attention_factor", 0.0);
  r.truncate = get_or<bool>(params, "truncate", true);
  r.partial_rotary_factor = get_or<double>(params, "partial_rotary_factor", get_or<double>(j, "partial_rotary_factor", 1.0));
  if (r.type != RopeType::Default)
    AD_CHECK(r.factor > 0, "{}: rope scaling factor must be positive, got {}", path, r.factor);
  if (r.type == RopeType::Llama3)
    AD_CHECK(r.original_max_position > 0, "{}: llama3 rope scaling needs original_max_position_embeddings", path);
  AD_CHECK(r.partial_rotary_factor == 1.0, "{}: partial_rotary_factor {} is not supported", path,
           r.partial_rotary_factor);
  return r;
}

DType parse_dtype_key(const json& j) {
  std::string s = get_or<std::string>(j, "dtype", get_or<std::string>(j, "torch_dtype", "float32"));
  if (s == "bfloat16") return DType::BF16;
  if (s == "float16") return DType::F16;
  return DType::F32;
}

Activation parse_activation(const std::string& a, const char* key, const std::string& path) {
  if (a == "silu" || a == "swish") return Activation::Silu;
  if (a == "gelu_new" || a == "gelu_pytorch_tanh" || a == "gelu_fast") return Activation::GeluTanh;
  if (a == "gelu") return Activation::Gelu;
  if (a == "relu") return Activation::Relu;
  AD_FAIL("{}: {} '{}' is not supported (supported: silu, gelu_new, gelu_pytorch_tanh, gelu, relu)", path, key, a);
}

}  // namespace config_json

}  // namespace autodist
