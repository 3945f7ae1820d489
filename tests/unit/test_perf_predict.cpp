// Predictions of the performance model on hand-made profiles whose every time is known: pipeline bubbles and
// micro-batch overlap, the decode loop, memory per rank, plan ranking and the layouts it refuses.
#include <doctest/doctest.h>

#include "core/error.h"
#include "model/family.h"
#include "perf/plan.h"
#include "perf/predict.h"

using namespace autodist;
using namespace autodist::perf;

namespace {

// 4 layers, hidden 64, 4 heads (4 kv) of 16, MLP 128, vocab 64, untied: GEMM N x K per layer 192x64 + 64x64 +
// 256x64 + 64x128 = 40960, head 64x64 = 4096.
ModelConfig tiny() {
  return parse_model_config(R"({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
    "intermediate_size": 128, "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 4,
    "head_dim": 16, "vocab_size": 64, "max_position_embeddings": 512, "rms_norm_eps": 1e-6,
    "hidden_act": "silu", "tie_word_embeddings": false})",
                            "tiny/config.json");
}

// Every GEMM takes M x N x K ns (a flop-rate machine); everything else is free.
Profile flop_profile() {
  Profile p;
  p.model = "tiny";
  p.gemms.push_back({1000, 1000, {{1, 1e-3}, {1000, 1.0}}});  // 1e-9 s per M N K
  for (const char* k : {"rmsnorm", "layernorm", "add", "add_bias", "silu_mul", "activation", "split_qkv", "rope",
                        "kv_append", "embed", "gather_rows", "argmax", "pick"})
    p.ops[k] = {0, 0};
  return p;
}

Workload work(int64_t batch, int64_t prompt_len, int64_t max_output) {
  Workload w;
  w.batch = batch, w.prompt_len = prompt_len, w.max_output = max_output;
  return w;
}

Cluster one_host(int ranks) { return uniform_cluster(1, ranks, 1, 0, 16, 64, Link{0, 1e30}); }

constexpr double kLayer = 40960e-9;  // seconds per row per layer
constexpr double kHead = 4096e-9;    // seconds per output row

}  // namespace

TEST_CASE("perf: pipeline prefill with bubbles, pp 2, one and two micro-batches") {
  const ModelConfig c = tiny();
  const Profile p = flop_profile();
  const Workload w = work(2, 10, 1);
  PerfLayout l;
  l.pp = 2;
  // One micro-batch of 20 rows: stage 0 (2 layers) then stage 1 (2 layers + the head of 2 rows).
  const double f20 = 2 * 20 * kLayer;
  CHECK(predict(c, p, one_host(2), l, w).ttft_s == doctest::Approx(2 * f20 + 2 * kHead));
  // Two micro-batches of 10 rows: f = one stage on one micro-batch; stage 1 finishes m1 at 3f + 2 heads.
  l.micro_batches = 2;
  const double f = 2 * 10 * kLayer;
  CHECK(predict(c, p, one_host(2), l, w).ttft_s == doctest::Approx(3 * f + 2 * kHead));
}

TEST_CASE("perf: pipeline prefill with bubbles, pp 3 with an uneven split and two micro-batches") {
  const ModelConfig c = tiny();
  const Profile p = flop_profile();
  const Workload w = work(2, 10, 1);
  PerfLayout l;
  l.pp = 3, l.micro_batches = 2;  // layers 2, 1, 1
  const double f = 2 * 10 * kLayer;  // stage 0 per micro-batch; stages 1 and 2 take f/2 (+ the head on stage 2)
  // s0: [0, f] [f, 2f]; s1: [f, 1.5f] [2f, 2.5f]; s2: [1.5f, 2f + h] [2.5f, 3f + h]
  CHECK(predict(c, p, one_host(3), l, w).ttft_s == doctest::Approx(3 * f + kHead));
  l.micro_batches = 1;  // one micro-batch of 20 rows: the stages one after the other
  CHECK(predict(c, p, one_host(3), l, w).ttft_s == doctest::Approx(4 * 20 * kLayer + 2 * kHead));
}

TEST_CASE("perf: pipelined decode step is the stages in turn, tensor parallel halves the GEMMs") {
  const ModelConfig c = tiny();
  const Profile p = flop_profile();
  const Workload w = work(1, 10, 5);
  PerfLayout l;
  l.pp = 2;
  const Prediction pp2 = predict(c, p, one_host(2), l, w);
  CHECK(pp2.ttft_s == doctest::Approx(4 * 10 * kLayer + kHead));
  CHECK(pp2.tpot_s == doctest::Approx(4 * kLayer + kHead));  // one row through 4 layers and the head
  CHECK(pp2.tokens_per_s == doctest::Approx(1 / pp2.tpot_s));
  PerfLayout t;
  t.tp = 2;  // every GEMM's N or K halves; the all_reduces are free on this link
  const Prediction tp2 = predict(c, p, one_host(2), t, w);
  CHECK(tp2.tpot_s == doctest::Approx((4 * kLayer + kHead) / 2));
  // A profile whose tp-2 ranks wait 10% of their compute for the slower one (decode size): the step is 10% longer
  // at tp 2 and unchanged at tp 1 and pp 2.
  Profile s = p;
  s.sync_decode = {1.0, 1.1};
  CHECK(predict(c, s, one_host(2), t, w).tpot_s == doctest::Approx(1.1 * (4 * kLayer + kHead) / 2));
  CHECK(predict(c, s, one_host(2), l, w).tpot_s == doctest::Approx(pp2.tpot_s));
  CHECK(predict(c, s, one_host(1), PerfLayout{}, w).tpot_s == doctest::Approx(4 * kLayer + kHead));
  // Whole layers measured at 0.9 of their kernels' sum: the layers (not the head) take 0.9 of the time.
  Profile q = p;
  q.compose_decode = 0.9;
  CHECK(predict(c, q, one_host(2), l, w).tpot_s == doctest::Approx(0.9 * 4 * kLayer + kHead));
}

