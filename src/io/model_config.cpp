#include "io/model_config.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/json_value.h"
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
  const int64_t kMax = config_json::kMaxSize;
  for (auto [name, v] : {std::pair{"hidden size", hidden}, {"attention heads", n_heads},
                         {"key/value heads", n_kv_heads}, {"head_dim", head_dim}, {"intermediate size", intermediate},
                         {"vocab size", vocab}, {"max positions", max_position}})
    AD_CHECK(v >= 1 && v <= kMax, "config of {}: {} must be from 1 to {}, got {}", architecture, name, kMax, v);
  // Every layer is enumerated (tensor names, stage splits), so the count is bounded on its own: 1e9 layers of width 1
  // is a small parameter count but a billion-entry checkpoint list.
  AD_CHECK(n_layers >= 1 && n_layers <= config_json::kMaxLayers,
           "config of {}: layers must be from 1 to {} (the deepest published decoders have under 200), got {}",
           architecture, config_json::kMaxLayers, n_layers);
  AD_CHECK(n_heads % n_kv_heads == 0, "config: num_attention_heads {} is not a multiple of num_key_value_heads {}",
           n_heads, n_kv_heads);
  AD_CHECK(pos != PosKind::Rope || head_dim % 2 == 0, "config: head_dim {} must be even for rotary embeddings",
           head_dim);
  AD_CHECK(q_dim() <= kMax, "config: num_attention_heads {} x head_dim {} = {} is more than {}", n_heads, head_dim,
           q_dim(), kMax);
  AD_CHECK(std::isfinite(norm_eps) && norm_eps > 0, "config: the norm epsilon must be finite and > 0, got {}",
           norm_eps);
  AD_CHECK(std::isfinite(rope.theta) && rope.theta > 0, "config: rope_theta must be finite and > 0, got {}",
           rope.theta);
  AD_CHECK(sliding_window >= 0 && pos_offset >= 0 && pos_offset <= kMax - max_position,
           "config: sliding window {} and position offset {} must be >= 0", sliding_window, pos_offset);
  for (int64_t id : eos_ids)
    AD_CHECK(id >= 0 && id < vocab, "config: eos token id {} is outside the vocabulary of {} tokens", id, vocab);
  // Every size below is an int64 product of these; a model too large for that (or for memory) is refused here.
  // (An upper bound, in double: layer_params() itself is int64 arithmetic.)
  const double D = static_cast<double>(hidden), Q = static_cast<double>(q_dim()), I = static_cast<double>(intermediate);
  const double params = static_cast<double>(n_layers) * (4 * D * Q + 3 * D * I + 4 * D + 3 * Q + 2 * I) +
                        D * (2 * static_cast<double>(vocab) + static_cast<double>(max_position + pos_offset));
  AD_CHECK(params < 0x1p62, "config of {}: {:.3g} parameters is more than any machine holds", architecture, params);
}

