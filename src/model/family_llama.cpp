// The Llama family: Llama, Mistral, Qwen2 (q/k/v bias), Qwen3 (q/k RMSNorm). RMSNorm, RoPE with its scalings,
// gated SiLU MLP, Linear weights [out, in]; attention_bias and mlp_bias honoured.
#include "core/error.h"
#include "model/family.h"

namespace autodist {
namespace {

using config_json::get_or;
using nlohmann::json;

void read_config(const json& j, const std::string& path, ModelConfig& c) {
  const std::string& arch = c.architecture;
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
  c.norm = NormKind::RMSNorm;
  c.pos = PosKind::Rope;
  c.mlp = MlpKind::Gated;
  c.act = config_json::parse_activation(get_or<std::string>(j, "hidden_act", "silu"), "hidden_act", path);
  AD_CHECK(c.act == Activation::Silu, "{}: hidden_act '{}' is not supported for {} (its gated MLP takes silu)", path,
           get_or<std::string>(j, "hidden_act", ""), arch);
  c.rope = config_json::parse_rope(j, path);
  // Bias and q/k norm are implied by the architecture, as in transformers.
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
}

ModelSources model_sources(const ModelConfig& c) {
  ModelSources s;
  s.embed = {"model.embed_tokens.weight", c.vocab, c.hidden};
  s.final_norm = {"model.norm.weight", c.hidden};
  if (!c.tie_embeddings) s.lm_head = {"lm_head.weight", c.vocab, c.hidden};
  return s;
}

LayerSources layer_sources(const ModelConfig& c, int64_t l) {
  const std::string p = "model.layers." + std::to_string(l) + ".";
  const int64_t D = c.hidden, I = c.intermediate;
  LayerSources s;
  s.attn_norm = {p + "input_layernorm.weight", D};
  s.q = {p + "self_attn.q_proj.weight", c.q_dim(), D};
  s.k = {p + "self_attn.k_proj.weight", c.kv_dim(), D};
  s.v = {p + "self_attn.v_proj.weight", c.kv_dim(), D};
  s.o = {p + "self_attn.o_proj.weight", D, c.q_dim()};
  if (c.qkv_bias) {
    s.q_bias = {p + "self_attn.q_proj.bias", c.q_dim()};
    s.k_bias = {p + "self_attn.k_proj.bias", c.kv_dim()};
    s.v_bias = {p + "self_attn.v_proj.bias", c.kv_dim()};
  }
  if (c.o_bias) s.o_bias = {p + "self_attn.o_proj.bias", D};
  if (c.qk_norm) {
    s.q_norm = {p + "self_attn.q_norm.weight", c.head_dim};
    s.k_norm = {p + "self_attn.k_norm.weight", c.head_dim};
  }
  s.mlp_norm = {p + "post_attention_layernorm.weight", D};
  s.gate = {p + "mlp.gate_proj.weight", I, D};
  s.up = {p + "mlp.up_proj.weight", I, D};
  s.down = {p + "mlp.down_proj.weight", D, I};
  if (c.mlp_bias) {
    s.gate_bias = {p + "mlp.gate_proj.bias", I};
    s.up_bias = {p + "mlp.up_proj.bias", I};
    s.down_bias = {p + "mlp.down_proj.bias", D};
  }
  return s;
}

}  // namespace

extern const Family kLlamaFamily;
const Family kLlamaFamily = {"llama",
                             {"LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM"},
                             read_config,
                             model_sources,
                             layer_sources,
                             ""};

}  // namespace autodist
