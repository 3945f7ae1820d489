// The cuda backend's plan-reading kernels against the cpu backend: each case builds one StepPlan, begins it on both
// backends (the cuda one uploads it once) and compares rope, embed (with device token feedback), kv_append +
// attention, gather_rows, argmax + pick, gather_vocab, sample, and the timers. Suite "cuda kernels" (skipped
// without a GPU, see cuda_test_util.h).
#include <doctest/doctest.h>

#include <array>
#include <climits>
#include <cmath>
#include <random>
#include <vector>

#include "backend/backend.h"
#include "cuda_test_util.h"
#include "core/clock.h"
#include "model/rope.h"

using namespace autodist;
using namespace autodist::cudatest;

namespace {

RopeTable rope_table(int64_t hd, double theta, double attention_factor) {
  RopeTable rt;
  for (int64_t i = 0; i < hd / 2; ++i) rt.inv_freq.push_back(1.0 / std::pow(theta, 2.0 * i / hd));
  rt.attention_factor = attention_factor;
  return rt;
}

std::vector<int32_t> get_i32(Backend& be, const Tensor& t) {
  std::vector<int32_t> v(static_cast<size_t>(t.numel()));
  be.to_host(v.data(), t);
  return v;
}

// One row per position of `pos` (each its own segment of slot 0): a plan whose positions are arbitrary.
StepPlan rows_at(const std::vector<int32_t>& pos) {
  StepPlan p;
  const int32_t id = 0;
  for (int32_t q : pos) p.add(0, q, 1, &id);
  return p;
}

}  // namespace

TEST_SUITE_BEGIN("cuda kernels");

CUDA_CASE("cuda rope: large positions from the plan, two tables, match the cpu backend") {
  std::mt19937 rng(4);
  std::uniform_int_distribution<int32_t> pd(0, 40000);
  for (int64_t T : {1, 7, 33})
    for (int64_t H : {4, 6, 8})
      for (int64_t hd : {32, 64, 128})
        for (const RopeTable& rt : {rope_table(hd, 1e6, 1.0), rope_table(hd, 1e4, 1.17)}) {
          auto x = randn(T * H * hd, rng);
          std::vector<int32_t> pos(T);
          for (auto& p : pos) p = pd(rng);
          pos[0] = 0;
          StepPlan plan = rows_at(pos);
          begin_both(cpu, gpu, plan, {T, 40001, 1, 1, 1});
          std::vector<float> cs = rope_cos_sin(rt, 40001), out[2];
          Backend* bes[2] = {&cpu, &gpu};
          for (int i = 0; i < 2; ++i) {
            Buffer bx = put(*bes[i], {T, H, hd}, x), bcs = put(*bes[i], {40001, hd}, cs);
            bes[i]->rope(bx.t(), bcs.t());
            out[i] = get(*bes[i], bx.t());
          }
          INFO("T ", T, " H ", H, " hd ", hd, " factor ", rt.attention_factor);
          check_close(out[1], out[0], 1e-5, 1e-5);
        }
}

