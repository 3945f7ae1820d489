#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "io/model_config.h"
#include "model/family.h"
#include "model/partition.h"
#include "model/rope.h"
#include "model/synth.h"
#include "model/tp_shard.h"
#include "test_data.h"

using namespace autodist;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
using test::data;
ModelConfig hub(const std::string& name) { return parse_model_config(test::hub_config_text(name), name); }
}  // namespace

TEST_CASE("transformers-4 Hub configs") {
  auto q7 = hub("Qwen2.5-7B-Instruct");
  CHECK(q7.architecture == "Qwen2ForCausalLM");
  CHECK(q7.qkv_bias);
  CHECK(!q7.qk_norm);
  CHECK(q7.head_dim == 128);
  CHECK(q7.vocab == 152064);
  CHECK(q7.sliding_window == 0);  // use_sliding_window false
  CHECK(q7.rope.theta == 1e6);
  CHECK(q7.eos_ids == std::vector<int64_t>{151645});
  CHECK(q7.dtype == DType::BF16);
  CHECK(!q7.tie_embeddings);

  auto q05 = hub("Qwen2.5-0.5B-Instruct");
  CHECK(q05.tie_embeddings);
  CHECK(q05.n_kv_heads == 2);

  auto q3 = hub("Qwen3-0.6B");
  CHECK(q3.qk_norm);
  CHECK(!q3.qkv_bias);
  CHECK(q3.head_dim == 128);  // explicit, differs from hidden / heads = 64
  CHECK(q3.hidden / q3.n_heads == 64);
  CHECK(q3.rope.theta == 1000000.0);  // an integer in the file
  CHECK(q3.tie_embeddings);
  auto q4 = hub("Qwen3-4B");
  CHECK(q4.head_dim == 128);
  CHECK(q4.hidden / q4.n_heads == 80);
  auto q8 = hub("Qwen3-8B");
  CHECK(!q8.tie_embeddings);

  auto l31 = hub("Llama-3.1-8B-Instruct");
  CHECK(l31.rope.type == RopeType::Llama3);
  CHECK(l31.rope.factor == 8.0);
  CHECK(l31.rope.original_max_position == 8192);
  CHECK(l31.eos_ids == std::vector<int64_t>{128001, 128008, 128009});
  CHECK(l31.head_dim == 128);

  auto l2 = hub("Llama-2-7b-hf");
  CHECK(l2.rope.theta == 10000.0);  // absent: default
  CHECK(l2.rope.type == RopeType::Default);
  CHECK(l2.dtype == DType::F16);

  auto m = hub("Mistral-7B-v0.1");
  CHECK(m.sliding_window == 4096);  // no flag: honoured
  CHECK(m.n_kv_heads == 8);
}

TEST_CASE("transformers-5 configs of the fixtures, generation_config eos union") {
  auto q3 = load_model_config(data("models/qwen3-tiny"));
  CHECK(q3.qk_norm);
  CHECK(q3.rope.theta == 1e6);
  CHECK(q3.head_dim == 16);
  auto l = load_model_config(data("models/llama-tiny"));
  CHECK(l.rope.type == RopeType::Llama3);
  CHECK(l.rope.original_max_position == 256);
  CHECK(l.rope.theta == 500000.0);
  CHECK(l.eos_ids == std::vector<int64_t>{2});
  auto m = load_model_config(data("models/mistral-tiny"));
  CHECK(m.sliding_window == 48);
  CHECK(m.head_dim == 8);
  auto q2 = load_model_config(data("models/qwen2-tiny"));
  CHECK(q2.qkv_bias);
  CHECK(q2.dtype == DType::BF16);
  CHECK(q2.sliding_window == 0);
}

