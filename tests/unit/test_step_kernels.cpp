// The step plan (check_plan, the builders) and the cpu backend's plan-reading kernels against closed-form values:
// embed with device token feedback, rope from its table, kv_append + attention (causal, sliding window, two
// sequences in one step), gather_rows, argmax / pick over vocab-parallel parts, gather_vocab, sample.
#include <doctest/doctest.h>

#include <climits>
#include <cmath>
#include <vector>

#include "backend/backend.h"
#include "core/error.h"
#include "model/rope.h"

using namespace autodist;

namespace {

Tensor f32(std::vector<float>& v, Shape s) { return Tensor(v.data(), DType::F32, s); }
Tensor i32(std::vector<int32_t>& v, Shape s) { return Tensor(v.data(), DType::I32, s); }

StepLimits limits(int64_t tokens, int64_t ctx, int64_t slots, int64_t outs, int64_t vocab = 100) {
  return {tokens, ctx, slots, outs, vocab};
}

}  // namespace

TEST_CASE("step plan: the builders fill rows, positions and slots; check_plan refuses what does not fit") {
  StepPlan p;
  std::vector<int32_t> prompt{5, 6, 7};
  CHECK(p.add(2, 0, 3, prompt.data()) == 0);
  CHECK(p.add(0, 9, 1, nullptr) == 3);
  p.want(2);
  p.want(3, true);
  CHECK(p.ids == std::vector<int32_t>{5, 6, 7, kTokenFromDevice});
  CHECK(p.pos == std::vector<int32_t>{0, 1, 2, 9});
  CHECK(p.slot == std::vector<int32_t>{2, 2, 2, 0});
  CHECK(p.out_ban == std::vector<uint8_t>{0, 1});
  CHECK_NOTHROW(check_plan(p, limits(4, 10, 3, 2)));
  CHECK_THROWS_WITH_AS(check_plan(p, limits(3, 10, 3, 2)), doctest::Contains("4 rows, but the backend was prepared for 3"),
                       Error);
  CHECK_THROWS_WITH_AS(check_plan(p, limits(4, 9, 3, 2)), doctest::Contains("positions [9, 10) of slot 0 outside"),
                       Error);
  CHECK_THROWS_WITH_AS(check_plan(p, limits(4, 10, 2, 2)), doctest::Contains("slot 2 outside the 2"), Error);
  CHECK_THROWS_WITH_AS(check_plan(p, limits(4, 10, 3, 1)), doctest::Contains("2 output rows"), Error);
  CHECK_THROWS_WITH_AS(check_plan(p, limits(4, 10, 3, 2, 7)), doctest::Contains("token id 7 is out of range"), Error);
  StepPlan q = p;
  q.out_rows[0] = 4;
  CHECK_THROWS_WITH_AS(check_plan(q, limits(4, 10, 3, 2)), doctest::Contains("output row 4 outside"), Error);
  q = p;
  q.segs[1].row = 2;  // overlaps the first segment
  CHECK_THROWS_WITH_AS(check_plan(q, limits(4, 10, 3, 2)), doctest::Contains("does not continue at row 3"), Error);
  q = p;
  q.pos[1] = 4;
  CHECK_THROWS_WITH_AS(check_plan(q, limits(4, 10, 3, 2)), doctest::Contains("row 1 has position 4"), Error);
  q = p;
  q.segs.pop_back();
  CHECK_THROWS_WITH_AS(check_plan(q, limits(4, 10, 3, 2)), doctest::Contains("cover 3 of the 4 rows"), Error);
  q = p;
  q.ids.pop_back();
  CHECK_THROWS_WITH_AS(check_plan(q, limits(4, 10, 3, 2)), doctest::Contains("do not agree"), Error);
  p.clear();
  CHECK(p.rows() == 0);
  CHECK(p.ids.capacity() >= 4);
}

TEST_CASE("cpu embed: kTokenFromDevice rows read the slot's token; begin_step checks the plan") {
  auto be = make_cpu_backend();
  std::vector<float> table{0, 0, 1, 1, 2, 2, 3, 3}, out(6, -1.0f);  // [4, 2]: row r = (r, r)
  std::vector<int32_t> slot_tokens{3, 1};
  StepPlan p;
  const int32_t id = 2;
  p.add(1, 4, 1, nullptr);  // slot 1: token 1
  p.add(0, 7, 1, nullptr);  // slot 0: token 3
  p.add(0, 8, 1, &id);
  be->prepare(limits(3, 16, 2, 1, 4));
  be->begin_step(p);
  be->embed(f32(table, {4, 2}), 0, i32(slot_tokens, {2}), f32(out, {3, 2}));
  CHECK(out == std::vector<float>{1, 1, 3, 3, 2, 2});
  be->embed(f32(table, {4, 2}), 2, i32(slot_tokens, {2}), f32(out, {3, 2}));  // vocab rows [2, 6) here
  CHECK(out == std::vector<float>{0, 0, 1, 1, 0, 0});
  p.segs[0].slot = 5;
  CHECK_THROWS_WITH_AS(be->begin_step(p), doctest::Contains("slot 5 outside the 2"), Error);
}

