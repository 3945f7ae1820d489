#include "io/synth.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/log.h"
#include "io/model_config.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace autodist::io {

const std::vector<SynthSpec>& synth_presets() {
  // Shapes from the Hub configs (tests/data/hub_configs); "tiny" keeps the real Qwen3 vocabulary.
  static const std::vector<SynthSpec> p = {
      {"tiny", "Qwen3ForCausalLM", "qwen3", 64, 2, 4, 2, 16, 128, 151936, 4096, 1e6, 1e-6, true, {151645, 151643}},
      {"qwen3-0.6b", "Qwen3ForCausalLM", "qwen3", 1024, 28, 16, 8, 128, 3072, 151936, 40960, 1e6, 1e-6, true, {151645, 151643}},
      {"qwen3-4b", "Qwen3ForCausalLM", "qwen3", 2560, 36, 32, 8, 128, 9728, 151936, 40960, 1e6, 1e-6, true, {151645, 151643}},
      {"qwen3-8b", "Qwen3ForCausalLM", "qwen3", 4096, 36, 32, 8, 128, 12288, 151936, 40960, 1e6, 1e-6, false, {151645, 151643}},
      {"qwen2.5-0.5b", "Qwen2ForCausalLM", "qwen2", 896, 24, 14, 2, 64, 4864, 151936, 32768, 1e6, 1e-6, true, {151645, 151643}},
      {"qwen2.5-7b", "Qwen2ForCausalLM", "qwen2", 3584, 28, 28, 4, 128, 18944, 152064, 32768, 1e6, 1e-6, false, {151645, 151643}},
      {"llama-3.1-8b", "LlamaForCausalLM", "llama", 4096, 32, 32, 8, 128, 14336, 128256, 131072, 5e5, 1e-5, false, {128001, 128008, 128009}},
      {"mistral-7b", "MistralForCausalLM", "mistral", 4096, 32, 32, 8, 128, 14336, 32000, 32768, 1e4, 1e-5, false, {2}},
  };
  return p;
}

const SynthSpec& find_preset(const std::string& name) {
  std::string names;
  for (auto& s : synth_presets()) {
    if (s.name == name) return s;
    names += (names.empty() ? "" : ", ") + s.name;
  }
  AD_FAIL("unknown synth preset '{}' (presets: {})", name, names);
}

SynthSpec spec_from_config(const std::string& path) {
  std::ifstream f(path);
  AD_CHECK(f.good(), "cannot open {}", path);
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  ModelConfig c = parse_model_config(text, path);
  return {fs::path(path).stem().string(), c.architecture, c.model_type, c.hidden, c.n_layers, c.n_heads,
          c.n_kv_heads, c.head_dim, c.intermediate, c.vocab, c.max_position, c.rope.theta, c.norm_eps,
          c.tie_embeddings, c.eos_ids};
}

namespace {

// xorshift64*: fast and seeded; values only need the right scale, not quality.
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull + 1) {}
  float uniform() {  // [-1, 1)
    s ^= s >> 12, s ^= s << 25, s ^= s >> 27;
    return static_cast<float>((s * 0x2545F4914F6CDD1Dull) >> 40) * (2.0f / 16777216.0f) - 1.0f;
  }
};

struct WSpec {
  std::string name;
  std::vector<int64_t> shape;
  float center, scale;  // value = center + scale * U(-1, 1)
};

std::vector<WSpec> weight_list(const SynthSpec& s) {
  const float w = 0.02f * 1.7320508f;  // uniform with std 0.02
  std::vector<WSpec> v;
  v.push_back({"model.embed_tokens.weight", {s.vocab, s.hidden}, 0, w});
  bool qwen2 = s.architecture == "Qwen2ForCausalLM", qwen3 = s.architecture == "Qwen3ForCausalLM";
  for (int64_t l = 0; l < s.layers; ++l) {
    std::string p = "model.layers." + std::to_string(l) + ".";
    v.push_back({p + "input_layernorm.weight", {s.hidden}, 1, 0.1f});
    v.push_back({p + "self_attn.q_proj.weight", {s.heads * s.head_dim, s.hidden}, 0, w});
    v.push_back({p + "self_attn.k_proj.weight", {s.kv_heads * s.head_dim, s.hidden}, 0, w});
    v.push_back({p + "self_attn.v_proj.weight", {s.kv_heads * s.head_dim, s.hidden}, 0, w});
    if (qwen2) {
      v.push_back({p + "self_attn.q_proj.bias", {s.heads * s.head_dim}, 0, w});
      v.push_back({p + "self_attn.k_proj.bias", {s.kv_heads * s.head_dim}, 0, w});
      v.push_back({p + "self_attn.v_proj.bias", {s.kv_heads * s.head_dim}, 0, w});
    }
    if (qwen3) {
      v.push_back({p + "self_attn.q_norm.weight", {s.head_dim}, 1, 0.1f});
      v.push_back({p + "self_attn.k_norm.weight", {s.head_dim}, 1, 0.1f});
    }
    v.push_back({p + "self_attn.o_proj.weight", {s.hidden, s.heads * s.head_dim}, 0, w});
    v.push_back({p + "post_attention_layernorm.weight", {s.hidden}, 1, 0.1f});
    v.push_back({p + "mlp.gate_proj.weight", {s.intermediate, s.hidden}, 0, w});
    v.push_back({p + "mlp.up_proj.weight", {s.intermediate, s.hidden}, 0, w});
    v.push_back({p + "mlp.down_proj.weight", {s.hidden, s.intermediate}, 0, w});
  }
  v.push_back({"model.norm.weight", {s.hidden}, 1, 0.1f});
  if (!s.tie_embeddings) v.push_back({"lm_head.weight", {s.vocab, s.hidden}, 0, w});
  return v;
}

}  // namespace