TEST_CASE("config errors name the problem") {
  CHECK_THROWS_WITH_AS(parse_model_config("{\"architectures\":[\"BertModel\"]}", "c.json"),
                       doctest::Contains("'BertModel' is not supported (supported: LlamaForCausalLM"), Error);
  CHECK_THROWS_WITH_AS(parse_model_config("{oops", "c.json"), doctest::Contains("not valid JSON"), Error);
  CHECK_THROWS_WITH_AS(parse_model_config("{\"architectures\":[\"LlamaForCausalLM\"]}", "c.json"),
                       doctest::Contains("hidden_size"), Error);
  std::string base = R"({"architectures":["LlamaForCausalLM"],"hidden_size":64,"num_hidden_layers":2,
    "num_attention_heads":4,"intermediate_size":128,"vocab_size":100)";
  CHECK_THROWS_WITH_AS(parse_model_config(base + R"(,"rope_scaling":{"rope_type":"longrope","factor":2}})", "c.json"),
                       doctest::Contains("rope type 'longrope'"), Error);
  CHECK_THROWS_WITH_AS(parse_model_config(base + R"(,"num_key_value_heads":3})", "c.json"),
                       doctest::Contains("not a multiple"), Error);
  CHECK_THROWS_WITH_AS(load_model_config(data("hub_configs")), doctest::Contains("config.json is missing"), Error);
  // rope_scaling with the old "type" key
  auto c = parse_model_config(base + R"(,"rope_scaling":{"type":"linear","factor":2.0}})", "c.json");
  CHECK(c.rope.type == RopeType::Linear);
}