CUDA_CASE("cuda embed: f32/bf16/f16 tables, ids outside the local vocab, device feedback rows, bit for bit") {
  std::mt19937 rng(6);
  for (DType t : {DType::F32, DType::BF16, DType::F16})
    for (int64_t D : {64, 130})
      for (int64_t vocab_start : {0, 500}) {
        const int64_t V = 1007;
        auto vals = randn(V * D, rng);
        std::vector<uint16_t> h = t == DType::F32 ? std::vector<uint16_t>{} : to_half(t, vals);
        const void* table = t == DType::F32 ? static_cast<const void*>(vals.data()) : h.data();
        std::uniform_int_distribution<int32_t> id(0, static_cast<int32_t>(vocab_start + V + 10));
        std::vector<int32_t> ids(33);
        for (auto& i : ids) i = id(rng);
        ids[0] = static_cast<int32_t>(vocab_start);
        ids[1] = static_cast<int32_t>(vocab_start + V - 1);
        ids[2] = static_cast<int32_t>(vocab_start + V);
        ids[3] = static_cast<int32_t>(vocab_start ? vocab_start - 1 : 0);
        StepPlan plan;
        plan.add(1, 0, 31, ids.data());
        plan.add(0, 5, 1, nullptr);  // slot 0's token from the device
        plan.add(2, 7, 1, nullptr);
        std::vector<int32_t> slot_tokens{static_cast<int32_t>(vocab_start + 3), 0, 99999};
        const int64_t T = plan.rows();
        begin_both(cpu, gpu, plan, {T, 16, 3, 1, INT32_MAX});
        std::vector<float> out[2];
        Backend* bes[2] = {&cpu, &gpu};
        for (int i = 0; i < 2; ++i) {
          Buffer bt = put(*bes[i], t, {V, D}, table), bo = put(*bes[i], {T, D}, std::vector<float>(T * D, 5.0f));
          Buffer st = put(*bes[i], DType::I32, {3}, slot_tokens.data());
          bes[i]->embed(bt.t(), vocab_start, st.t(), bo.t());
          out[i] = get(*bes[i], bo.t());
        }
        INFO("table ", dtype_name(t), " D ", D, " vocab_start ", vocab_start);
        check_same(out[1], out[0]);
      }
}

namespace {

// kv_append then attention (for each window) on both backends from the same caches.
void compare_attention(Backend& cpu, Backend& gpu, int64_t H, int64_t Hk, int64_t hd, int64_t S,
                       const std::vector<AttnSegment>& segs, std::mt19937& rng) {
  const int64_t slots = 3;
  StepPlan plan;
  for (const AttnSegment& s : segs) {
    std::vector<int32_t> ids(static_cast<size_t>(s.len), 1);
    plan.add(s.slot, s.start_pos, s.len, ids.data());
  }
  const int64_t T = plan.rows();
  begin_both(cpu, gpu, plan, {T, S, slots, 1, 2});
  auto kc0 = randn(slots * S * Hk * hd, rng), vc0 = randn(slots * S * Hk * hd, rng);
  auto q = randn(T * H * hd, rng), k = randn(T * Hk * hd, rng), v = randn(T * Hk * hd, rng);
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  for (int64_t window : {0, 5, 40, 1000}) {
    std::vector<float> kc[2], vc[2], out[2];
    Backend* bes[2] = {&cpu, &gpu};
    for (int i = 0; i < 2; ++i) {
      Backend& be = *bes[i];
      Shape cs{slots, S, Hk, hd};
      Buffer bkc = put(be, cs, kc0), bvc = put(be, cs, vc0), bq = put(be, {T, H, hd}, q),
             bk = put(be, {T, Hk, hd}, k), bv = put(be, {T, Hk, hd}, v),
             bo = put(be, {T, H, hd}, std::vector<float>(T * H * hd, 7.0f));
      be.kv_append(bk.t(), bv.t(), bkc.t(), bvc.t());
      be.attention(bq.t(), bkc.t(), bvc.t(), scale, window, bo.t());
      kc[i] = get(be, bkc.t());
      vc[i] = get(be, bvc.t());
      out[i] = get(be, bo.t());
    }
    INFO("H ", H, " Hk ", Hk, " hd ", hd, " S ", S, " window ", window);
    check_same(kc[1], kc[0]);
    check_same(vc[1], vc[0]);
    check_close(out[1], out[0], 1e-5, 1e-4);
  }
}

}  // namespace

CUDA_CASE("cuda kv_append + attention: segments at different positions, GQA, sliding window") {
  std::mt19937 rng(7);
  // 33 rows of slot 2 from position 0 (prefill), 7 of slot 0 from 50 (a later chunk), 1 of slot 1 at 17 (decode)
  const std::vector<AttnSegment> segs{{2, 0, 33, 0}, {0, 50, 7, 33}, {1, 17, 1, 40}};
  for (auto [H, Hk] : std::vector<std::pair<int64_t, int64_t>>{{4, 4}, {6, 2}, {8, 1}})
    for (int64_t hd : {32, 64}) compare_attention(cpu, gpu, H, Hk, hd, 96, segs, rng);
  // head dims past one value per thread (96, 256); long keys: many tiles, windows across tile edges
  for (int64_t hd : {96, 256}) compare_attention(cpu, gpu, 4, 2, hd, 96, segs, rng);
  const std::vector<AttnSegment> long_segs{{0, 1000, 3, 0}, {1, 0, 70, 3}, {2, 600, 129, 73}};
  compare_attention(cpu, gpu, 6, 2, 64, 1100, long_segs, rng);
}

