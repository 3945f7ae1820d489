// The roofline profile (perf/roofline.h) against times worked out by hand for a device of round figures.
#include <doctest/doctest.h>

#include "core/error.h"
#include "model/family.h"
#include "perf/roofline.h"

using namespace autodist;
using namespace autodist::perf;

namespace {
// hidden 64, 4 q heads / 2 kv heads of 16, MLP 128, vocab 64: qkv N = (4 + 2 x 2) x 16 = 128, K = 64.
ModelConfig small() {
  return parse_model_config(R"({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
    "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
    "head_dim": 16, "vocab_size": 64, "max_position_embeddings": 512, "rms_norm_eps": 1e-6,
    "hidden_act": "silu", "tie_word_embeddings": false})",
                            "small/config.json");
}
// 1 TFLOP/s and 1 GB/s usable (efficiencies 1), 10 us per kernel.
DeviceSpec round_device() { return {"round", 1, 1, 16, 1.0, 1.0, 10}; }
}  // namespace

TEST_CASE("perf roofline: GEMMs are the larger of FLOPs over the peak and bytes over the bandwidth, plus launch") {
  ProfileOptions o;
  o.weight_dtype = DType::BF16;
  o.batches = {1};
  o.lengths = {4096};
  o.max_gemm_rows = 4096;
  o.max_tp = 1;
  const Profile p = roofline_profile(small(), o, round_device());
  CHECK(p.backend == "roofline:round");
  CHECK(p.dtype == "bf16");
  // qkv 128 x 64, M = 1: bytes 128*64*2 + 1*(128+64)*2 = 16768 -> 16.768 us; FLOPs 16384 -> 0.016 us.
  CHECK(p.gemm(1, 128, 64) == doctest::Approx(10e-6 + 16768e-9));
  // M = 4096: FLOPs 2*4096*128*64 = 67.1e6 -> 67.1 us; bytes 16384 + 4096*192*2 = 1589248 -> 1589 us: memory bound.
  CHECK(p.gemm(4096, 128, 64) == doctest::Approx(10e-6 + 1589248e-9));
  // Decode attention: 1 row, 100 keys, 4 heads of 16: K and V of 100 x 16 at 2 bytes, over a group of 2 q heads.
  CHECK(p.attention(99, 1, 4, 16) == doctest::Approx(4 * 100 * 16 * 2.0 * 2 / 2 * 1e-9));
  // Elementwise: rmsnorm of 64 elements moves 6 bytes each.
  CHECK(p.op("rmsnorm", 64) == doctest::Approx(10e-6 + 384e-9));
  CHECK(p.contention(2, true) == doctest::Approx(1.0));
}

TEST_CASE("perf roofline: device presets and bad figures") {
  CHECK(device_spec("h100-sxm").peak_tflops == doctest::Approx(989));
  CHECK(device_spec("h200").mem_gbps == doctest::Approx(4800));
  CHECK_THROWS_WITH_AS(device_spec("tpu"), doctest::Contains("unknown device 'tpu'"), Error);
  ProfileOptions o;
  DeviceSpec d = round_device();
  d.mem_efficiency = 1.5;
  CHECK_THROWS_WITH_AS(roofline_profile(small(), o, d), doctest::Contains("efficiencies must be in (0, 1]"), Error);
  d = round_device();
  d.peak_tflops = 0;
  CHECK_THROWS_WITH_AS(roofline_profile(small(), o, d), doctest::Contains("must be > 0"), Error);
}