TEST_CASE("config values are read in their type and range, naming the key") {
  // A Llama config with `extra` keys replacing or adding to the base ones; the error of parsing it ("" if none).
  auto err = [](const std::string& extra, const char* arch = "LlamaForCausalLM") {
    json j = {{"architectures", {arch}}, {"hidden_size", 64}, {"num_hidden_layers", 2}, {"num_attention_heads", 4},
              {"intermediate_size", 128}, {"vocab_size", 100}};
    if (std::string(arch) == "GPT2LMHeadModel") j = {{"architectures", {arch}}, {"n_embd", 64}, {"n_layer", 2},
                                                      {"n_head", 4}, {"vocab_size", 100}};
    j.update(json::parse(extra));
    try {
      parse_model_config(j.dump(), "config.json");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK(err("{}") == "");
  CHECK(err(R"({"hidden_size": "64"})") == "config.json: hidden_size: expected an integer, got string \"64\"");
  // Non-integral sizes were truncated (3.7 layers -> 3); integral floats are refused too (HF writes integers).
  CHECK(err(R"({"num_hidden_layers": 3.7})") == "config.json: num_hidden_layers: expected an integer, got number 3.7");
  CHECK(err(R"({"num_hidden_layers": 4.0})") == "config.json: num_hidden_layers: expected an integer, got number 4.0");
  CHECK(err(R"({"num_hidden_layers": 0})") == "config.json: num_hidden_layers: must be >= 1, got 0");
  CHECK(err(R"({"vocab_size": -5})") == "config.json: vocab_size: must be >= 1, got -5");
  CHECK(err(R"({"hidden_size": 4294967360})") == "config.json: hidden_size: 4294967360 is too large (at most 2147483647)");
  CHECK(err(R"({"intermediate_size": 18446744073709551615})").find("intermediate_size: 18446744073709551615 is too large") !=
        std::string::npos);
  CHECK(err(R"({"num_key_value_heads": 0})") == "config.json: num_key_value_heads: must be >= 1, got 0");
  CHECK(err(R"({"num_key_value_heads": 3})").find("num_attention_heads 4 is not a multiple of num_key_value_heads 3") !=
        std::string::npos);
  // Without head_dim, hidden / heads must be whole (65 / 4 was truncated to 16).
  CHECK(err(R"({"hidden_size": 65})").find("hidden_size 65 is not a multiple of num_attention_heads 4") !=
        std::string::npos);
  CHECK(err(R"({"hidden_size": 65, "head_dim": 16})") == "");  // an explicit head_dim may differ (Qwen3)
  CHECK(err(R"({"head_dim": 0})") == "config.json: head_dim: must be >= 1, got 0");
  CHECK(err(R"({"num_attention_heads": 65536, "num_key_value_heads": 1, "head_dim": 65536})")
            .find("num_attention_heads 65536 x head_dim 65536 = 4294967296 is more than") != std::string::npos);
  // The fuzzer's find: a billion layers passed the parameter bound and took minutes to enumerate.
  CHECK(err(R"({"num_hidden_layers": 1000014336})").find("layers must be from 1 to 65536") != std::string::npos);
  CHECK(err(R"({"num_hidden_layers": 65536})") == "");
  CHECK(err(R"({"num_hidden_layers": 65536, "hidden_size": 65536, "intermediate_size": 2147483647, "head_dim": 16})")
            .find("parameters is more than any machine holds") != std::string::npos);
  // Floats: finite and positive where the math needs it.
  CHECK(err(R"({"rope_theta": 0})") == "config.json: rope_theta: must be > 0, got 0");
  CHECK(err(R"({"rope_theta": -10000.0})") == "config.json: rope_theta: must be > 0, got -10000");
  CHECK(err(R"({"rope_parameters": {"rope_type": "default", "rope_theta": -1}})") ==
        "config.json: rope_parameters.rope_theta: must be > 0, got -1");
  CHECK(err(R"({"rope_theta": "1e6"})") == "config.json: rope_theta: expected a number, got string \"1e6\"");
  CHECK(err(R"({"rms_norm_eps": -1e-06})") == "config.json: rms_norm_eps: must be > 0, got -1e-06");
  CHECK(err(R"({"rms_norm_eps": 0})") == "config.json: rms_norm_eps: must be > 0, got 0");
  CHECK(err(R"({"layer_norm_epsilon": -1e-05})", "GPT2LMHeadModel") ==
        "config.json: layer_norm_epsilon: must be > 0, got -1e-05");
  CHECK(err(R"({"rope_scaling": {"rope_type": "linear", "factor": -2}})") ==
        "config.json: rope_scaling.factor: must be > 0, got -2");
  CHECK(err(R"({"rope_scaling": {"rope_type": "linear", "factor": "2"}})") ==
        "config.json: rope_scaling.factor: expected a number, got string \"2\"");
  CHECK(err(R"({"rope_scaling": {"rope_type": "llama3", "factor": 8, "original_max_position_embeddings": 64,
                "low_freq_factor": 4, "high_freq_factor": 4}})")
            .find("needs high_freq_factor 4 > low_freq_factor 4") != std::string::npos);
  CHECK(err(R"({"rope_scaling": "linear"})") == "config.json: rope_scaling: expected an object, got string \"linear\"");
  // Other types: booleans, strings, ids.
  CHECK(err(R"({"tie_word_embeddings": "true"})") ==
        "config.json: tie_word_embeddings: expected true or false, got string \"true\"");
  CHECK(err(R"({"mlp_bias": 1})") == "config.json: mlp_bias: expected true or false, got number 1");
  CHECK(err(R"({"hidden_act": 3})") == "config.json: hidden_act: expected a string, got number 3");
  CHECK(err(R"({"architectures": "LlamaForCausalLM"})") ==
        "config.json: architectures: expected a list of names, got string \"LlamaForCausalLM\"");
  CHECK(err(R"({"eos_token_id": 4294967301})") ==
        "config.json: eos_token_id: 4294967301 is too large (at most 2147483647)");  // not token 5
  CHECK(err(R"({"eos_token_id": [2, 2.0]})") == "config.json: eos_token_id: expected an integer, got number 2.0");
  CHECK(err(R"({"eos_token_id": -1})") == "config.json: eos_token_id: must be >= 0, got -1");
  CHECK(err(R"({"eos_token_id": null, "bos_token_id": null})") == "");
  CHECK(err(R"({"bos_token_id": 1.5})") == "config.json: bos_token_id: expected an integer, got number 1.5");
  {  // ids beyond the vocabulary (GPT-2's 50256 in HF's tiny configs) can never be generated: dropped
    json j = json::parse(test::hub_config_text("gpt2"));
    j["vocab_size"] = 1024;
    j["eos_token_id"] = json::array({50256, 7});
    CHECK(parse_model_config(j.dump(), "config.json").eos_ids == std::vector<int64_t>{7});
  }
  CHECK(err(R"({"sliding_window": -4})") == "config.json: sliding_window: must be >= 0, got -4");
  CHECK(err(R"({"max_position_embeddings": 0})") == "config.json: max_position_embeddings: must be >= 1, got 0");
  CHECK(err(R"({"n_inner": 0})", "GPT2LMHeadModel") == "config.json: n_inner: must be >= 1, got 0");
}