TEST_CASE("cpu rope: each row rotated by its plan position, as the closed form") {
  auto be = make_cpu_backend();
  RopeTable rt;
  rt.inv_freq = {1.0, 0.01};
  rt.attention_factor = 1.5;
  std::vector<float> cs = rope_cos_sin(rt, 40);
  CHECK(cs[33 * 4 + 0] == doctest::Approx(std::cos(33.0) * 1.5));
  CHECK(cs[33 * 4 + 3] == doctest::Approx(std::sin(0.33) * 1.5));
  std::vector<float> x{1, 2, 3, 4, 1, 2, 3, 4};  // [T=2, H=1, hd=4]
  StepPlan p;
  std::vector<int32_t> ids{0, 0};
  p.add(0, 32, 2, ids.data());
  be->prepare(limits(2, 40, 1, 1));
  be->begin_step(p);
  be->rope(f32(x, {2, 1, 4}), f32(cs, {40, 4}));
  for (int t = 0; t < 2; ++t) {
    const double pos = 32 + t;
    const double a[2] = {pos * 1.0, pos * 0.01}, in[4] = {1, 2, 3, 4};
    for (int i = 0; i < 2; ++i) {
      CHECK(x[t * 4 + i] == doctest::Approx(1.5 * (in[i] * std::cos(a[i]) - in[i + 2] * std::sin(a[i]))).epsilon(1e-5));
      CHECK(x[t * 4 + i + 2] ==
            doctest::Approx(1.5 * (in[i + 2] * std::cos(a[i]) + in[i] * std::sin(a[i]))).epsilon(1e-5));
    }
  }
}

TEST_CASE("cpu kv_append + attention: causal, windowed, two sequences in one step") {
  auto be = make_cpu_backend();
  // one head, hd 2; slot 1 holds positions 0..2 (one prefill of 3 rows), slot 0 one row at position 0
  std::vector<float> k{1, 0, 0, 1, 1, 1, 2, 0}, v{10, 0, 0, 20, 5, 5, 7, 7}, q{1, 0, 1, 0, 0, 1, 3, 3};
  std::vector<float> kc(2 * 4 * 2, 0.0f), vc(2 * 4 * 2, 0.0f), out(8, 0.0f);
  StepPlan p;
  std::vector<int32_t> ids{0, 0, 0, 0};
  p.add(1, 0, 3, ids.data());
  p.add(0, 0, 1, ids.data());
  be->prepare(limits(4, 4, 2, 1));
  be->begin_step(p);
  be->kv_append(f32(k, {4, 1, 2}), f32(v, {4, 1, 2}), f32(kc, {2, 4, 1, 2}), f32(vc, {2, 4, 1, 2}));
  CHECK(kc[(1 * 4 + 2) * 2 + 0] == 1.0f);  // slot 1, position 2 = k row 2
  CHECK(vc[(0 * 4 + 0) * 2 + 1] == 7.0f);  // slot 0, position 0 = v row 3
  be->attention(f32(q, {4, 1, 2}), f32(kc, {2, 4, 1, 2}), f32(vc, {2, 4, 1, 2}), 1.0f, 0, f32(out, {4, 1, 2}));
  // row 0 sees key 0 only; row 3 (slot 0) sees its own key only
  CHECK(out[0] == doctest::Approx(10.0));
  CHECK(out[1] == doctest::Approx(0.0));
  CHECK(out[6] == doctest::Approx(7.0));
  CHECK(out[7] == doctest::Approx(7.0));
  // row 1: scores (q.k0, q.k1) = (1, 0)
  const double e1 = std::exp(1.0), w0 = e1 / (e1 + 1), w1 = 1 / (e1 + 1);
  CHECK(out[2] == doctest::Approx(10 * w0));
  CHECK(out[3] == doctest::Approx(20 * w1));
  // row 2: q = (0, 1): scores (0, 1, 1) over keys 0..2
  const double z = 1 + 2 * e1;
  CHECK(out[4] == doctest::Approx((10 * 1 + 0 * e1 + 5 * e1) / z));
  CHECK(out[5] == doctest::Approx((0 + 20 * e1 + 5 * e1) / z));
  // window 1: every row attends to itself only
  be->attention(f32(q, {4, 1, 2}), f32(kc, {2, 4, 1, 2}), f32(vc, {2, 4, 1, 2}), 1.0f, 1, f32(out, {4, 1, 2}));
  CHECK(out == std::vector<float>{10, 0, 0, 20, 5, 5, 7, 7});
}

