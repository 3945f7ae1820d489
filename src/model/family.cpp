#include "model/family.h"

#include <filesystem>
#include <set>

#include "core/error.h"
#include "core/json_value.h"
#include "core/file.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace autodist {

extern const Family kLlamaFamily;
extern const Family kGpt2Family;
extern const Family kOptFamily;

std::vector<int64_t> MatrixSource::stored_shape() const {
  return conv1d ? std::vector<int64_t>{in, rows_total} : std::vector<int64_t>{rows_total, in};
}

const std::vector<const Family*>& families() {
  static const std::vector<const Family*> all = {&kLlamaFamily, &kGpt2Family, &kOptFamily};
  return all;
}

const Family& family_for(const std::string& arch, const std::string& path) {
  std::string names;
  for (const Family* f : families())
    for (const std::string& a : f->architectures) {
      if (a == arch) return *f;
      names += (names.empty() ? "" : ", ") + a;
    }
  AD_FAIL("{}: architecture '{}' is not supported (supported: {})", path, arch.empty() ? "<none>" : arch, names);
}

const Family& family_of(const ModelConfig& c) { return family_for(c.architecture, c.architecture); }

ModelConfig parse_model_config(const std::string& text, const std::string& path) {
  json j;
  try {
    j = json::parse(text);
  } catch (const std::exception& e) {
    AD_FAIL("{}: not valid JSON ({})", path, e.what());
  }
  AD_CHECK(j.is_object(), "{}: expected a JSON object", path);
  ModelConfig c;
  const config_json::Keys keys(j, path);
  try {
    if (keys.has("architectures")) {
      const json& a = j["architectures"];
      AD_CHECK(a.is_array(), "{}: architectures: expected a list of names, got {}", path, json_describe(a));
      if (!a.empty()) c.architecture = json_string(a[0], path + ": architectures[0]");
    }
    const Family& f = family_for(c.architecture, path);
    c.family = f.name;
    c.model_type = keys.text_or("model_type", "");
    c.dtype = config_json::parse_dtype_key(j, path);
    f.read_config(j, path, c);
    if (keys.has("eos_token_id")) config_json::add_ids(j["eos_token_id"], c.vocab, keys.what("eos_token_id"), c.eos_ids);
    c.bos_id = keys.int_or("bos_token_id", -1, 0, config_json::kMaxSize);
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
  ModelConfig c = parse_model_config(read_regular_file(p.string()), p.string());
  fs::path g = fs::path(dir) / "generation_config.json";
  if (fs::exists(g)) {
    const std::string text = read_regular_file(g.string());
    try {
      json gj = json::parse(text);
      AD_CHECK(gj.is_object(), "{}: expected a JSON object", g.string());
      if (gj.contains("eos_token_id"))
        config_json::add_ids(gj["eos_token_id"], c.vocab, g.string() + ": eos_token_id", c.eos_ids);
    } catch (const nlohmann::json::exception& e) {
      AD_FAIL("{}: not valid JSON ({})", g.string(), e.what());
    }
  }
  return c;
}

std::vector<CheckpointTensor> checkpoint_tensors(const ModelConfig& c) {
  const Family& f = family_of(c);
  std::vector<CheckpointTensor> out;
  std::set<std::string> seen;
  auto mat = [&](const MatrixSource& m) {
    if (!m.empty() && seen.insert(m.name).second) out.push_back({m.name, m.stored_shape(), CheckpointTensor::Matrix});
  };
  auto vec = [&](const VectorSource& v, CheckpointTensor::Kind k) {
    if (!v.empty() && seen.insert(v.name).second) out.push_back({v.name, {v.total}, k});
  };
  const ModelSources ms = f.model_sources(c);
  mat(ms.embed);
  mat(ms.positions);
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const LayerSources s = f.layer_sources(c, l);
    vec(s.attn_norm, CheckpointTensor::NormWeight);
    vec(s.attn_norm_bias, CheckpointTensor::Bias);
    for (const MatrixSource* m : {&s.q, &s.k, &s.v}) mat(*m);
    for (const VectorSource* v : {&s.q_bias, &s.k_bias, &s.v_bias}) vec(*v, CheckpointTensor::Bias);
    vec(s.q_norm, CheckpointTensor::NormWeight);
    vec(s.k_norm, CheckpointTensor::NormWeight);
    mat(s.o);
    vec(s.o_bias, CheckpointTensor::Bias);
    vec(s.mlp_norm, CheckpointTensor::NormWeight);
    vec(s.mlp_norm_bias, CheckpointTensor::Bias);
    for (const MatrixSource* m : {&s.gate, &s.up}) mat(*m);
    for (const VectorSource* v : {&s.gate_bias, &s.up_bias}) vec(*v, CheckpointTensor::Bias);
    mat(s.down);
    vec(s.down_bias, CheckpointTensor::Bias);
  }
  vec(ms.final_norm, CheckpointTensor::NormWeight);
  vec(ms.final_norm_bias, CheckpointTensor::Bias);
  mat(ms.lm_head);
  return out;
}

}  // namespace autodist
