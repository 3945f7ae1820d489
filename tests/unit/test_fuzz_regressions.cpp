// Inputs the fuzz targets (tests/fuzz) found crashing, fed to the same public APIs in the g++ build: each must be
// refused with an autodist::Error naming the file and what is wrong. The inputs are tests/fuzz/regressions/<target>/,
// which scripts/fuzz.sh also replays through the fuzz binaries.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "cli/sweep_spec.h"
#include "core/error.h"
#include "io/safetensors.h"
#include "model/family.h"

using namespace autodist;

namespace {

const std::string kRegressions = std::string(AUTODIST_SOURCE_DIR) + "/tests/fuzz/regressions";

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("fuzz regression: a sweep YAML key or name that is null, a list or a map is refused naming the line") {
  const std::string found = kRegressions + "/fuzz_sweep_yaml/name_map_of_null.yaml";  // "name:\n: 1\n" (the fuzzer's)
  CHECK(error_of([&] { cli::load_sweep(found); }) == found + ":2: 'name' must be a single value, got a map");
  const std::string null_key = kRegressions + "/fuzz_sweep_yaml/null_key.yaml";  // ~: 1
  CHECK(error_of([&] { cli::load_sweep(null_key); }) == null_key + ":2: a key must be a single value, got a null");
  const std::string map_name = kRegressions + "/fuzz_sweep_yaml/map_name.yaml";  // name: {a: 1}
  CHECK(error_of([&] { cli::load_sweep(map_name); }) == map_name + ":1: 'name' must be a single value, got a map");
  const std::string list_key = kRegressions + "/fuzz_sweep_yaml/list_grid_key.yaml";  // grid: {[tp]: [1]}
  CHECK(error_of([&] { cli::load_sweep(list_key); }) ==
        list_key + ":2: a key of 'grid' must be a single value, got a list");
}

TEST_CASE("fuzz regression: a safetensors index whose weight_map value is not a file name is refused naming it") {
  // The fuzzer's input (tests/fuzz/regressions/fuzz_safetensors_index/shard_name_not_a_string) maps a tensor to a
  // list; the json type error escaped Checkpoint as an "internal error".
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / "autodist_fuzz_regression_index";
  fs::create_directories(dir);
  std::ofstream(dir / "model.safetensors.index.json") << R"({"weight_map": {"model.norm.weight": ["a.safetensors"]}})";
  CHECK(error_of([&] { io::Checkpoint ck(dir.string()); }) ==
        (dir / "model.safetensors.index.json").string() +
            ": weight_map maps 'model.norm.weight' to [\"a.safetensors\"], expected a shard file name (a string)");
  fs::remove_all(dir);
}

TEST_CASE("fuzz regression: a safetensors index naming a shard longer than the system allows is refused naming it") {
  // The fuzzer's input (regressions/fuzz_safetensors_index/shard_name_too_long) names a 300-character shard:
  // std::filesystem::exists threw "File name too long" past every error handler.
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / "autodist_fuzz_regression_long_shard";
  fs::create_directories(dir);
  const std::string shard = "model-" + std::string(300, 'g') + ".safetensors";
  std::ofstream(dir / "model.safetensors.index.json") << R"({"weight_map": {"model.norm.weight": ")" << shard << R"("}})";
  CHECK(error_of([&] { io::Checkpoint ck(dir.string()); }) ==
        (dir / "model.safetensors.index.json").string() + " names shard '" + (dir / shard).string() +
            "' which does not exist (File name too long)");
  fs::remove_all(dir);
}

TEST_CASE("fuzz regression: a config with a billion layers is refused before its tensors are listed") {
  // The fuzzer's input (regressions/fuzz_config/billion_layers.json, its essence) passed the parameter bound (a
  // billion layers of the default width) and checkpoint_tensors then enumerated a billion layers: a timeout.
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / "autodist_fuzz_regression_layers";
  fs::create_directories(dir);
  fs::copy_file(kRegressions + "/fuzz_config/billion_layers.json", dir / "config.json",
                fs::copy_options::overwrite_existing);
  const std::string e = error_of([&] { load_model_config(dir.string()); });
  CHECK_MESSAGE(e.find("layers must be from 1 to 65536") != std::string::npos, e);
  fs::remove_all(dir);
}
