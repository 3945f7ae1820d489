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

int64_t ModelConfig::layer_params() const {
  int64_t attn = hidden * (q_dim() + 2 * kv_dim()) + q_dim() * hidden;
  int64_t mlp_p = (mlp == MlpKind::GatedSilu ? 3 : 2) * hidden * intermediate;
  return attn + mlp_p + 2 * hidden;
}

void ModelConfig::validate() const {
  AD_CHECK(hidden > 0 && n_layers > 0 && n_heads > 0 && n_kv_heads > 0 && head_dim > 0 && intermediate > 0 &&
               vocab > 0 && max_position > 0,
           "config of {}: sizes must be positive (hidden {}, layers {}, heads {}, kv heads {}, head_dim {}, "
           "intermediate {}, vocab {}, max positions {})",
           architecture, hidden, n_layers, n_heads, n_kv_heads, head_dim, intermediate, vocab, max_position);
  AD_CHECK(n_heads % n_kv_heads == 0, "config: num_attention_heads {} is not a multiple of num_key_value_heads {}",
           n_heads, n_kv_heads);
  AD_CHECK(head_dim % 2 == 0, "config: head_dim {} must be even for rotary embeddings", head_dim);
}

namespace {

template <typename T>
T get_or(const json& j, const char* key, T def) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return def;
  return it->get<T>();
}

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

DType parse_config_dtype(const std::string& s) {
  if (s == "float32") return DType::F32;
  if (s == "bfloat16") return DType::BF16;
  if (s == "float16") return DType::F16;
  return DType::F32;
}

}  // namespace

ModelConfig parse_model_config(const std::string& text, const std::string& path) {
  json j;
  try {
    j = json::parse(text);
  } catch (const std::exception& e) {
    AD_FAIL("{}: not valid JSON ({})", path, e.what());
  }
  AD_CHECK(j.is_object(), "{}: expected a JSON object", path);
  ModelConfig c;
  try {
    std::string arch;
    if (j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty())
      arch = j["architectures"][0].get<std::string>();
    c.architecture = arch;
    c.model_type = get_or<std::string>(j, "model_type", "");
    bool llama_like = arch == "LlamaForCausalLM" || arch == "MistralForCausalLM" || arch == "Qwen2ForCausalLM" ||
                      arch == "Qwen3ForCausalLM";
    AD_CHECK(llama_like,
             "{}: architecture '{}' is not supported (supported: LlamaForCausalLM, MistralForCausalLM, "
             "Qwen2ForCausalLM, Qwen3ForCausalLM)",
             path, arch.empty() ? "<none>" : arch);
    c.hidden = j.at("hidden_size").get<int64_t>();
    c.n_layers = j.at("num_hidden_layers").get<int64_t>();
    c.n_heads = j.at("num_attention_heads").get<int64_t>();
    c.n_kv_heads = get_or<int64_t>(j, "num_key_value_heads", c.n_heads);
    c.head_dim = get_or<int64_t>(j, "head_dim", 0);
    if (c.head_dim == 0) c.head_dim = c.n_heads > 0 ? c.hidden / c.n_heads : 0;
    c.intermediate = j.at("intermediate_size").get<int64_t>();
    c.vocab = j.at("vocab_size").get<int64_t>();
    c.max_position = get_or<int64_t>(j, "max_position_embeddings", 2048);
    c.norm_eps = get_or<double>(j, "rms_norm_eps", 1e-6);
    c.tie_embeddings = get_or<bool>(j, "tie_word_embeddings", false);
    std::string act = get_or<std::string>(j, "hidden_act", "silu");
    AD_CHECK(act == "silu" || act == "swish", "{}: hidden_act '{}' is not supported for {} (expected silu)", path,
             act, arch);
    c.rope = parse_rope(j, path);
    // Bias and q/k norm are implied by the family, as in transformers.
    if (arch == "Qwen2ForCausalLM") c.qkv_bias = true;
    if (arch == "Qwen3ForCausalLM") c.qk_norm = true;
    if (get_or<bool>(j, "attention_bias", false)) c.qkv_bias = c.o_bias = true;
    c.mlp_bias = get_or<bool>(j, "mlp_bias", false);
    // Sliding window: Qwen2/3 gate it with use_sliding_window; Mistral has no flag.
    int64_t sw = get_or<int64_t>(j, "sliding_window", 0);
    bool use_sw = j.contains("use_sliding_window") ? get_or<bool>(j, "use_sliding_window", false) : true;
    if (arch == "LlamaForCausalLM") use_sw = false;
    c.sliding_window = (use_sw && sw > 0 && sw < c.max_position) ? sw : 0;
    if (c.sliding_window > 0 && j.contains("layer_types") && j["layer_types"].is_array()) {
      // transformers 5 lists each layer's attention kind; we support all-full or all-sliding.
      size_t sliding = 0;
      for (auto& t : j["layer_types"]) sliding += t.get<std::string>() == "sliding_attention";
      AD_CHECK(sliding == 0 || sliding == j["layer_types"].size(),
               "{}: mixed full/sliding attention layers are not supported", path);
      if (sliding == 0) c.sliding_window = 0;
    } else if (c.sliding_window > 0 && (arch == "Qwen2ForCausalLM" || arch == "Qwen3ForCausalLM")) {
      // Qwen windows only layers >= max_window_layers; we support the uniform cases.
      int64_t mwl = get_or<int64_t>(j, "max_window_layers", 0);
      AD_CHECK(mwl == 0 || mwl >= c.n_layers, "{}: per-layer sliding windows (max_window_layers {}) are not supported",
               path, mwl);
      if (mwl >= c.n_layers) c.sliding_window = 0;
    }
    std::string dt = get_or<std::string>(j, "dtype", get_or<std::string>(j, "torch_dtype", "float32"));
    c.dtype = parse_config_dtype(dt);
    if (j.contains("eos_token_id")) add_ids(j["eos_token_id"], c.eos_ids);
    c.bos_id = get_or<int64_t>(j, "bos_token_id", -1);
  } catch (const nlohmann::json::exception& e) {
    AD_FAIL("{}: missing or mistyped key ({})", path, e.what());
  }
  c.validate();
  return c;
}

ModelConfig load_model_config(const std::string& dir) {
  AD_CHECK(fs::is_directory(dir), "model directory '{}' does not exist", dir);
  fs::path p = fs::path(dir) / "config.json";
  AD_CHECK(fs::exists(p), "{} is missing: a HuggingFace model directory needs its config.json", p.string());
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  ModelConfig c = parse_model_config(ss.str(), p.string());
  fs::path g = fs::path(dir) / "generation_config.json";
  if (fs::exists(g)) {
    try {
      std::ifstream gf(g);
      json gj = json::parse(gf);
      if (gj.contains("eos_token_id")) add_ids(gj["eos_token_id"], c.eos_ids);
    } catch (const std::exception& e) {
      AD_FAIL("{}: not valid JSON ({})", g.string(), e.what());
    }
  }
  return c;
}

}  // namespace autodist
