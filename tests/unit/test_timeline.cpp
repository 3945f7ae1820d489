// Timeline's counters split at a mark by time: a span before it is bank 0, after it bank 1, one across it is cut
// there (the prefill's and the decode's communication of a stage that waits for its first tokens at step 1).
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "backend/backend.h"
#include "backend/timeline.h"

using namespace autodist;

namespace {
void pause_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }
}  // namespace

TEST_CASE("timeline: counter spans are summed before and after the split mark, a span across it is cut") {
  auto be = make_cpu_backend();
  Timeline tl(*be);
  tl.reserve(8);
  const int64_t a0 = tl.mark();
  pause_ms(3);
  const int64_t split = tl.mark();
  pause_ms(3);
  const int64_t a1 = tl.mark();
  pause_ms(1);
  const int64_t b0 = tl.mark();
  pause_ms(2);
  const int64_t b1 = tl.mark();
  tl.count(Counter::PpComm, a0, a1);  // across the split
  tl.count(Counter::TpComm, b0, b1);  // after it
  tl.split_at(split);
  const int64_t ta0 = tl.ns(a0), ts = tl.ns(split), ta1 = tl.ns(a1), tb0 = tl.ns(b0), tb1 = tl.ns(b1);
  const Timeline::Totals t = tl.resolve([](const Region&, int64_t, int64_t) {});
  CHECK(t.at(0, Counter::PpComm) == ts - ta0);
  CHECK(t.at(1, Counter::PpComm) == ta1 - ts);
  CHECK(t.at(0, Counter::TpComm) == 0);
  CHECK(t.at(1, Counter::TpComm) == tb1 - tb0);
  CHECK(t.sum(0) >= 3'000'000);
  CHECK(t.sum(1) >= 5'000'000);

  // resolve() forgot the split: without one, everything is bank 0.
  const int64_t c0 = tl.mark();
  pause_ms(1);
  const int64_t c1 = tl.mark();
  tl.count(Counter::TpComm, c0, c1);
  const int64_t want = tl.ns(c1) - tl.ns(c0);
  const Timeline::Totals u = tl.resolve([](const Region&, int64_t, int64_t) {});
  CHECK(u.at(0, Counter::TpComm) == want);
  CHECK(u.sum(1) == 0);
}
