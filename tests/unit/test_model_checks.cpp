// Whole-model checks on small synthetic Llama checkpoints, one rank on the cpu backend: Llama's mlp_bias against a
// reference computed here, and NaN logits stopping the run with the step and rank named.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>

#include "backend/backend.h"
#include "core/error.h"
#include "io/safetensors.h"
#include "model/family.h"
#include "model/synth.h"
#include "runtime/engine.h"

using namespace autodist;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json llama_config(bool mlp_bias) {
  return {{"architectures", {"LlamaForCausalLM"}}, {"model_type", "llama"}, {"hidden_size", 32},
          {"intermediate_size", 48},  {"num_attention_heads", 4},  {"num_key_value_heads", 2},
          {"num_hidden_layers", 2},   {"vocab_size", 64},          {"max_position_embeddings", 64},
          {"rms_norm_eps", 1e-5},     {"rope_theta", 10000.0},     {"tie_word_embeddings", false},
          {"mlp_bias", mlp_bias},     {"eos_token_id", 63}};
}

// A checkpoint's tensors in f32, by name.
using Tensors = std::map<std::string, std::vector<float>>;

Tensors read_all(const std::string& dir) {
  io::Checkpoint ck(dir);
  Tensors t;
  for (auto& n : ck.names()) {
    std::vector<float> v(static_cast<size_t>(ck.info(n).numel()));
    ck.read_f32(n, io::Slice::all(), v.data());
    t[n] = std::move(v);
  }
  return t;
}

// DIR/config.json + DIR/model.safetensors (f32) from a config and tensors.
void write_model(const std::string& dir, const json& config, const Tensors& t, const ModelConfig& c) {
  fs::create_directories(dir);
  json cfg = config;
  cfg["torch_dtype"] = "float32";
  std::ofstream(fs::path(dir) / "config.json") << cfg.dump(2);
  std::vector<io::NamedTensor> out;
  std::map<std::string, std::vector<int64_t>> shapes;
  for (auto& ct : checkpoint_tensors(c)) shapes[ct.name] = ct.shape;
  for (auto& [name, v] : t) {
    REQUIRE(shapes.count(name));
    Shape s;
    for (auto d : shapes[name]) s.d[s.ndim++] = d;
    out.push_back({name, Tensor(const_cast<float*>(v.data()), DType::F32, s)});
  }
  io::write_safetensors((fs::path(dir) / "model.safetensors").string(), out);
}

struct OneRank {
  std::unique_ptr<Backend> be = make_cpu_backend();
  dist::ParallelGroups groups = dist::ParallelGroups::make(nullptr, 1, 1);
  ModelConfig cfg;
  std::unique_ptr<Engine> eng;
  explicit OneRank(const std::string& dir) : cfg(load_model_config(dir)) {
    EngineOptions eo;
    eo.model_dir = dir;
    eng = std::make_unique<Engine>(*be, cfg, eo, groups, load_model(*be, cfg, groups.topo, eo));
  }
  std::vector<float> logits(int32_t token) {
    eng->prepare(eng->prefill_rows(1), 2, 1, 1);
    return eng->forward_logits({token}, 0);
  }
};

// The logits of a one-token prompt at position 0, in double: attention over one key is its value (whatever q, k
// and the rotation are), so a layer is x += o(v(norm x)); x += down(silu(gate(norm x) + bg) * (up(norm x) + bu)) + bd.
std::vector<double> reference_logits(const ModelConfig& c, Tensors& t, int32_t token) {
  const int64_t D = c.hidden, I = c.intermediate, hd = c.head_dim, Hq = c.n_heads, Hk = c.n_kv_heads;
  auto norm = [&](const std::vector<double>& x, const std::vector<float>& w) {
    double ss = 0;
    for (double v : x) ss += v * v;
    const double inv = 1.0 / std::sqrt(ss / D + c.norm_eps);
    std::vector<double> y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * inv * w[i];
    return y;
  };
  // y[rows] = W[rows, cols] x (+ b)
  auto lin = [&](const std::string& w, const std::vector<double>& x, int64_t rows, const std::string& b = "") {
    std::vector<double> y(static_cast<size_t>(rows));
    const auto& W = t.at(w);
    for (int64_t r = 0; r < rows; ++r) {
      double s = b.empty() ? 0 : t.at(b)[r];
      for (size_t k = 0; k < x.size(); ++k) s += W[r * x.size() + k] * x[k];
      y[r] = s;
    }
    return y;
  };
  std::vector<double> x(t.at("model.embed_tokens.weight").begin() + token * D,
                        t.at("model.embed_tokens.weight").begin() + (token + 1) * D);
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    auto h = norm(x, t.at(p + "input_layernorm.weight"));
    auto v = lin(p + "self_attn.v_proj.weight", h, Hk * hd);
    std::vector<double> att(static_cast<size_t>(Hq * hd));
    for (int64_t q = 0; q < Hq; ++q)
      for (int64_t e = 0; e < hd; ++e) att[q * hd + e] = v[(q / (Hq / Hk)) * hd + e];
    auto o = lin(p + "self_attn.o_proj.weight", att, D);
    for (int64_t i = 0; i < D; ++i) x[i] += o[i];
    h = norm(x, t.at(p + "post_attention_layernorm.weight"));
    const bool b = c.mlp_bias;
    auto g = lin(p + "mlp.gate_proj.weight", h, I, b ? p + "mlp.gate_proj.bias" : "");
    auto u = lin(p + "mlp.up_proj.weight", h, I, b ? p + "mlp.up_proj.bias" : "");
    for (int64_t i = 0; i < I; ++i) g[i] = g[i] / (1 + std::exp(-g[i])) * u[i];
    auto d = lin(p + "mlp.down_proj.weight", g, D, b ? p + "mlp.down_proj.bias" : "");
    for (int64_t i = 0; i < D; ++i) x[i] += d[i];
  }
  return lin("lm_head.weight", norm(x, t.at("model.norm.weight")), c.vocab);
}

