#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "io/safetensors.h"

using namespace autodist;
namespace fs = std::filesystem;

namespace {
fs::path tmpdir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("autodist_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}
}  // namespace

TEST_CASE("safetensors round trip of every dtype, with slices") {
  fs::path d = tmpdir("st");
  std::vector<float> f32(6 * 5);
  for (size_t i = 0; i < f32.size(); ++i) f32[i] = 0.25f * static_cast<float>(i) - 3.0f;  // exact in bf16/f16
  std::vector<uint16_t> bf(f32.size()), hf(f32.size());
  convert_from_f32(f32.data(), DType::BF16, bf.data(), f32.size());
  convert_from_f32(f32.data(), DType::F16, hf.data(), f32.size());
  std::vector<int32_t> i32 = {1, -2, 3};
  std::vector<int64_t> i64 = {1LL << 40, -5};
  io::write_safetensors((d / "model.safetensors").string(),
                        {{"a.f32", Tensor(f32.data(), DType::F32, {6, 5})},
                         {"a.bf16", Tensor(bf.data(), DType::BF16, {6, 5})},
                         {"a.f16", Tensor(hf.data(), DType::F16, {6, 5})},
                         {"b.i32", Tensor(i32.data(), DType::I32, {3})},
                         {"b.i64", Tensor(i64.data(), DType::I64, {2})}},
                        {{"format", "pt"}});
  io::SafetensorsFile f((d / "model.safetensors").string());
  CHECK(f.metadata().at("format") == "pt");
  CHECK(f.find("b.i64")->dtype == DType::I64);
  CHECK(reinterpret_cast<const int64_t*>(f.data(*f.find("b.i64")))[0] == (1LL << 40));
  CHECK(reinterpret_cast<const int32_t*>(f.data(*f.find("b.i32")))[1] == -2);
  io::Checkpoint ck(d.string());
  for (const char* n : {"a.f32", "a.bf16", "a.f16"}) {
    CAPTURE(n);
    std::vector<float> all(30), rows(10), cols(12);
    ck.read_f32(n, io::Slice::all(), all.data());
    CHECK(all == f32);
    CHECK(ck.slice_shape(n, io::Slice::rows(2, 2)) == std::vector<int64_t>{2, 5});
    ck.read_f32(n, io::Slice::rows(2, 2), rows.data());
    for (int i = 0; i < 10; ++i) CHECK(rows[i] == f32[10 + i]);
    ck.read_f32(n, io::Slice::cols(1, 2), cols.data());
    for (int r = 0; r < 6; ++r)
      for (int c = 0; c < 2; ++c) CHECK(cols[r * 2 + c] == f32[r * 5 + 1 + c]);
  }
  CHECK_THROWS_WITH_AS(ck.slice_shape("a.f32", io::Slice::rows(5, 3)), doctest::Contains("out of range"), Error);
  CHECK_THROWS_WITH_AS(ck.info("nope"), doctest::Contains("'nope' is missing"), Error);
  fs::remove_all(d);
}

TEST_CASE("sharded checkpoint through model.safetensors.index.json") {
  io::Checkpoint ck(std::string(AUTODIST_TEST_DATA) + "/models/qwen2-tiny");
  CHECK(ck.has("lm_head.weight"));
  CHECK(ck.has("model.layers.2.mlp.down_proj.weight"));
  CHECK(ck.info("model.embed_tokens.weight").dtype == DType::BF16);
  CHECK(ck.info("model.embed_tokens.weight").shape == std::vector<int64_t>{1024, 96});
  std::vector<float> row(96);
  ck.read_f32("model.embed_tokens.weight", io::Slice::rows(3, 1), row.data());
  double s = 0;
  for (float v : row) s += std::fabs(v);
  CHECK(s > 0);
}

TEST_CASE("safetensors bad files give clear errors") {
  fs::path d = tmpdir("bad");
  auto write = [&](const std::string& name, const std::string& bytes) {
    std::ofstream(d / name, std::ios::binary) << bytes;
    return (d / name).string();
  };
  CHECK_THROWS_WITH_AS(io::SafetensorsFile(write("short", "abc")), doctest::Contains("truncated"), Error);
  std::string hdr = "{\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}";
  uint64_t n = hdr.size();
  std::string good(reinterpret_cast<const char*>(&n), 8);
  good += hdr + std::string(16, '\0');
  CHECK_NOTHROW(io::SafetensorsFile(write("good", good)));
  CHECK_THROWS_WITH_AS(io::SafetensorsFile(write("trunc", good.substr(0, good.size() - 4))),
                       doctest::Contains("outside the data section"), Error);
  std::string past = good;
  uint64_t big = 1 << 20;
  std::memcpy(past.data(), &big, 8);
  CHECK_THROWS_WITH_AS(io::SafetensorsFile(write("past", past)), doctest::Contains("runs past the end"), Error);
  std::string notjson(reinterpret_cast<const char*>(&n), 8);
  notjson += std::string(hdr.size(), '{') + std::string(16, '\0');
  CHECK_THROWS_WITH_AS(io::SafetensorsFile(write("notjson", notjson)), doctest::Contains("not valid JSON"), Error);
  std::string badshape = good;
  badshape.replace(badshape.find("[4]"), 3, "[5]");
  CHECK_THROWS_WITH_AS(io::SafetensorsFile(write("shape", badshape)), doctest::Contains("needs 20"), Error);
  CHECK_THROWS_WITH_AS(io::Checkpoint((d / "nodir").string()), doctest::Contains("does not exist"), Error);
  CHECK_THROWS_WITH_AS(io::Checkpoint(d.string()), doctest::Contains("no model.safetensors"), Error);
  fs::remove_all(d);
}
