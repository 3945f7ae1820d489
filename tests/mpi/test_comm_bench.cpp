// comm-bench driver: option checks, and every op checks itself clean (and fails when corrupted).
#include <doctest/doctest.h>

#include "core/error.h"
#include "dist/comm_bench.h"
#include "mpi_test_util.h"

using namespace autodist;
using namespace autodist::test;

TEST_CASE("comm-bench: sizes parse with K/M/G suffixes; junk is refused") {
  CHECK(dist::parse_size("8", "-b") == 8);
  CHECK(dist::parse_size("64K", "-b") == 65536);
  CHECK(dist::parse_size("1M", "-e") == 1 << 20);
  CHECK(dist::parse_size("2G", "-e") == int64_t(2) << 30);
  CHECK_THROWS_WITH_AS(dist::parse_size("12X", "-b"), doctest::Contains("-b '12X'"), Error);
  CHECK_THROWS_AS(dist::parse_size("", "-b"), Error);
  CHECK_THROWS_AS(dist::parse_size("-4", "-b"), Error);
}

TEST_CASE("comm-bench: option checks name what is wrong") {
  dist::BenchOptions o;
  CHECK_THROWS_WITH_AS(dist::resolve_bench_options(o, "all_reduce,bogus", 4), doctest::Contains("unknown op 'bogus'"),
                       Error);
  o.min_bytes = 1 << 20, o.max_bytes = 8;
  CHECK_THROWS_WITH_AS(dist::resolve_bench_options(o, "all_reduce", 4), doctest::Contains("reversed"), Error);
  o = {};
  o.step_factor = 1;
  CHECK_THROWS_WITH_AS(dist::resolve_bench_options(o, "all_reduce", 4), doctest::Contains("step factor"), Error);
  o = {};
  o.root = 4;
  CHECK_THROWS_WITH_AS(dist::resolve_bench_options(o, "broadcast", 4), doctest::Contains("--root 4"), Error);
  o = {};
  CHECK_THROWS_WITH_AS(dist::resolve_bench_options(o, "isend_irecv", 3), doctest::Contains("even number of ranks"),
                       Error);
  o = {};
  dist::resolve_bench_options(o, "sendrecv", 3);  // a ring: any number of ranks
  o = {};
  o.budget_ms = 0;
  CHECK_THROWS_WITH_AS(dist::resolve_bench_options(o, "all_reduce", 4), doctest::Contains("--time-budget"), Error);
  o = {};
  auto notes = dist::resolve_bench_options(o, "all", 3);
  CHECK(notes.size() == 1);
  CHECK(o.ops.size() == 9);  // all but isend_irecv
  o = {};
  dist::resolve_bench_options(o, "all", 4);
  CHECK(o.ops.size() == 10);
}

TEST_CASE("comm-bench: every op and dtype checks clean; an injected error is counted") {
  const int n = world().size();
  for (DType t : {DType::F32, DType::BF16})
    for (auto redop : {dist::ReduceOp::Sum, dist::ReduceOp::Min}) {
      dist::BenchOptions o;
      o.min_bytes = 4, o.max_bytes = 40000, o.step_factor = 7;  // awkward sizes: 4, 28, ..., 16807
      o.iters = 2, o.warmup = 1, o.check = true, o.baseline = true;
      o.dtype = t, o.redop = redop, o.root = n - 1;
      dist::resolve_bench_options(o, "all", n);
      auto reps = dist::run_comm_bench(world(), o, {});
      REQUIRE(reps.size() == o.ops.size());
      for (const auto& rep : reps) {
        INFO(rep.op, " ", std::string(dtype_name(t)));
        CHECK(rep.wrong == 0);
        CHECK(rep.rows.size() == (rep.op == "barrier" ? 1u : 5u));  // 4, 28, 196, 1372, 9604 bytes
        const size_t groups = rep.op == "sendrecv" || rep.op == "isend_irecv" || rep.op == "broadcast" ||
                                      rep.op == "barrier" ? 1 : 2;
        CHECK(rep.placements.size() == groups);
        for (const auto& row : rep.rows) {
          REQUIRE(row.times.size() == groups);
          for (const auto& t : row.times) {
            CHECK(t.iters == 2);
            CHECK(t.wrong == 0);
            CHECK(t.min_us > 0);
            CHECK(t.min_us <= t.avg_us);
            CHECK(t.avg_us <= t.time_us);
            CHECK(t.raw_time_us > 0);
          }
        }
      }
    }
  dist::BenchOptions o;
  o.min_bytes = 64, o.max_bytes = 256, o.iters = 1, o.warmup = 0, o.check = true, o.inject_error = true;
  dist::resolve_bench_options(o, "all_reduce,gather,reduce", n);
  auto reps = dist::run_comm_bench(world(), o, {});
  for (const auto& rep : reps) {
    INFO(rep.op);
    CHECK(rep.wrong == int64_t(2 * rep.rows.size()));  // one corrupted element per size and placement
  }
}

TEST_CASE("comm-bench: automatic iteration counts follow the time budget") {
  const int n = world().size();
  dist::BenchOptions o;
  o.min_bytes = 8, o.max_bytes = 8;
  o.budget_ms = 20;
  dist::resolve_bench_options(o, "all_reduce,barrier", n);
  auto reps = dist::run_comm_bench(world(), o, {});
  for (const auto& rep : reps)
    for (const auto& row : rep.rows)
      for (const auto& t : row.times) {
        INFO(rep.op);
        CHECK(t.warmup >= 1);
        CHECK(t.iters >= 5);
        CHECK(t.iters <= 1000);
      }
  // The count from the warm-up's estimate, exactly (the timed loop itself is not asserted: a loaded machine makes it
  // slower than its warm-up, and a benchmark's speed is never a test's verdict).
  CHECK(dist::auto_iteration_count(1'000'000, 20) == 20);
  CHECK(dist::auto_iteration_count(3'000'000, 20) == 6);
  CHECK(dist::auto_iteration_count(5'000'000, 20) == 5);      // the floor
  CHECK(dist::auto_iteration_count(100'000'000, 20) == 5);
  CHECK(dist::auto_iteration_count(1'000, 20) == 1000);       // the cap
  CHECK(dist::auto_iteration_count(0, 20) == 1000);
  o.iters = 3, o.warmup = 0;
  reps = dist::run_comm_bench(world(), o, {});
  CHECK(reps[0].rows[0].times[0].iters == 3);
  CHECK(reps[0].rows[0].times[0].warmup == 0);
}
