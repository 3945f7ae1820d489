// The model families as data: the published Hub configs of GPT-2 and OPT parse into their shapes and block recipe
// (or, for OPT-350m, into a refusal naming the key), every unsupported value is refused by name, and the tensor
// sources name the checkpoint's tensors (Conv1D column blocks for GPT-2's c_attn).
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "model/family.h"
#include "test_data.h"

using namespace autodist;

namespace {
using test::hub_config_text;
std::string text(const std::string& name) { return hub_config_text(name); }
ModelConfig hub(const std::string& name) { return parse_model_config(text(name), name); }
// The config text with one key set (a JSON literal) added or replaced.
ModelConfig with(const std::string& name, const std::string& key, const std::string& value) {
  auto j = nlohmann::json::parse(text(name));
  j[key] = nlohmann::json::parse(value);
  return parse_model_config(j.dump(), name);
}
}  // namespace

TEST_CASE("GPT-2 Hub configs: shapes and recipe") {
  ModelConfig g = hub("gpt2");
  CHECK(g.family == "gpt2");
  CHECK(g.hidden == 768);
  CHECK(g.n_layers == 12);
  CHECK(g.n_heads == 12);
  CHECK(g.n_kv_heads == 12);
  CHECK(g.head_dim == 64);
  CHECK(g.intermediate == 3072);  // n_inner absent: 4 n_embd
  CHECK(g.vocab == 50257);
  CHECK(g.max_position == 1024);
  CHECK(g.norm == NormKind::LayerNorm);
  CHECK(g.norm_bias);
  CHECK(g.norm_eps == doctest::Approx(1e-5));
  CHECK(g.pos == PosKind::Learned);
  CHECK(g.pos_offset == 0);
  CHECK(g.mlp == MlpKind::Plain);
  CHECK(g.act == Activation::GeluTanh);
  CHECK((g.qkv_bias && g.o_bias && g.mlp_bias && g.tie_embeddings && g.scale_attn));
  CHECK(g.eos_ids == std::vector<int64_t>{50256});
  // 124M parameters: layers + wte + wpe + ln_f
  const int64_t params = g.n_layers * g.layer_params() + g.embed_params() + g.max_position * g.hidden + 2 * g.hidden;
  CHECK(params == 124439808);
  ModelConfig xl = hub("gpt2-xl");
  CHECK(xl.hidden == 1600);
  CHECK(xl.n_layers == 48);
  CHECK(xl.n_heads == 25);
  CHECK(xl.head_dim == 64);
  CHECK(xl.intermediate == 6400);
  CHECK(with("gpt2", "n_inner", "1000").intermediate == 1000);
  CHECK(with("gpt2", "activation_function", "\"gelu\"").act == Activation::Gelu);
  CHECK(!with("gpt2", "scale_attn_weights", "false").scale_attn);
}

TEST_CASE("OPT Hub configs: shapes and recipe; OPT-350m refused by name") {
  ModelConfig o = hub("opt-125m");
  CHECK(o.family == "opt");
  CHECK(o.hidden == 768);
  CHECK(o.n_layers == 12);
  CHECK(o.n_heads == 12);
  CHECK(o.intermediate == 3072);
  CHECK(o.vocab == 50272);
  CHECK(o.max_position == 2048);
  CHECK(o.pos == PosKind::Learned);
  CHECK(o.pos_offset == 2);
  CHECK(o.act == Activation::Relu);
  CHECK(o.dtype == DType::F16);
  CHECK((o.norm == NormKind::LayerNorm && o.norm_bias && o.qkv_bias && o.mlp_bias && o.tie_embeddings));
  ModelConfig o67 = hub("opt-6.7b");
  CHECK(o67.hidden == 4096);
  CHECK(o67.n_layers == 32);
  CHECK(o67.intermediate == 16384);
  CHECK_THROWS_WITH_AS(hub("opt-350m"), doctest::Contains("do_layer_norm_before: false"), Error);
  CHECK_THROWS_WITH_AS(with("opt-350m", "do_layer_norm_before", "true"),
                       doctest::Contains("word_embed_proj_dim 512 != hidden_size 1024"), Error);
  CHECK(!with("opt-125m", "enable_bias", "false").qkv_bias);
}