CUDA_CASE("cuda head: gather_rows, argmax (ties, NaN, -inf, valid < V), pick over parts, gather_vocab") {
  std::mt19937 rng(8);
  for (int64_t V : {int64_t{1007}, int64_t{151936 + 7}})
    for (int64_t M : {1, 7, 33})
      for (int64_t valid : {V, V - 7, int64_t{1}, int64_t{0}}) {
        auto x = randn(M * V, rng);
        auto at = [&](int64_t m, int64_t j) -> float& { return x[m * V + j]; };
        if (M > 1) at(1, 5) = at(1, 900) = 100.0f;  // tie: index 5
        if (M > 2) at(2, 0) = std::numeric_limits<float>::quiet_NaN();
        if (M > 3) at(3, 10) = std::numeric_limits<float>::quiet_NaN();
        if (M > 4)
          for (int64_t j = 0; j < V; ++j) at(4, j) = -INFINITY;
        if (M > 5) at(5, V - 1) = 1000.0f;  // past `valid` when valid < V
        // M output rows: rows 1, 3, 5, .. of a step of 2M rows; the rows' slots are 0..M-1
        StepPlan plan;
        std::vector<int32_t> ids(2, 0);
        for (int64_t m = 0; m < M; ++m) plan.want(plan.add(static_cast<int32_t>(m), 0, 2, ids.data()) + 1);
        begin_both(cpu, gpu, plan, {2 * M, 2, M, M, 1 << 20});
        std::vector<float> pairs[2], sel[2];
        std::vector<int32_t> tok[2], slots[2];
        Backend* bes[2] = {&cpu, &gpu};
        for (int i = 0; i < 2; ++i) {
          Backend& be = *bes[i];
          Buffer bx = put(be, {M, V}, x), bp(&be, DType::F32, {2, M, 2}), bt(&be, DType::I32, {M}),
                 bs(&be, DType::I32, {M}), brows = put(be, {2 * M, 3}, randn(2 * M * 3, rng)),
                 bsel(&be, DType::F32, {M, 3});
          be.argmax(bx.t(), valid, 0, bp.t().rows(0, 1).reshape({M, 2}));
          be.argmax(bx.t(), valid, 11, bp.t().rows(1, 1).reshape({M, 2}));  // a second part: vocab from 11
          be.pick(bp.t(), bt.t(), bs.t());
          be.gather_rows(brows.t(), bsel.t());
          pairs[i] = get(be, bp.t());
          tok[i] = get_i32(be, bt.t());
          slots[i] = get_i32(be, bs.t());
          sel[i] = get(be, bsel.t());
        }
        INFO("V ", V, " M ", M, " valid ", valid);
        check_same(pairs[1], pairs[0]);
        CHECK(tok[1] == tok[0]);
        CHECK(slots[1] == slots[0]);
        check_same(sel[1], sel[0]);
      }
  // vocab-parallel parts side by side, the padding dropped
  for (auto [G, R, Vl, V] : std::vector<std::array<int64_t, 4>>{{1, 3, 7, 7}, {2, 5, 513, 1020}, {4, 1, 300, 1197}}) {
    auto parts = randn(G * R * Vl, rng);
    std::vector<float> out[2];
    Backend* bes[2] = {&cpu, &gpu};
    for (int i = 0; i < 2; ++i) {
      Buffer bp = put(*bes[i], {G, R, Vl}, parts), bo(bes[i], DType::F32, {R, V});
      bes[i]->gather_vocab(bp.t(), bo.t());
      out[i] = get(*bes[i], bo.t());
    }
    INFO("gather_vocab G ", G, " R ", R, " Vl ", Vl, " V ", V);
    check_same(out[1], out[0]);
  }
}

