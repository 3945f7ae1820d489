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
  std::vector<int64_t> gi64(2);
  std::vector<int32_t> gi32(3);
  f.read(*f.find("b.i64"), 0, 2, DType::I64, gi64.data());
  f.read(*f.find("b.i32"), 0, 3, DType::I32, gi32.data());
  CHECK(gi64 == i64);
  CHECK(gi32 == i32);
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

// The text contains the substring (the text is printed when it does not).
#define CHECK_HAS(text, sub)                       \
  do {                                             \
    const std::string text_ = (text);              \
    CAPTURE(text_);                                \
    CHECK(text_.find(sub) != std::string::npos);   \
  } while (0)

namespace {
// A file of `data` bytes (zeros) after the header text (padded to 8 bytes, as the library writes it).
std::string st_file(std::string hdr, size_t data) {
  while (hdr.size() % 8) hdr.push_back(' ');
  uint64_t n = hdr.size();
  return std::string(reinterpret_cast<const char*>(&n), 8) + hdr + std::string(data, '\0');
}
std::string st_error(const fs::path& d, const std::string& name, const std::string& bytes) {
  std::ofstream(d / name, std::ios::binary) << bytes;
  try {
    io::SafetensorsFile f((d / name).string());
  } catch (const Error& e) {
    return e.what();
  }
  return "accepted";
}
}  // namespace

TEST_CASE("safetensors headers the library rejects are rejected, naming the file, tensor and rule") {
  fs::path d = tmpdir("reject");
  auto t = [](const std::string& name, const std::string& dtype, const std::string& shape, const std::string& off) {
    return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":" + off + "}";
  };
  const std::string a = t("a", "F32", "[2]", "[0,8]"), b = t("b", "F32", "[2]", "[8,16]");
  CHECK(st_error(d, "ok", st_file("{" + a + "," + b + "}", 16)) == "accepted");
  // overlap, a duplicated range, a gap, bytes after the last tensor
  CHECK_HAS(st_error(d, "overlap", st_file("{" + t("a", "F32", "[4]", "[0,16]") + "," + t("b", "F32", "[2]", "[8,16]") + "}", 16)), "'b' [8, 16) overlaps tensor 'a' [0, 16)");
  CHECK_HAS(st_error(d, "same", st_file("{" + a + "," + t("b", "F32", "[2]", "[0,8]") + "}", 8)), "overlaps");
  CHECK_HAS(st_error(d, "gap", st_file("{" + a + "," + t("b", "F32", "[2]", "[12,20]") + "}", 20)), "4 unused bytes [8, 12) before tensor 'b'");
  CHECK_HAS(st_error(d, "trailing", st_file("{" + a + "," + b + "}", 24)), "tensors end at 16 (8 trailing bytes)");
  // alignment, overflow, offsets that are not non-negative integers, shapes, dtypes
  CHECK_HAS(st_error(d, "align", st_file("{" + t("h", "BF16", "[1]", "[0,2]") + "," + t("f", "F32", "[1]", "[2,6]") + "}", 6)), "tensor 'f' starts at data offset 2, not a multiple of its 4-byte f32 elements");
  CHECK_HAS(st_error(d, "overflow", st_file("{" + t("a", "F32", "[4294967296,4294967296]", "[0,0]") + "}", 0)), "tensor 'a': its shape's byte count overflows 64 bits");
  CHECK_HAS(st_error(d, "overflow2", st_file("{" + t("a", "F32", "[4611686018427387904]", "[0,0]") + "}", 0)), "overflows");
  CHECK_HAS(st_error(d, "float", st_file("{" + t("a", "F32", "[2]", "[0,8.0]") + "}", 8)), "two non-negative integers");
  CHECK_HAS(st_error(d, "negoff", st_file("{" + t("a", "F32", "[2]", "[-8,0]") + "}", 8)), "two non-negative integers");
  CHECK_HAS(st_error(d, "negdim", st_file("{" + t("a", "F32", "[-2]", "[0,0]") + "}", 0)), "dimensions must be non-negative integers");
  CHECK_HAS(st_error(d, "floatdim", st_file("{" + t("a", "F32", "[2.5]", "[0,8]") + "}", 8)), "dimensions must be non-negative integers");
  CHECK_HAS(st_error(d, "dtype", st_file("{" + t("a", "F8_E4M3", "[2]", "[0,2]") + "}", 2)), "tensor 'a': unsupported safetensors dtype 'F8_E4M3'");
  // duplicate names (JSON parsers keep the last one), not an object, a header length past the limit
  CHECK_HAS(st_error(d, "dup", st_file("{" + a + "," + t("a", "F32", "[2]", "[8,16]") + "}", 16)), "safetensors header names 'a' twice");
  CHECK_HAS(st_error(d, "array", st_file("[1,2]", 0)), "is not a JSON object");
  std::string big = st_file("{}", 0);
  uint64_t n = 100'000'001;
  std::memcpy(big.data(), &n, 8);
  big += std::string(n, ' ');
  CHECK_HAS(st_error(d, "big", big), "over the 100000000 bytes");
  CHECK(st_error(d, "empty_ok", st_file("{" + t("e", "F32", "[0,3]", "[0,0]") + "," + a + "}", 8)) == "accepted");
  fs::remove_all(d);
}