double max_diff(const std::vector<float>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

std::vector<double> widen(const std::vector<float>& v) { return {v.begin(), v.end()}; }

}  // namespace

TEST_CASE("llama mlp_bias: gate/up/down biases are applied (zero biases: the model without them; else the reference)") {
  const fs::path dir = fs::temp_directory_path() / "autodist_mlp_bias_test";
  fs::remove_all(dir);
  const json with = llama_config(true), without = llama_config(false);
  write_synthetic_checkpoint({"mlp-bias", with}, (dir / "synth").string(), DType::F32, 11);
  Tensors t = read_all((dir / "synth").string());
  const ModelConfig cb = parse_model_config(with.dump(), "with"), cn = parse_model_config(without.dump(), "without");
  REQUIRE(cb.mlp_bias);
  REQUIRE(t.count("model.layers.1.mlp.gate_proj.bias"));
  // Larger biases than synth's +-0.035, so that a dropped one shows far above the float32 noise.
  for (auto& [n, v] : t)
    if (n.find("mlp.") != std::string::npos && n.find(".bias") != std::string::npos)
      for (size_t i = 0; i < v.size(); ++i) v[i] = 0.5f * std::sin(static_cast<float>(i) + n.size());
  write_model((dir / "biased").string(), with, t, cb);
  Tensors zero = t, none;
  for (auto& [n, v] : zero)
    if (n.find(".bias") != std::string::npos) std::fill(v.begin(), v.end(), 0.0f);
  for (auto& [n, v] : t)
    if (n.find(".bias") == std::string::npos) none[n] = v;
  write_model((dir / "zero").string(), with, zero, cb);
  write_model((dir / "none").string(), without, none, cn);

  const int32_t token = 5;
  auto biased = OneRank((dir / "biased").string()).logits(token);
  auto zeroed = OneRank((dir / "zero").string()).logits(token);
  auto plain = OneRank((dir / "none").string()).logits(token);
  CHECK(max_diff(zeroed, widen(plain)) == 0.0);                 // zero biases change nothing
  CHECK(max_diff(biased, reference_logits(cb, t, token)) < 1e-4);  // the biases, as the reference applies them
  CHECK(max_diff(plain, reference_logits(cn, none, token)) < 1e-4);
  CHECK(max_diff(biased, widen(plain)) > 1e-2);  // and they matter
  fs::remove_all(dir);
}

TEST_CASE("NaN logits stop generate naming the step, the sequence and the rank (greedy and sampled)") {
  const fs::path dir = fs::temp_directory_path() / "autodist_nan_logits_test";
  fs::remove_all(dir);
  const json cfg = llama_config(false);
  write_synthetic_checkpoint({"nan", cfg}, (dir / "synth").string(), DType::F32, 5);
  Tensors t = read_all((dir / "synth").string());
  const ModelConfig c = parse_model_config(cfg.dump(), "nan");
  const std::vector<int32_t> prompt = {1, 2, 3};
  // An infinite final norm weight: logits are +-inf or NaN from the prefill on.
  Tensors inf = t;
  inf.at("model.norm.weight")[0] = INFINITY;
  write_model((dir / "prefill").string(), cfg, inf, c);
  for (float temperature : {0.0f, 0.8f}) {
    INFO("temperature ", temperature);
    GenerateOptions go;
    go.max_output = go.min_output = 4;
    go.stop_at_eos = false;
    go.sampling.temperature = temperature;
    // The embedding row of the first token generated is NaN: the prefill is clean, decode step 1 is not.
    const int32_t first = OneRank((dir / "synth").string()).eng->generate({prompt}, go).seqs[0].output[0];
    REQUIRE(std::find(prompt.begin(), prompt.end(), first) == prompt.end());
    Tensors poisoned = t;
    auto& emb = poisoned.at("model.embed_tokens.weight");
    std::fill(emb.begin() + first * c.hidden, emb.begin() + (first + 1) * c.hidden, NAN);
    write_model((dir / "decode").string(), cfg, poisoned, c);
    OneRank decode((dir / "decode").string());
    CHECK_THROWS_WITH_AS(decode.eng->generate({prompt}, go),
                         doctest::Contains("rank 0: the logits of decode step 1 (sequence 0, position 4) are NaN or "
                                           "infinite"),
                         Error);
    OneRank pre((dir / "prefill").string());
    CHECK_THROWS_WITH_AS(pre.eng->generate({prompt, {7}}, go),
                         doctest::Contains("rank 0: the logits of the prefill (step 0) (sequence 0, position 3)"), Error);
  }
  fs::remove_all(dir);
}