TEST_CASE("rope tables: linear, llama3, yarn") {
  std::string base = R"({"architectures":["LlamaForCausalLM"],"hidden_size":64,"num_hidden_layers":2,
    "num_attention_heads":4,"intermediate_size":128,"vocab_size":100,"max_position_embeddings":4096)";
  auto def = make_rope_table(parse_model_config(base + "}", "c"));
  CHECK(def.inv_freq.size() == 8);
  CHECK(def.inv_freq[1] == doctest::Approx(std::pow(10000.0, -2.0 / 16)));
  auto lin = make_rope_table(parse_model_config(base + R"(,"rope_scaling":{"rope_type":"linear","factor":4}})", "c"));
  CHECK(lin.inv_freq[3] == doctest::Approx(def.inv_freq[3] / 4));
  auto l3 = make_rope_table(parse_model_config(
      base + R"(,"rope_scaling":{"rope_type":"llama3","factor":8,"low_freq_factor":1,"high_freq_factor":4,"original_max_position_embeddings":256}})",
      "c"));
  CHECK(l3.inv_freq[0] == doctest::Approx(def.inv_freq[0]));      // high frequency: kept
  CHECK(l3.inv_freq[7] == doctest::Approx(def.inv_freq[7] / 8));  // low frequency: divided
  auto y = make_rope_table(parse_model_config(
      base + R"(,"rope_scaling":{"rope_type":"yarn","factor":4,"original_max_position_embeddings":1024}})", "c"));
  CHECK(y.attention_factor == doctest::Approx(0.1 * std::log(4.0) + 1.0));
  CHECK(y.inv_freq[0] == doctest::Approx(def.inv_freq[0]));
  CHECK(y.inv_freq[7] == doctest::Approx(def.inv_freq[7] / 4));
}