size_t write_synthetic_checkpoint(const SynthSpec& s, const std::string& dir, DType dtype, uint64_t seed) {
  AD_CHECK(dtype == DType::F32 || dtype == DType::BF16 || dtype == DType::F16, "synth: dtype {} is not a float type",
           dtype_name(dtype));
  std::error_code ec;
  fs::create_directories(dir, ec);
  AD_CHECK(!ec, "cannot create '{}': {}", dir, ec.message());
  const char* tname = dtype == DType::F32 ? "float32" : dtype == DType::BF16 ? "bfloat16" : "float16";
  json cfg = {{"architectures", {s.architecture}},
              {"model_type", s.model_type},
              {"hidden_size", s.hidden},
              {"num_hidden_layers", s.layers},
              {"num_attention_heads", s.heads},
              {"num_key_value_heads", s.kv_heads},
              {"head_dim", s.head_dim},
              {"intermediate_size", s.intermediate},
              {"vocab_size", s.vocab},
              {"max_position_embeddings", s.max_position},
              {"rms_norm_eps", s.norm_eps},
              {"rope_theta", s.rope_theta},
              {"hidden_act", "silu"},
              {"tie_word_embeddings", s.tie_embeddings},
              {"torch_dtype", tname},
              {"eos_token_id", s.eos_ids},
              {"use_sliding_window", false},
              {"autodist_synthetic", {{"preset", s.name}, {"seed", seed}}}};
  std::ofstream(fs::path(dir) / "config.json") << cfg.dump(2) << "\n";
  std::ofstream(fs::path(dir) / "generation_config.json") << json({{"eos_token_id", s.eos_ids}}).dump(2) << "\n";

  auto ws = weight_list(s);
  json h = json::object();
  h["__metadata__"] = {{"format", "pt"}, {"autodist_synth", s.name}};
  size_t off = 0, es = dtype_size(dtype);
  for (auto& w : ws) {
    size_t n = 1;
    for (auto d : w.shape) n *= static_cast<size_t>(d);
    h[w.name] = {{"dtype", safetensors_name(dtype)}, {"shape", w.shape}, {"data_offsets", {off, off + n * es}}};
    off += n * es;
  }
  std::string hs = h.dump();
  while ((hs.size() + 8) % 8) hs.push_back(' ');
  fs::path tmp = fs::path(dir) / "model.safetensors.tmp";
  std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
  AD_CHECK(f.good(), "cannot write {}", tmp.string());
  uint64_t hlen = hs.size();
  f.write(reinterpret_cast<const char*>(&hlen), 8);
  f.write(hs.data(), static_cast<std::streamsize>(hs.size()));
  Rng rng(seed);
  std::vector<float> buf;
  std::vector<uint8_t> out;
  for (auto& w : ws) {
    size_t n = 1;
    for (auto d : w.shape) n *= static_cast<size_t>(d);
    // Stream in blocks so even an 8B model never sits in memory whole.
    for (size_t done = 0; done < n;) {
      size_t m = std::min<size_t>(n - done, 1 << 22);
      buf.resize(m);
      out.resize(m * es);
      for (size_t i = 0; i < m; ++i) buf[i] = w.center + w.scale * rng.uniform();
      convert_from_f32(buf.data(), dtype, out.data(), m);
      f.write(reinterpret_cast<const char*>(out.data()), static_cast<std::streamsize>(out.size()));
      done += m;
    }
  }
  f.close();
  AD_CHECK(f.good(), "error writing {} (disk full?)", tmp.string());
  fs::rename(tmp, fs::path(dir) / "model.safetensors");
  return 8 + hs.size() + off;
}

}  // namespace autodist::io
