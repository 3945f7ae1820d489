// GPT-2 (GPT2LMHeadModel): LayerNorm with bias, learned absolute positions (wpe), plain MLP with gelu_new, biases on
// every linear, tied embeddings. Weights are Conv1D, stored [in, out]: c_attn is one [D, 3D] tensor whose column
// blocks are q, k and v; c_proj and c_fc are [in, out] too. Checkpoints saved from GPT2Model lack "transformer.".
#include "core/error.h"
#include "model/family.h"

namespace autodist {
namespace {

using nlohmann::json;

void refuse_true(const config_json::Keys& k, const char* key, const char* why) {
  AD_CHECK(!k.flag_or(key, false), "{}: true is not supported ({})", k.what(key), why);
}

void read_config(const json& j, const std::string& path, ModelConfig& c) {
  const config_json::Keys k(j, path);
  c.hidden = k.size("n_embd");
  c.n_layers = k.size("n_layer");
  c.n_heads = k.size("n_head");
  c.n_kv_heads = c.n_heads;
  AD_CHECK(c.hidden % c.n_heads == 0, "{}: n_embd {} is not a multiple of n_head {}", path, c.hidden, c.n_heads);
  c.head_dim = c.hidden / c.n_heads;
  c.intermediate = k.size_or("n_inner", 4 * c.hidden);  // null: 4 n_embd
  c.vocab = k.size("vocab_size");
  c.max_position = k.size_or("n_positions", 1024);
  c.norm_eps = k.positive_or("layer_norm_epsilon", 1e-5);
  c.tie_embeddings = k.flag_or("tie_word_embeddings", true);
  c.norm = NormKind::LayerNorm;
  c.norm_bias = true;
  c.pos = PosKind::Learned;
  c.pos_offset = 0;
  c.mlp = MlpKind::Plain;
  c.act = config_json::parse_activation(k.text_or("activation_function", "gelu_new"), "activation_function", path);
  c.qkv_bias = c.o_bias = c.mlp_bias = true;
  c.scale_attn = k.flag_or("scale_attn_weights", true);
  refuse_true(k, "scale_attn_by_inverse_layer_idx", "scores would be scaled by 1/(layer+1)");
  refuse_true(k, "reorder_and_upcast_attn", "an fp32-upcast attention order");
  refuse_true(k, "add_cross_attention", "an encoder-decoder model");
}

ModelSources model_sources(const ModelConfig& c) {
  ModelSources s;
  s.embed = {"transformer.wte.weight", c.vocab, c.hidden};
  s.positions = {"transformer.wpe.weight", c.max_position, c.hidden};
  s.final_norm = {"transformer.ln_f.weight", c.hidden};
  s.final_norm_bias = {"transformer.ln_f.bias", c.hidden};
  if (!c.tie_embeddings) s.lm_head = {"lm_head.weight", c.vocab, c.hidden};
  return s;
}

LayerSources layer_sources(const ModelConfig& c, int64_t l) {
  const std::string p = "transformer.h." + std::to_string(l) + ".";
  const int64_t D = c.hidden, I = c.intermediate;
  LayerSources s;
  s.attn_norm = {p + "ln_1.weight", D};
  s.attn_norm_bias = {p + "ln_1.bias", D};
  // c_attn [D, 3D]: the logical [3D, D] matrix's rows 0..D are q, D..2D k, 2D..3D v
  s.q = {p + "attn.c_attn.weight", 3 * D, D, 0, true};
  s.k = {p + "attn.c_attn.weight", 3 * D, D, D, true};
  s.v = {p + "attn.c_attn.weight", 3 * D, D, 2 * D, true};
  s.q_bias = {p + "attn.c_attn.bias", 3 * D, 0};
  s.k_bias = {p + "attn.c_attn.bias", 3 * D, D};
  s.v_bias = {p + "attn.c_attn.bias", 3 * D, 2 * D};
  s.o = {p + "attn.c_proj.weight", D, D, 0, true};
  s.o_bias = {p + "attn.c_proj.bias", D};
  s.mlp_norm = {p + "ln_2.weight", D};
  s.mlp_norm_bias = {p + "ln_2.bias", D};
  s.up = {p + "mlp.c_fc.weight", I, D, 0, true};
  s.up_bias = {p + "mlp.c_fc.bias", I};
  s.down = {p + "mlp.c_proj.weight", D, I, 0, true};
  s.down_bias = {p + "mlp.c_proj.bias", D};
  return s;
}

}  // namespace

extern const Family kGpt2Family;
const Family kGpt2Family = {"gpt2", {"GPT2LMHeadModel"}, read_config, model_sources, layer_sources, "transformer."};

}  // namespace autodist
