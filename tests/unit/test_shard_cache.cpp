// io/shard_cache: the identity of a model (real path + content fingerprint) and the manifest check.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "io/safetensors.h"
#include "io/shard_cache.h"
#include "test_files.h"

using namespace autodist;
namespace fs = std::filesystem;

namespace {

// DIR/config.json and DIR/model.safetensors with 3 MiB of weights drawn from `seed`.
void write_model(const fs::path& dir, unsigned seed) {
  fs::create_directories(dir);
  std::ofstream(dir / "config.json") << R"({"model_type": "qwen2"})";
  std::vector<float> w(3 << 18);
  std::mt19937 rng(seed);
  for (auto& x : w) x = static_cast<float>(rng()) / 4e9f;
  io::write_safetensors((dir / "model.safetensors").string(), {{"w", Tensor(w.data(), DType::F32, {3 << 18})}});
}

// Gives every file of `to` the modification time of the same file in `from`.
void same_times(const fs::path& from, const fs::path& to) {
  for (auto& e : fs::directory_iterator(from)) fs::last_write_time(to / e.path().filename(), e.last_write_time());
}

}  // namespace

TEST_CASE("shard cache: models with the same name, sizes and mtimes but other weights get other fingerprints") {
  test::TempDir t("fingerprint");
  const fs::path& d = t.dir;
  write_model(d / "a" / "model", 1);
  write_model(d / "b" / "model", 2);
  same_times(d / "a" / "model", d / "b" / "model");
  const std::string fa = io::model_fingerprint((d / "a" / "model").string());
  CHECK(fa.starts_with("model-"));
  CHECK(fa == io::model_fingerprint((d / "a" / "model/").string()));  // the same directory, spelled otherwise
  CHECK(fa != io::model_fingerprint((d / "b" / "model").string()));

  // Through a symlink: the real path, so the same fingerprint.
  fs::create_directory_symlink(d / "a" / "model", d / "link");
  CHECK(io::model_real_path((d / "link").string()) == fs::canonical(d / "a" / "model").string());
  CHECK(io::model_fingerprint((d / "link").string()) == fa);

  // The same bytes elsewhere (another path and inode) are another entry too: the key is the model's real path.
  fs::create_directories(d / "c");
  fs::copy(d / "a" / "model", d / "c" / "model");
  same_times(d / "a" / "model", d / "c" / "model");
  CHECK(io::model_fingerprint((d / "c" / "model").string()) != fa);
}

TEST_CASE("shard cache: a manifest written for another model is not used") {
  test::TempDir t("manifest_model");
  const fs::path& d = t.dir;
  write_model(d / "a" / "model", 1);
  write_model(d / "b" / "model", 2);
  const std::string cache = (d / "cache").string();
  io::ShardCache ca(cache, (d / "a" / "model").string(), "layout");
  io::ShardCache cb(cache, (d / "b" / "model").string(), "layout");
  CHECK(ca.entry_dir() != cb.entry_dir());
  std::vector<float> x = {1, 2, 3, 4};
  std::vector<io::TensorInfo> infos = {{"x", DType::F32, {4}, 0, 16}};
  {
    io::ShardCache::Writer w(ca, 0, infos, {{"rank", 0}}, {{"model", "a"}});
    w.write(x.data(), 16);
    w.commit();
  }
  auto m = nlohmann::json::parse(std::ifstream(ca.manifest_path(0)));
  CHECK(m["model"] == fs::canonical(d / "a" / "model").string());
  CHECK(m["fingerprint"] == io::model_fingerprint((d / "a" / "model").string()));
  std::string why;
  CHECK(ca.open(0, {{"rank", 0}}, why) != nullptr);
  CHECK(why.empty());

  // b's entry holding a's file and manifest (a fingerprint collision, a copied cache): refused, with the reason.
  fs::create_directories(cb.entry_dir());
  fs::copy_file(ca.data_path(0), cb.data_path(0));
  fs::copy_file(ca.manifest_path(0), cb.manifest_path(0));
  CHECK(cb.open(0, {{"rank", 0}}, why) == nullptr);
  CHECK(why.find("was written for model " + fs::canonical(d / "a" / "model").string()) != std::string::npos);
}