namespace config_json {

bool Keys::has(const char* key) const {
  auto it = j_.find(key);
  return it != j_.end() && !it->is_null();
}

int64_t Keys::size(const char* key) const {
  AD_CHECK(has(key), "{} is missing", what(key));
  return json_int(j_.at(key), what(key), 1, kMaxSize);
}

int64_t Keys::size_or(const char* key, int64_t def) const { return has(key) ? size(key) : def; }

int64_t Keys::int_or(const char* key, int64_t def, int64_t lo, int64_t hi) const {
  return has(key) ? json_int(j_.at(key), what(key), lo, hi) : def;
}

double Keys::number_or(const char* key, double def) const {
  return has(key) ? json_number(j_.at(key), what(key)) : def;
}

double Keys::positive_or(const char* key, double def) const {
  const double x = number_or(key, def);
  AD_CHECK(x > 0, "{}: must be > 0, got {}", what(key), x);
  return x;
}

bool Keys::flag_or(const char* key, bool def) const { return has(key) ? json_bool(j_.at(key), what(key)) : def; }

std::string Keys::text_or(const char* key, const std::string& def) const {
  return has(key) ? json_string(j_.at(key), what(key)) : def;
}

void add_ids(const json& v, int64_t vocab, const std::string& what, std::vector<int64_t>& out) {
  auto add = [&](const json& x) {
    const int64_t id = json_int(x, what, 0, kMaxSize);  // token ids are int32: no wrapping (2^32 + 5 is not 5)
    if (id >= vocab) {  // transformers' GPT-2 defaults (50256) on a smaller vocab: a token no step can produce
      log::warn("{}: {} is outside the vocabulary of {} tokens and can never be generated; ignored", what, id, vocab);
      return;
    }
    for (auto have : out)
      if (have == id) return;
    out.push_back(id);
  };
  if (v.is_null()) return;
  if (!v.is_array()) return add(v);
  for (auto& x : v) add(x);
}

RopeConfig parse_rope(const json& j, const std::string& path) {
  RopeConfig r;
  // transformers 5: rope_parameters holds theta and the scaling; 4: rope_theta + rope_scaling.
  json params = json::object();
  std::string section = "rope_parameters.";
  for (const char* key : {"rope_parameters", "rope_scaling"}) {
    if (!j.contains(key) || j[key].is_null()) continue;
    AD_CHECK(j[key].is_object(), "{}: {}: expected an object, got {}", path, key, json_describe(j[key]));
    for (auto& [k, v] : j[key].items()) params[k] = v;
    section = std::string(key) + ".";
  }
  const Keys top(j, path), p(params, path, section);
  r.theta = p.has("rope_theta") ? p.positive_or("rope_theta", 0) : top.positive_or("rope_theta", 10000.0);
  std::string type = p.text_or("rope_type", p.text_or("type", "default"));
  if (type == "default") r.type = RopeType::Default;
  else if (type == "linear") r.type = RopeType::Linear;
  else if (type == "llama3") r.type = RopeType::Llama3;
  else if (type == "yarn") r.type = RopeType::Yarn;
  else if (type == "dynamic") r.type = RopeType::Dynamic;
  else AD_FAIL("{}: rope type '{}' is not supported (supported: default, linear, llama3, yarn, dynamic)", path, type);
  r.factor = p.positive_or("factor", 1.0);
  r.low_freq_factor = p.positive_or("low_freq_factor", 1.0);
  r.high_freq_factor = p.positive_or("high_freq_factor", 4.0);
  r.original_max_position = p.int_or("original_max_position_embeddings", 0, 0, kMaxSize);
  r.beta_fast = p.positive_or("beta_fast", 32.0);
  r.beta_slow = p.positive_or("beta_slow", 1.0);
  r.mscale = p.number_or("mscale", 0.0);
  r.mscale_all_dim = p.number_or("mscale_all_dim", 0.0);
  r.attention_factor = p.number_or("attention_factor", 0.0);
  r.truncate = p.flag_or("truncate", true);
  r.partial_rotary_factor = p.has("partial_rotary_factor") ? p.number_or("partial_rotary_factor", 1.0)
                                                            : top.number_or("partial_rotary_factor", 1.0);
  if (r.type == RopeType::Llama3) {
    AD_CHECK(r.original_max_position > 0, "{}: llama3 rope scaling needs original_max_position_embeddings", path);
    // The smoothing between the two wavelengths divides by their difference.
    AD_CHECK(r.high_freq_factor > r.low_freq_factor, "{}: llama3 rope scaling needs high_freq_factor {} > low_freq_factor {}",
             path, r.high_freq_factor, r.low_freq_factor);
  }
  if (r.type == RopeType::Yarn)  // yarn's correction range divides by log(theta)
    AD_CHECK(r.theta != 1.0, "{}: yarn rope scaling needs rope_theta != 1", path);
  AD_CHECK(r.attention_factor >= 0, "{}attention_factor: must be >= 0, got {}", p.what(""), r.attention_factor);
  AD_CHECK(r.partial_rotary_factor == 1.0, "{}: partial_rotary_factor {} is not supported", path,
           r.partial_rotary_factor);
  return r;
}

DType parse_dtype_key(const json& j, const std::string& path) {
  const Keys k(j, path);
  std::string s = k.text_or("dtype", k.text_or("torch_dtype", "float32"));
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