TEST_CASE("cpu head kernels: gather_rows, argmax pairs, pick across parts, gather_vocab, sample") {
  auto be = make_cpu_backend();
  StepPlan p;
  std::vector<int32_t> ids{1, 2, 3, 4, 5};
  p.add(0, 0, 3, ids.data());
  p.add(1, 0, 2, ids.data() + 3);
  p.want(2);
  p.want(4, true);
  be->prepare(limits(5, 8, 2, 2, 10));
  be->begin_step(p);
  std::vector<float> x{0, 0, 1, 1, 2, 2, 3, 3, 4, 4}, sel(4);
  be->gather_rows(f32(x, {5, 2}), f32(sel, {2, 2}));
  CHECK(sel == std::vector<float>{2, 2, 4, 4});

  // two vocab-parallel parts of 3 columns each (vocab 5: part 1 holds 2 real columns and one pad)
  std::vector<float> part0{1, 5, 5, 0, 0, 2}, part1{5, 1, 9, 2, 0, 9};  // [R=2, 3]
  std::vector<float> pairs(8);
  be->argmax(f32(part0, {2, 3}), 3, 0, Tensor(pairs.data(), DType::F32, {2, 2}));
  be->argmax(f32(part1, {2, 3}), 2, 3, Tensor(pairs.data() + 4, DType::F32, {2, 2}));  // the pad column is skipped
  CHECK(pairs == std::vector<float>{5, 1, 2, 2, 5, 3, 2, 3});
  std::vector<int32_t> tokens(2, -7), slots{-1, -1};
  be->pick(f32(pairs, {2, 2, 2}), i32(tokens, {2}), i32(slots, {2}));
  CHECK(tokens == std::vector<int32_t>{1, 2});  // ties go to the first part: the lower vocab index
  CHECK(slots == std::vector<int32_t>{1, 2});   // output row 0 is slot 0, row 1 slot 1
  std::vector<float> none(2);
  be->argmax(f32(part0, {2, 3}).rows(0, 1), 0, 6, f32(none, {1, 2}));  // nothing valid: (-inf, vocab start)
  CHECK(std::isinf(none[0]));
  CHECK(none[1] == 6.0f);

  std::vector<float> parts{1, 5, 5, 0, 0, 2, 5, 1, 9, 2, 0, 9}, full(10);  // [G=2, R=2, 3]
  be->gather_vocab(f32(parts, {2, 2, 3}), f32(full, {2, 5}));
  CHECK(full == std::vector<float>{1, 5, 5, 5, 1, 0, 0, 2, 2, 0});

  // sample: greedy respects the ban of row 1 (the stop tokens 0 and 2); top-k 1 is the argmax
  std::vector<int32_t> banned{0, 2};
  SamplingOptions greedy;
  std::vector<float> logits = full;
  be->sample(f32(logits, {2, 5}), i32(banned, {2}), greedy, i32(tokens, {2}), i32(slots, {2}));
  CHECK(tokens == std::vector<int32_t>{1, 3});
  CHECK(slots == std::vector<int32_t>{1, 3});
  SamplingOptions top1;
  top1.temperature = 0.7f;
  top1.top_k = 1;
  logits = full;
  be->sample(f32(logits, {2, 5}), i32(banned, {2}), top1, i32(tokens, {2}), i32(slots, {2}));
  CHECK(tokens == std::vector<int32_t>{1, 3});
  // a hot sampler draws u from (seed, position + 1): the same plan gives the same tokens, another seed may differ
  SamplingOptions hot;
  hot.temperature = 5.0f;
  std::vector<int32_t> first(2), again(2);
  logits = full;
  be->sample(f32(logits, {2, 5}), i32(banned, {2}), hot, i32(first, {2}), i32(slots, {2}));
  logits = full;
  be->sample(f32(logits, {2, 5}), i32(banned, {2}), hot, i32(again, {2}), i32(slots, {2}));
  CHECK(first == again);
  CHECK(first[1] != 0);
  CHECK(first[1] != 2);
}
