#include "model/synth.h"

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/file.h"
#include "io/safetensors.h"
#include "model/family.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace autodist {

namespace {

// A Llama-family config.json from its shapes.
json llama(const char* arch, const char* type, int64_t hidden, int64_t layers, int64_t heads, int64_t kv_heads,
           int64_t head_dim, int64_t inter, int64_t vocab, int64_t max_pos, double theta, double eps, bool tie,
           std::vector<int64_t> eos) {
  return {{"architectures", {arch}}, {"model_type", type},           {"hidden_size", hidden},
          {"num_hidden_layers", layers}, {"num_attention_heads", heads}, {"num_key_value_heads", kv_heads},
          {"head_dim", head_dim},    {"intermediate_size", inter},   {"vocab_size", vocab},
          {"max_position_embeddings", max_pos}, {"rms_norm_eps", eps}, {"rope_theta", theta},
          {"hidden_act", "silu"},    {"tie_word_embeddings", tie},   {"eos_token_id", eos},
          {"use_sliding_window", false}};
}

json gpt2(int64_t embd, int64_t layers, int64_t heads) {
  return {{"architectures", {"GPT2LMHeadModel"}}, {"model_type", "gpt2"}, {"n_embd", embd}, {"n_layer", layers},
          {"n_head", heads}, {"n_inner", nullptr}, {"n_positions", 1024}, {"vocab_size", 50257},
          {"activation_function", "gelu_new"}, {"layer_norm_epsilon", 1e-5}, {"bos_token_id", 50256},
          {"eos_token_id", 50256}, {"scale_attn_weights", true}, {"tie_word_embeddings", true}};
}

json opt(int64_t hidden, int64_t layers, int64_t heads, int64_t ffn) {
  return {{"architectures", {"OPTForCausalLM"}}, {"model_type", "opt"}, {"hidden_size", hidden},
          {"num_hidden_layers", layers}, {"num_attention_heads", heads}, {"ffn_dim", ffn},
          {"max_position_embeddings", 2048}, {"vocab_size", 50272}, {"activation_function", "relu"},
          {"do_layer_norm_before", true}, {"word_embed_proj_dim", hidden}, {"enable_bias", true},
          {"layer_norm_elementwise_affine", true}, {"bos_token_id", 2}, {"eos_token_id", 2}, {"pad_token_id", 1},
          {"tie_word_embeddings", true}};
}

// xorshift64*: fast and seeded; values only need the right scale, not quality.
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull + 1) {}
  float uniform() {  // [-1, 1)
    s ^= s >> 12, s ^= s << 25, s ^= s >> 27;
    return static_cast<float>((s * 0x2545F4914F6CDD1Dull) >> 40) * (2.0f / 16777216.0f) - 1.0f;
  }
};

}  // namespace

const std::vector<SynthPreset>& synth_presets() {
  // Shapes from the Hub configs (tests/data/hub_configs); "tiny" keeps the real Qwen3 vocabulary.
  static const std::vector<SynthPreset> p = {
      {"tiny", llama("Qwen3ForCausalLM", "qwen3", 64, 2, 4, 2, 16, 128, 151936, 4096, 1e6, 1e-6, true, {151645, 151643})},
      {"qwen3-0.6b", llama("Qwen3ForCausalLM", "qwen3", 1024, 28, 16, 8, 128, 3072, 151936, 40960, 1e6, 1e-6, true, {151645, 151643})},
      {"qwen3-4b", llama("Qwen3ForCausalLM", "qwen3", 2560, 36, 32, 8, 128, 9728, 151936, 40960, 1e6, 1e-6, true, {151645, 151643})},
      {"qwen3-8b", llama("Qwen3ForCausalLM", "qwen3", 4096, 36, 32, 8, 128, 12288, 151936, 40960, 1e6, 1e-6, false, {151645, 151643})},
      {"qwen2.5-0.5b", llama("Qwen2ForCausalLM", "qwen2", 896, 24, 14, 2, 64, 4864, 151936, 32768, 1e6, 1e-6, true, {151645, 151643})},
      {"qwen2.5-7b", llama("Qwen2ForCausalLM", "qwen2", 3584, 28, 28, 4, 128, 18944, 152064, 32768, 1e6, 1e-6, false, {151645, 151643})},
      {"llama-3.1-8b", llama("LlamaForCausalLM", "llama", 4096, 32, 32, 8, 128, 14336, 128256, 131072, 5e5, 1e-5, false, {128001, 128008, 128009})},
      {"llama-3.1-70b", llama("LlamaForCausalLM", "llama", 8192, 80, 64, 8, 128, 28672, 128256, 131072, 5e5, 1e-5, false, {128001, 128008, 128009})},
      {"mistral-7b", llama("MistralForCausalLM", "mistral", 4096, 32, 32, 8, 128, 14336, 32000, 32768, 1e4, 1e-5, false, {2})},
      {"gpt2", gpt2(768, 12, 12)},  // 124M
      {"gpt2-xl", gpt2(1600, 48, 25)},
      {"opt-1.3b", opt(2048, 24, 32, 8192)},
      {"opt-6.7b", opt(4096, 32, 32, 16384)},
  };
  return p;
}

