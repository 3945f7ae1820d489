// The Llama family: Llama, Mistral, Qwen2 (q/k/v bias), Qwen3 (q/k RMSNorm). RMSNorm, RoPE with its scalings,
// gated SiLU MLP, Linear weights [out, in]; attention_bias and mlp_bias honoured.
#include "core/error.h"
#include "core/json_value.h"
#include "model/family.h"

namespace autodist {
namespace {

using nlohmann::json;

void read_config(const json& j, const std::string& path, ModelConfig& c) {
  const std::string& arch = c.architecture;
  const config_json::Keys k(j, path);
  c.hidden = k.size("hidden_size");
  c.n_layers = k.size("num_hidden_layers");
  c.n_heads = k.size("num_attention_heads");
  c.n_kv_heads = k.size_or("num_key_value_heads", c.n_heads);
  AD_CHECK(c.n_heads % c.n_kv_heads == 0, "{}: num_attention_heads {} is not a multiple of num_key_value_heads {}",
           path, c.n_heads, c.n_kv_heads);
  if (k.has("head_dim")) {
    c.head_dim = k.size("head_dim");  // may differ from hidden / heads (Qwen3)
  } else {
    AD_CHECK(c.hidden % c.n_heads == 0,
             "{}: hidden_size {} is not a multiple of num_attention_heads {} (and no head_dim is given)", path,
             c.hidden, c.n_heads);
    c.head_dim = c.hidden / c.n_heads;
  }
  c.intermediate = k.size("intermediate_size");
  c.vocab = k.size("vocab_size");
  c.max_position = k.size_or("max_position_embeddings", 2048);
  c.norm_eps = k.positive_or("rms_norm_eps", 1e-6);
  c.tie_embeddings = k.flag_or("tie_word_embeddings", false);
  c.norm = NormKind::RMSNorm;
  c.pos = PosKind::Rope;
  c.mlp = MlpKind::Gated;
  const std::string act = k.text_or("hidden_act", "silu");
  c.act = config_json::parse_activation(act, "hidden_act", path);
  AD_CHECK(c.act == Activation::Silu, "{}: hidden_act '{}' is not supported for {} (its gated MLP takes silu)", path,
           act, arch);
  c.rope = config_json::parse_rope(j, path);
  // Bias and q/k norm are implied by the architecture, as in transformers.
  if (arch == "Qwen2ForCausalLM") c.qkv_bias = true;
  if (arch == "Qwen3ForCausalLM") c.qk_norm = true;
  if (k.flag_or("attention_bias", false)) c.qkv_bias = c.o_bias = true;
  c.mlp_bias = k.flag_or("mlp_bias", false);
  // Sliding window: Qwen2/3 gate it with use_sliding_window; Mistral has no flag.
  const int64_t sw = k.int_or("sliding_window", 0, 0, config_json::kMaxSize);
  bool use_sw = j.contains("use_sliding_window") ? k.flag_or("use_sliding_window", false) : true;
  if (arch == "LlamaForCausalLM") use_sw = false;
  c.sliding_window = (use_sw && sw > 0 && sw < c.max_position) ? sw : 0;
  if (c.sliding_window > 0 && k.has("layer_types")) {
    // transformers 5 lists each layer's attention kind; we support all-full or all-sliding.
    const json& types = j["layer_types"];
    AD_CHECK(types.is_array(), "{}: expected a list, got {}", k.what("layer_types"), json_describe(types));
    size_t sliding = 0;
    for (auto& t : types) sliding += json_string(t, k.what("layer_types")) == "sliding_attention";
    AD_CHECK(sliding == 0 || sliding == types.size(), "{}: mixed full/sliding attention layers are not supported",
             path);
    if (sliding == 0) c.sliding_window = 0;
  } else if (c.sliding_window > 0 && (arch == "Qwen2ForCausalLM" || arch == "Qwen3ForCausalLM")) {
    // Qwen windows only layers >= max_window_layers; we support the uniform cases.
    const int64_t mwl = k.int_or("max_window_layers", 0, 0, config_json::kMaxSize);
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