TEST_CASE("values a family does not support are refused naming the key and value") {
  CHECK_THROWS_WITH_AS(with("gpt2", "scale_attn_by_inverse_layer_idx", "true"),
                       doctest::Contains("scale_attn_by_inverse_layer_idx: true is not supported"), Error);
  CHECK_THROWS_WITH_AS(with("gpt2", "reorder_and_upcast_attn", "true"),
                       doctest::Contains("reorder_and_upcast_attn: true is not supported"), Error);
  CHECK_THROWS_WITH_AS(with("gpt2", "activation_function", "\"quick_gelu\""),
                       doctest::Contains("activation_function 'quick_gelu' is not supported"), Error);
  CHECK_THROWS_WITH_AS(with("opt-125m", "layer_norm_elementwise_affine", "false"),
                       doctest::Contains("layer_norm_elementwise_affine: false"), Error);
  CHECK_THROWS_WITH_AS(with("opt-125m", "_remove_final_layer_norm", "true"),
                       doctest::Contains("_remove_final_layer_norm: true"), Error);
  CHECK_THROWS_WITH_AS(with("opt-125m", "activation_function", "\"tanh\""),
                       doctest::Contains("activation_function 'tanh'"), Error);
  CHECK_THROWS_WITH_AS(with("Llama-2-7b-hf", "hidden_act", "\"gelu\""),
                       doctest::Contains("hidden_act 'gelu' is not supported for LlamaForCausalLM"), Error);
  // Llama's biases are honoured, not dropped
  ModelConfig lb = with("Llama-2-7b-hf", "mlp_bias", "true");
  CHECK(lb.mlp_bias);
  const LayerSources s = family_of(lb).layer_sources(lb, 3);
  CHECK(s.up_bias.name == "model.layers.3.mlp.up_proj.bias");
  CHECK(s.down_bias.name == "model.layers.3.mlp.down_proj.bias");
  ModelConfig ab = with("Llama-2-7b-hf", "attention_bias", "true");
  CHECK((ab.qkv_bias && ab.o_bias));
}

TEST_CASE("tensor sources: GPT-2's fused Conv1D c_attn, OPT's offset position table, every checkpoint tensor once") {
  ModelConfig g = hub("gpt2");
  const Family& f = family_of(g);
  LayerSources s = f.layer_sources(g, 0);
  CHECK(s.q.name == "transformer.h.0.attn.c_attn.weight");
  CHECK(s.k.name == s.q.name);
  CHECK((s.q.conv1d && s.q.row0 == 0 && s.k.row0 == 768 && s.v.row0 == 1536));
  CHECK(s.q.stored_shape() == std::vector<int64_t>{768, 2304});
  CHECK(s.down.stored_shape() == std::vector<int64_t>{3072, 768});
  CHECK(s.gate.empty());
  auto ts = checkpoint_tensors(g);
  CHECK(ts.size() == 2 + 12 * 12 + 2);  // wte, wpe; per layer ln_1 (2), c_attn (2), c_proj (2), ln_2 (2), mlp (4)
  int64_t n = 0;
  for (auto& t : ts) {
    int64_t e = 1;
    for (auto d : t.shape) e *= d;
    n += e;
  }
  CHECK(n == 124439808);
  ModelConfig o = hub("opt-125m");
  ModelSources ms = family_of(o).model_sources(o);
  CHECK(ms.positions.name == "model.decoder.embed_positions.weight");
  CHECK(ms.positions.rows_total == 2050);
  CHECK(ms.lm_head.empty());
  CHECK(family_of(o).layer_sources(o, 5).mlp_norm.name == "model.decoder.layers.5.final_layer_norm.weight");
  CHECK_THROWS_WITH_AS(family_for("GPTNeoXForCausalLM", "x"), doctest::Contains("OPTForCausalLM"), Error);
}

namespace {
int64_t checkpoint_params(const ModelConfig& c) {
  int64_t n = 0;
  for (auto& t : checkpoint_tensors(c)) {
    int64_t e = 1;
    for (auto d : t.shape) e *= d;
    n += e;
  }
  return n;
}
}  // namespace

TEST_CASE("published parameter counts from the tensor sources: GPT-2 124M, OPT-125m") {
  CHECK(checkpoint_params(hub("gpt2")) == 124439808);
  CHECK(checkpoint_params(hub("opt-125m")) == 125239296);
  CHECK(checkpoint_params(hub("Llama-2-7b-hf")) == 6738415616);
}