CUDA_CASE("cuda sample: greedy with bans, top-k, top-p and temperature give the cpu backend's tokens") {
  std::mt19937 rng(9);
  const int64_t V = 151936, R = 5;
  StepPlan plan;
  std::vector<int32_t> ids(3, 0);
  for (int64_t r = 0; r < R; ++r) plan.want(plan.add(static_cast<int32_t>(r), 40 + 3 * r, 3, ids.data()) + 2, r % 2);
  begin_both(cpu, gpu, plan, {3 * R, 64, R, R, V});
  std::vector<int32_t> banned{7, 151645, 3};
  std::vector<SamplingOptions> opts(4);
  opts[1].temperature = 0.8f, opts[1].top_k = 50;
  opts[2].temperature = 1.0f, opts[2].top_p = 0.9f;
  opts[3].temperature = 1.3f, opts[3].top_k = 20, opts[3].top_p = 0.5f, opts[3].seed = 99;
  for (int trial = 0; trial < 6; ++trial)
    for (const SamplingOptions& o : opts) {
      auto logits = randn(R * V, rng, 3.0f);
      logits[3 * V + 7] = 100.0f;  // banned on row 3 (ban flag set), allowed on row 2
      logits[2 * V + 7] = 100.0f;
      std::vector<int32_t> tok[2];
      Backend* bes[2] = {&cpu, &gpu};
      for (int i = 0; i < 2; ++i) {
        Buffer bl = put(*bes[i], {R, V}, logits), bb = put(*bes[i], DType::I32, {3}, banned.data()),
               bt(bes[i], DType::I32, {R}), bs(bes[i], DType::I32, {R});
        bes[i]->sample(bl.t(), bb.t(), o, bt.t(), bs.t());
        tok[i] = get_i32(*bes[i], bt.t());
      }
      INFO("temperature ", o.temperature, " top_k ", o.top_k, " top_p ", o.top_p);
      CHECK(tok[1] == tok[0]);
      CHECK(tok[0][3] != 7);
    }
}

CUDA_CASE("cuda add_positions: the plan's positions plus an offset, f32/bf16/f16 tables, bit for bit") {
  std::mt19937 rng(10);
  for (DType t : {DType::F32, DType::BF16, DType::F16})
    for (int64_t D : {64, 1600}) {
      const int64_t P = 514, offset = 2;
      auto vals = randn(P * D, rng);
      std::vector<uint16_t> h = t == DType::F32 ? std::vector<uint16_t>{} : to_half(t, vals);
      const void* table = t == DType::F32 ? static_cast<const void*>(vals.data()) : h.data();
      StepPlan plan = rows_at({0, 511, 7, 300, 5});
      begin_both(cpu, gpu, plan, {5, 512, 1, 1, 1});
      auto x = randn(5 * D, rng);
      std::vector<float> out[2];
      Backend* bes[2] = {&cpu, &gpu};
      for (int i = 0; i < 2; ++i) {
        Buffer bt = put(*bes[i], t, {P, D}, table), bx = put(*bes[i], {5, D}, x);
        bes[i]->add_positions(bx.t(), bt.t(), offset);
        out[i] = get(*bes[i], bx.t());
      }
      INFO("table ", dtype_name(t), " D ", D);
      check_same(out[1], out[0]);
    }
}

CUDA_CASE("cuda timers: marks in stream order, on the host's steady clock") {
  const int64_t m0 = gpu.timer_mark();
  Buffer a(&gpu, DType::F32, {1 << 22});
  gpu.fill_zero(a.t());
  const int64_t m1 = gpu.timer_mark();
  gpu.synchronize();
  const int64_t t0 = gpu.timer_ns(m0), t1 = gpu.timer_ns(m1);
  CHECK(t0 <= t1);
  CHECK(t1 <= now_ns());
  CHECK(now_ns() - t0 < int64_t{60} * 1000000000);
  gpu.timer_reset();
  CHECK_THROWS_AS(gpu.timer_ns(m1), Error);
}

TEST_SUITE_END();