TEST_CASE("perf: hosts of one machine share its cores and memory") {
  const ModelConfig c = tiny();
  const Profile p = flop_profile();
  const Workload w = work(1, 10, 5);
  PerfLayout l;
  l.pp = 2, l.sp_chunk = 5, l.kv_sync = KvSyncKind::Ring;  // after the sync both ranks decode the whole model at once
  const Cluster apart = uniform_cluster(2, 1, 1, 0, 1, 64, Link{0, 1e30});
  const Cluster shared = uniform_cluster(2, 1, 1, 0, 1, 64, Link{0, 1e30}, 2);
  CHECK(shared.machine_of(1) == 0);
  CHECK(shared.machine_ranks(1) == 2);
  CHECK(apart.machine_ranks(1) == 1);
  CHECK(shared.memory_per_rank(1) == doctest::Approx(apart.memory_per_rank(1) / 2));
  const double step = 4 * kLayer + kHead;
  CHECK(predict(c, p, apart, l, w).tpot_s == doctest::Approx(step));       // a core each
  CHECK(predict(c, p, shared, l, w).tpot_s == doctest::Approx(2 * step));  // two ranks on the one core
  CHECK_THROWS_WITH_AS(uniform_cluster(3, 1, 1, 0, 1, 64, Link{0, 1e30}, 2),
                       doctest::Contains("--hosts-per-machine must be >= 1 and divide --hosts 3"), Error);
}

TEST_CASE("perf: memory per rank of a known config, by hand") {
  const ModelConfig c = tiny();
  const Workload w = work(1, 10, 3);
  PerfLayout l;
  // f32 weights: per layer 2 norms (64 each) + 40960 matrix entries; embedding 64 x 64; final norm 64 + lm_head 4096.
  const Memory m = memory_per_rank(c, l, w, 0);
  CHECK(m.weights == doctest::Approx(4.0 * (4 * 41088 + 4096 + 64 + 4096)));
  // KV: 2 (K, V) x 4 layers x 1 slot x 13 positions x 4 kv heads x 16 x 4 bytes.
  CHECK(m.kv_cache == doctest::Approx(2.0 * 4 * 13 * 4 * 16 * 4));
  // pp 2: rank 1 holds layers 2, 3 and the head; its KV is half.
  l.pp = 2;
  const Memory m1 = memory_per_rank(c, l, w, 1);
  CHECK(m1.weights == doctest::Approx(4.0 * (2 * 41088 + 64 + 4096)));
  CHECK(m1.kv_cache == doctest::Approx(2.0 * 2 * 13 * 4 * 16 * 4));
  // SP+PP with a sync: every rank holds the whole model.
  l.sp_chunk = 4, l.kv_sync = KvSyncKind::Ring;
  CHECK(memory_per_rank(c, l, w, 1).weights == doctest::Approx(m.weights));
}

TEST_CASE("perf: plan ranks the known best layout first") {
  const ModelConfig c = tiny();
  const Profile p = flop_profile();
  const Workload w = work(1, 32, 4);
  int rejected = -1;
  // On free links tp 2 halves every step; pp 2 and SP+PP keep one rank's work in the path.
  auto ttft = plan_layouts(c, p, one_host(2), w, RankBy::Ttft, {8, 16}, DType::F32, &rejected);
  REQUIRE(!ttft.empty());
  CHECK(ttft[0].layout.tp == 2);
  CHECK(rejected == 0);
  for (size_t i = 1; i < ttft.size(); ++i) CHECK(ttft[i - 1].pred.ttft_s <= ttft[i].pred.ttft_s);
  // A host too small for the whole model on each rank leaves out the SP+PP layouts with a sync.
  Cluster small = uniform_cluster(1, 2, 1, 0, 16, 1.1e-3, Link{0, 1e30});  // ~1.1 MB: 0.55 MB per rank
  auto fit = plan_layouts(c, p, small, w, RankBy::Tpot, {8}, DType::F32, &rejected);
  CHECK(rejected > 0);
  for (auto& e : fit) CHECK(!(e.layout.sp_chunk > 0 && e.layout.kv_sync != KvSyncKind::None));
}

TEST_CASE("perf: impossible layouts are refused with the flag and the numbers") {
  const ModelConfig c = tiny();
  const Profile p = flop_profile();
  Workload w;
  PerfLayout l;
  l.tp = 2;
  CHECK_THROWS_WITH_AS(predict(c, p, one_host(4), l, w), doctest::Contains("--tp 2 x --pp 1 = 2 ranks, but the cluster"),
                       Error);
  l.tp = 3;
  CHECK_THROWS_WITH_AS(predict(c, p, one_host(3), l, w), doctest::Contains("does not divide"), Error);
  l.tp = 1, l.pp = 5;
  CHECK_THROWS_WITH_AS(predict(c, p, one_host(5), l, w), doctest::Contains("more pipeline stages than the 4 layers"),
                       Error);
  l.tp = 2, l.pp = 2, l.sp_chunk = 8;
  CHECK_THROWS_WITH_AS(predict(c, p, one_host(4), l, w), doctest::Contains("SP+PP prefill runs with --tp 1"), Error);
  l = {};
  w.prompt_len = 600;
  CHECK_THROWS_WITH_AS(predict(c, p, one_host(1), l, w), doctest::Contains("beyond the model's context"), Error);
}
