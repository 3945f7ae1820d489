// OPT (OPTForCausalLM): LayerNorm with bias before each block, learned positions with OPT's offset of 2 (table rows =
// max_position_embeddings + 2), plain MLP (fc1, fc2) with relu, Linear weights [out, in] with biases (enable_bias),
// tied embeddings. Refused by name: post-norm (do_layer_norm_before false, OPT-350m), project_in/project_out
// (word_embed_proj_dim != hidden_size, OPT-350m), LayerNorms without weights, a removed final LayerNorm.
#include "core/error.h"
#include "model/family.h"

namespace autodist {
namespace {

using nlohmann::json;

void read_config(const json& j, const std::string& path, ModelConfig& c) {
  const config_json::Keys k(j, path);
  c.hidden = k.size("hidden_size");
  c.n_layers = k.size("num_hidden_layers");
  c.n_heads = k.size("num_attention_heads");
  c.n_kv_heads = c.n_heads;
  AD_CHECK(c.hidden % c.n_heads == 0, "{}: hidden_size {} is not a multiple of num_attention_heads {}", path,
           c.hidden, c.n_heads);
  c.head_dim = c.hidden / c.n_heads;
  c.intermediate = k.size("ffn_dim");
  c.vocab = k.size("vocab_size");
  c.max_position = k.size_or("max_position_embeddings", 2048);
  c.norm_eps = 1e-5;  // nn.LayerNorm's default, which OPT uses
  c.tie_embeddings = k.flag_or("tie_word_embeddings", true);
  c.norm = NormKind::LayerNorm;
  c.norm_bias = true;
  c.pos = PosKind::Learned;
  c.pos_offset = 2;
  c.mlp = MlpKind::Plain;
  c.act = config_json::parse_activation(k.text_or("activation_function", "relu"), "activation_function", path);
  const bool bias = k.flag_or("enable_bias", true);
  c.qkv_bias = c.o_bias = c.mlp_bias = bias;
  AD_CHECK(k.flag_or("do_layer_norm_before", true),
           "{}: do_layer_norm_before: false (post-norm blocks, as OPT-350m) is not supported", path);
  const int64_t proj = k.size_or("word_embed_proj_dim", c.hidden);
  AD_CHECK(proj == c.hidden,
           "{}: word_embed_proj_dim {} != hidden_size {} (project_in/project_out, as OPT-350m) is not supported", path,
           proj, c.hidden);
  AD_CHECK(k.flag_or("layer_norm_elementwise_affine", true),
           "{}: layer_norm_elementwise_affine: false (LayerNorms without weight and bias) is not supported", path);
  AD_CHECK(!k.flag_or("_remove_final_layer_norm", false), "{}: _remove_final_layer_norm: true is not supported",
           path);
}

ModelSources model_sources(const ModelConfig& c) {
  ModelSources s;
  s.embed = {"model.decoder.embed_tokens.weight", c.vocab, c.hidden};
  s.positions = {"model.decoder.embed_positions.weight", c.max_position + c.pos_offset, c.hidden};
  s.final_norm = {"model.decoder.final_layer_norm.weight", c.hidden};
  s.final_norm_bias = {"model.decoder.final_layer_norm.bias", c.hidden};
  if (!c.tie_embeddings) s.lm_head = {"lm_head.weight", c.vocab, c.hidden};
  return s;
}

LayerSources layer_sources(const ModelConfig& c, int64_t l) {
  const std::string p = "model.decoder.layers." + std::to_string(l) + ".";
  const int64_t D = c.hidden, I = c.intermediate;
  LayerSources s;
  s.attn_norm = {p + "self_attn_layer_norm.weight", D};
  s.attn_norm_bias = {p + "self_attn_layer_norm.bias", D};
  s.q = {p + "self_attn.q_proj.weight", D, D};
  s.k = {p + "self_attn.k_proj.weight", D, D};
  s.v = {p + "self_attn.v_proj.weight", D, D};
  s.o = {p + "self_attn.out_proj.weight", D, D};
  if (c.qkv_bias) {
    s.q_bias = {p + "self_attn.q_proj.bias", D};
    s.k_bias = {p + "self_attn.k_proj.bias", D};
    s.v_bias = {p + "self_attn.v_proj.bias", D};
    s.o_bias = {p + "self_attn.out_proj.bias", D};
  }
  s.mlp_norm = {p + "final_layer_norm.weight", D};  // the layer's MLP norm (named as in HF)
  s.mlp_norm_bias = {p + "final_layer_norm.bias", D};
  s.up = {p + "fc1.weight", I, D};
  s.down = {p + "fc2.weight", D, I};
  if (c.mlp_bias) {
    s.up_bias = {p + "fc1.bias", I};
    s.down_bias = {p + "fc2.bias", D};
  }
  return s;
}

}  // namespace

extern const Family kOptFamily;
const Family kOptFamily = {"opt", {"OPTForCausalLM"}, read_config, model_sources, layer_sources, "model."};

}  // namespace autodist
