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
  CHECK_THROWS_WITH_AS(dist::resolve_bench_options(o, "sendrecv", 3), doctest::Contains("even number of ranks"), Error);
  o = {};
  auto notes = dist::resolve_bench_options(o, "all", 3);
  CHECK(notes.size() == 1);
  CHECK(o.ops.size() == 8);  // all but sendrecv and isend_irecv
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
        for (const auto& row : rep.rows) CHECK(row.time_us > 0);
      }
    }
  dist::BenchOptions o;
  o.min_bytes = 64, o.max_bytes = 256, o.iters = 1, o.warmup = 0, o.check = true, o.inject_error = true;
  dist::resolve_bench_options(o, "all_reduce,gather,reduce", n);
  auto reps = dist::run_comm_bench(world(), o, {});
  for (const auto& rep : reps) {
    INFO(rep.op);
    CHECK(rep.wrong == int64_t(rep.rows.size()));  // one corrupted element per size
  }
}