const SynthPreset& find_preset(const std::string& name) {
  std::string names;
  for (auto& s : synth_presets()) {
    if (s.name == name) return s;
    names += (names.empty() ? "" : ", ") + s.name;
  }
  AD_FAIL("unknown synth preset '{}' (presets: {})", name, names);
}

SynthPreset preset_from_config(const std::string& path) {
  const std::string text = read_regular_file(path);
  parse_model_config(text, path);  // refuses what the engine cannot run, naming the key
  return {fs::path(path).stem().string(), json::parse(text)};
}

ModelConfig write_synthetic_config(const SynthPreset& preset, const std::string& dir, DType dtype, uint64_t seed) {
  AD_CHECK(dtype == DType::F32 || dtype == DType::BF16 || dtype == DType::F16, "synth: dtype {} is not a float type",
           dtype_name(dtype));
  std::error_code ec;
  fs::create_directories(dir, ec);
  AD_CHECK(!ec, "cannot create '{}': {}", dir, ec.message());
  json cfg = preset.config;
  cfg.erase("dtype");
  cfg["torch_dtype"] = dtype == DType::F32 ? "float32" : dtype == DType::BF16 ? "bfloat16" : "float16";
  cfg["autodist_synthetic"] = {{"preset", preset.name}, {"seed", seed}};
  const ModelConfig c = parse_model_config(cfg.dump(), preset.name);
  std::ofstream(fs::path(dir) / "config.json") << cfg.dump(2) << "\n";
  std::ofstream(fs::path(dir) / "generation_config.json") << json({{"eos_token_id", c.eos_ids}}).dump(2) << "\n";
  return c;
}

SynthReport write_synthetic_checkpoint(const SynthPreset& preset, const std::string& dir, DType dtype, uint64_t seed) {
  const ModelConfig c = write_synthetic_config(preset, dir, dtype, seed);

  const auto ts = checkpoint_tensors(c);
  json h = json::object();
  h["__metadata__"] = {{"format", "pt"}, {"autodist_synth", preset.name}};
  size_t off = 0, es = dtype_size(dtype);
  for (auto& t : ts) {
    size_t n = 1;
    for (auto d : t.shape) n *= static_cast<size_t>(d);
    h[t.name] = {{"dtype", safetensors_name(dtype)}, {"shape", t.shape}, {"data_offsets", {off, off + n * es}}};
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
  const float w = 0.02f * 1.7320508f;  // uniform with std 0.02
  std::vector<float> buf;
  std::vector<uint8_t> out;
  for (auto& t : ts) {
    size_t n = 1;
    for (auto d : t.shape) n *= static_cast<size_t>(d);
    const float center = t.kind == CheckpointTensor::NormWeight ? 1.0f : 0.0f;
    const float scale = t.kind == CheckpointTensor::NormWeight ? 0.1f : w;
    // Stream in blocks so even an 8B model never sits in memory whole.
    for (size_t done = 0; done < n;) {
      size_t m = std::min<size_t>(n - done, 1 << 22);
      buf.resize(m);
      out.resize(m * es);
      for (size_t i = 0; i < m; ++i) buf[i] = center + scale * rng.uniform();
      convert_from_f32(buf.data(), dtype, out.data(), m);
      f.write(reinterpret_cast<const char*>(out.data()), static_cast<std::streamsize>(out.size()));
      done += m;
    }
  }
  f.close();
  AD_CHECK(f.good(), "error writing {} (disk full?)", tmp.string());
  fs::rename(tmp, fs::path(dir) / "model.safetensors");
  return {8 + hs.size() + off, c.n_layers, c.hidden, c.vocab};
}

}  // namespace autodist