TEST_CASE("tensor-parallel shards and pipeline partitions") {
  auto q2 = load_model_config(data("models/qwen2-tiny"));  // 6 heads, 2 kv heads
  auto s = TpShard::make(q2, 1, 2);
  CHECK(s.q_heads == 3);
  // tp 4 over 2 kv heads: each kv head replicated twice, its 3 q heads split 2 + 1
  int64_t next = 0;
  for (int r = 0; r < 4; ++r) {
    auto t = TpShard::make(q2, r, 4);
    CHECK(t.kv_heads == 1);
    CHECK(t.kv_head_start == r / 2);
    CHECK(t.q_heads == (r % 2 == 0 ? 2 : 1));
    CHECK(t.q_head_start == next);
    next += t.q_heads;
  }
  CHECK_THROWS_WITH_AS(TpShard::make(q2, 0, 3), doctest::Contains("not a multiple"), Error);
  CHECK_THROWS_WITH_AS(TpShard::make(q2, 0, 8), doctest::Contains("leaves some ranks without an attention head"), Error);
  auto q7 = hub("Qwen2.5-7B-Instruct");  // 28 heads, 4 kv heads
  for (int r = 0; r < 4; ++r) {
    auto t = TpShard::make(q7, r, 4);
    CHECK(t.kv_heads == 1);
    CHECK(t.kv_head_start == r);
  }
  auto l31 = hub("Llama-3.1-8B-Instruct");  // 8 kv heads, tp 16 -> replicated pairs
  for (int r = 0; r < 16; ++r) {
    auto t = TpShard::make(l31, r, 16);
    CHECK(t.kv_heads == 1);
    CHECK(t.kv_head_start == r / 2);
    // every local q head maps onto the local kv head
    CHECK((t.q_head_start / (l31.n_heads / l31.n_kv_heads)) == t.kv_head_start);
  }
  auto t3 = TpShard::make(q7, 2, 4);
  CHECK(t3.vocab_local * 4 >= q7.vocab);

  auto l = load_model_config(data("models/llama-tiny"));  // 4 layers
  auto eq = make_partition(l, 3, "equal-layers");
  CHECK(eq[0].last - eq[0].first == 2);
  CHECK(eq[2].last == 4);
  CHECK(eq[0].has_embed);
  CHECK(eq[2].has_head);
  auto ex = make_partition(l, 2, "layers:1,3");
  CHECK(ex[1].first == 1);
  CHECK_THROWS_WITH_AS(make_partition(l, 2, "layers:1,2"), doctest::Contains("covers 3 layers"), Error);
  CHECK_THROWS_WITH_AS(make_partition(l, 5, "equal-layers"), doctest::Contains("larger than the 4 layers"), Error);
  // embedding + lm_head are heavy at this size: equal-params moves layers to the middle
  auto ep = make_partition(l, 2, "equal-params");
  CHECK(ep[0].last - ep[0].first >= 1);
  auto mem = make_partition(q7, 2, "memory:40,10", DType::BF16);
  CHECK(mem[0].last - mem[0].first > mem[1].last - mem[1].first);
  CHECK_THROWS_WITH_AS(make_partition(q7, 2, "memory:1,1", DType::BF16), doctest::Contains("budget"), Error);
  // Sized in the run's dtype: 7B fits two 9 GB budgets in bf16 (~15 GB in all), not in f32 (~30 GB)
  CHECK_NOTHROW(make_partition(q7, 2, "memory:9,9", DType::BF16));
  CHECK_THROWS_WITH_AS(make_partition(q7, 2, "memory:9,9", DType::F32), doctest::Contains("in f32 but its budget"),
                       Error);
  // matrices in the dtype, norms (and biases) in f32, as the loader holds them
  ModelBytes b16 = model_bytes(l, DType::BF16), b32 = model_bytes(l, DType::F32);
  const size_t norms = 2 * static_cast<size_t>(l.hidden) * 4;
  CHECK(b32.layer == static_cast<size_t>(l.layer_params()) * 4);
  CHECK(b16.layer == (static_cast<size_t>(l.layer_params()) - 2 * l.hidden) * 2 + norms);
  CHECK(b16.embed == static_cast<size_t>(l.embed_params()) * 2);
  CHECK(b16.head == static_cast<size_t>(l.embed_params()) * 2 + static_cast<size_t>(l.hidden) * 4);
  auto th = make_partition(l, 2, "threshold:" + std::to_string(b32.embed + 2 * b32.layer));
  CHECK(th[0].last == 2);
  auto th16 = make_partition(l, 2, "threshold:" + std::to_string(b16.embed + 3 * b16.layer), DType::BF16);
  CHECK(th16[0].last == 3);
  CHECK(parse_bytes("2K") == 2048);
  CHECK_THROWS_AS(parse_bytes("2X"), Error);
}

TEST_CASE("synth presets: every one parses, with the real shapes of its model") {
  for (const SynthPreset& p : synth_presets()) {
    INFO("preset ", p.name);
    ModelConfig c = parse_model_config(p.config.dump(), p.name);
    CHECK(c.vocab > 0);
  }
  ModelConfig g = parse_model_config(find_preset("gpt2").config.dump(), "gpt2");
  CHECK((g.family == "gpt2" && g.hidden == 768 && g.n_layers == 12 && g.intermediate == 3072));
  ModelConfig xl = parse_model_config(find_preset("gpt2-xl").config.dump(), "gpt2-xl");
  CHECK((xl.hidden == 1600 && xl.n_layers == 48 && xl.n_heads == 25));
  ModelConfig o13 = parse_model_config(find_preset("opt-1.3b").config.dump(), "opt-1.3b");
  CHECK((o13.family == "opt" && o13.hidden == 2048 && o13.n_layers == 24 && o13.intermediate == 8192));
  ModelConfig o67 = parse_model_config(find_preset("opt-6.7b").config.dump(), "opt-6.7b");
  CHECK((o67.hidden == 4096 && o67.n_layers == 32 && o67.intermediate == 16384 && o67.pos_offset == 2));
  CHECK_THROWS_WITH_AS(find_preset("gpt3"), doctest::Contains("presets: tiny"), Error);
}