TEST_CASE("sharded index: plain file names of the model directory, tensors in the file named") {
  fs::path d = tmpdir("index");
  const std::string a = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
  std::ofstream(d / "s1.safetensors", std::ios::binary) << st_file(a, 8);
  auto index = [&](const std::string& map) {
    std::ofstream(d / "model.safetensors.index.json") << "{\"weight_map\":{" + map + "}}";
    try {
      io::Checkpoint ck(d.string());
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  CHECK(index("\"a\":\"s1.safetensors\"") == "accepted");
  CHECK_HAS(index("\"a\":\"../s1.safetensors\""), "expected a plain file name");
  CHECK_HAS(index("\"a\":\"/etc/passwd\""), "expected a plain file name");
  CHECK_HAS(index("\"a\":\"..\""), "expected a plain file name");
  CHECK_HAS(index("\"a\":3"), "expected a shard file name");
  CHECK_HAS(index("\"a\":\"s2.safetensors\""), "which does not exist");
  CHECK_HAS(index("\"a\":\"s1.safetensors\",\"b\":\"s1.safetensors\""), "maps 'b' to s1.safetensors, which does not hold it");
  CHECK_HAS(index("\"a\":\"s1.safetensors\",\"a\":\"s1.safetensors\""), "names 'a' twice");
  fs::remove_all(d);
}

TEST_CASE("a checkpoint truncated while it is being read: a clear error, no SIGBUS") {
  fs::path d = tmpdir("shrink");
  std::vector<float> v(256 * 256, 1.5f);
  io::write_safetensors((d / "model.safetensors").string(),
                        {{"a", Tensor(v.data(), DType::F32, {256, 256})}, {"b", Tensor(v.data(), DType::F32, {256, 256})}});
  io::Checkpoint ck(d.string());  // opened and validated at full size
  std::vector<float> out(v.size());
  ck.read_f32("a", io::Slice::all(), out.data());
  CHECK(out == v);
  fs::resize_file(d / "model.safetensors", 4096);  // the file shrinks under the open checkpoint
  const std::string f = (d / "model.safetensors").string();
  CHECK_THROWS_WITH_AS(ck.read_f32("b", io::Slice::all(), out.data()),
                       doctest::Contains((f + ": expected 262144 bytes at offset ").c_str()), Error);
  CHECK_THROWS_WITH_AS(ck.read_f32("b", io::Slice::rows(1, 2), out.data()),
                       doctest::Contains("read 0: file truncated while loading?"), Error);
  CHECK_THROWS_WITH_AS(ck.read_f32("a", io::Slice::cols(0, 3), out.data()), doctest::Contains("file truncated"), Error);
  fs::remove_all(d);
}
