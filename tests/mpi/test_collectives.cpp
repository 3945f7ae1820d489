// Collectives of the mpi Communicator against closed forms (Megatron style: input = rank).
// n ranks; x_r[i] = r + i % 5, so sum = n(n-1)/2 + n (i % 5), max = n-1 + i % 5, min = i % 5.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "core/error.h"
#include "dist/mpi_env.h"
#include "mpi_test_util.h"

using namespace autodist;
using namespace autodist::test;
using dist::ReduceOp;

namespace {

const ReduceOp kOps[] = {ReduceOp::Sum, ReduceOp::Max, ReduceOp::Min};

// red over ranks s of (s + base): every test input is rank + something.
double reduced(ReduceOp op, int n, double base) {
  switch (op) {
    case ReduceOp::Sum: return n * (n - 1) / 2.0 + n * base;
    case ReduceOp::Max: return n - 1 + base;
    case ReduceOp::Min: return base;
  }
  return 0;
}

std::string label(const char* what, DType t, ReduceOp op, int64_t n) {
  return fmt::format("{} {} {} count {}", what, dtype_name(t), dist::reduce_op_name(op), n);
}

}  // namespace

TEST_CASE("world communicator: rank and size match MpiEnv") {
  auto& env = dist::MpiEnv::init();
  CHECK(world().rank() == env.rank());
  CHECK(world().size() == env.world());
  CHECK(world().backend_name() == "mpi");
  CHECK(dist::parse_reduce_op("max") == ReduceOp::Max);
  CHECK(std::string(dist::reduce_op_name(ReduceOp::Min)) == "min");
  CHECK_THROWS_AS(dist::parse_reduce_op("prod"), Error);
}

TEST_CASE("all_reduce in place: every dtype, every op, counts 1, 7, 1000003") {
  const int r = world().rank(), n = world().size();
  for (DType t : all_dtypes())
    for (ReduceOp op : kOps)
      for (int64_t count : awkward_counts()) {
        Buf b(t, count);
        fill(b, [&](int64_t i) { return r + i % 5; });
        world().all_reduce(b.tensor(), op);
        expect_all(b, [&](int64_t i) { return reduced(op, n, double(i % 5)); }, label("all_reduce", t, op, count));
      }
}

TEST_CASE("all_reduce of zero elements is a no-op on every rank") {
  float x = 42;
  world().all_reduce(Tensor(&x, DType::F32, Shape{0}));
  CHECK(x == 42);
}

TEST_CASE("broadcast from every root") {
  const int r = world().rank(), n = world().size();
  for (DType t : {DType::F32, DType::BF16, DType::I64})
    for (int64_t count : awkward_counts())
      for (int root = 0; root < n; ++root) {
        Buf b(t, count);
        fill(b, [&](int64_t i) { return r + i % 5; });
        world().broadcast(b.tensor(), root);
        expect_all(b, [&](int64_t i) { return root + i % 5; },
                   fmt::format("broadcast {} count {} root {}", dtype_name(t), count, root));
      }
}

TEST_CASE("reduce to every root, every op; recv only significant on the root") {
  const int r = world().rank(), n = world().size();
  for (DType t : {DType::F32, DType::I32, DType::BF16})
    for (ReduceOp op : kOps)
      for (int64_t count : {int64_t(1), int64_t(7), int64_t(300007)})  // 300007: segments, the last one short
        for (int root = 0; root < n; ++root) {
          Buf s(t, count), out(t, count);
          fill(s, [&](int64_t i) { return r + i % 5; });
          fill(out, [](int64_t) { return -1; });
          world().reduce(s.tensor(), r == root ? out.tensor() : Tensor(), op, root);
          if (r == root)
            expect_all(out, [&](int64_t i) { return reduced(op, n, double(i % 5)); },
                       label("reduce", t, op, count) + fmt::format(" root {}", root));
        }
}

TEST_CASE("reduce in place on the root (send and recv are the same buffer)") {
  const int r = world().rank(), n = world().size();
  for (DType t : {DType::F32, DType::BF16})
    for (int64_t count : {int64_t(1000), int64_t(300007)})
      for (int root = 0; root < n; ++root) {
        Buf b(t, count);
        fill(b, [&](int64_t i) { return r + i % 5; });
        world().reduce(b.tensor(), r == root ? b.tensor() : Tensor(), ReduceOp::Sum, root);
        if (r == root)
          expect_all(b, [&](int64_t i) { return reduced(ReduceOp::Sum, n, double(i % 5)); },
                     label("in-place reduce", t, ReduceOp::Sum, count) + fmt::format(" root {}", root));
      }
}

TEST_CASE("all_gather: recv holds size() rank-major blocks") {
  const int r = world().rank(), n = world().size();
  for (DType t : all_dtypes())
    for (int64_t count : awkward_counts()) {
      Buf s(t, count), out(t, count * n);
      fill(s, [&](int64_t i) { return r + 8 * (i % 5); });
      world().all_gather(s.tensor(), out.tensor());
      expect_all(out, [&](int64_t j) { return j / count + 8 * ((j % count) % 5); },
                 fmt::format("all_gather {} count {}", dtype_name(t), count));
    }
  // In place: this rank's block of recv is the send view.
  Buf out(DType::F32, 7 * n);
  fill(out, [&](int64_t j) { return j / 7 == r ? r * 100 + j % 7 : -1; });
  world().all_gather(out.block(7 * r, 7), out.tensor());
  expect_all(out, [&](int64_t j) { return (j / 7) * 100 + j % 7; }, "in-place all_gather");
}

TEST_CASE("reduce_scatter: block b reduced over ranks lands on rank b; every op") {
  const int r = world().rank(), n = world().size();
  for (DType t : all_dtypes())
    for (ReduceOp op : kOps)
      for (int64_t count : awkward_counts()) {
        Buf s(t, count * n), out(t, count);
        fill(s, [&](int64_t j) { return r + 10 * (j / count) + (j % count) % 3; });
        world().reduce_scatter(s.tensor(), out.tensor(), op);
        expect_all(out, [&](int64_t i) { return reduced(op, n, 10.0 * r + i % 3); },
                   label("reduce_scatter", t, op, count));
      }
}

TEST_CASE("gather to every root, scatter from every root") {
  const int r = world().rank(), n = world().size();
  for (DType t : {DType::F32, DType::BF16, DType::I64})
    for (int64_t count : awkward_counts())
      for (int root = 0; root < n; ++root) {
        Buf s(t, count), out(t, count * n);
        fill(s, [&](int64_t i) { return r + 8 * (i % 5); });
        fill(out, [](int64_t) { return -1; });
        world().gather(s.tensor(), r == root ? out.tensor() : Tensor(), root);
        if (r == root)
          expect_all(out, [&](int64_t j) { return j / count + 8 * ((j % count) % 5); },
                     fmt::format("gather {} count {} root {}", dtype_name(t), count, root));

        Buf src(t, count * n), got(t, count);
        fill(src, [&](int64_t j) { return r == root ? j / count + 8 * ((j % count) % 5) : -1; });
        fill(got, [](int64_t) { return -1; });
        world().scatter(r == root ? src.tensor() : Tensor(), got.tensor(), root);
        expect_all(got, [&](int64_t i) { return r + 8 * (i % 5); },
                   fmt::format("scatter {} count {} root {}", dtype_name(t), count, root));
      }
}

TEST_CASE("barrier: no rank leaves it before the last one arrives") {
  for (int i = 0; i < 10; ++i) world().barrier();
  // rank 0 arrives 100 ms late: every rank, rank 0 included, spends at least that long from here to the exit
  const auto t0 = std::chrono::steady_clock::now();
  if (world().rank() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  world().barrier();
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  CHECK(ms >= 90.0);
}

TEST_CASE("messages above the MPI count limit are chunked (limit lowered to 1000 for the test)") {
  const int r = world().rank(), n = world().size();
  ChunkLimit lim(1000);
  const int64_t count = 1000003;  // 1001 chunks, the last one 3 elements
  Buf b(DType::F32, count);
  fill(b, [&](int64_t i) { return r + i % 5; });
  world().all_reduce(b.tensor(), ReduceOp::Sum);
  expect_all(b, [&](int64_t i) { return reduced(ReduceOp::Sum, n, double(i % 5)); }, "chunked all_reduce");

  fill(b, [&](int64_t i) { return r + i % 5; });
  world().broadcast(b.tensor(), n - 1);
  expect_all(b, [&](int64_t i) { return n - 1 + i % 5; }, "chunked broadcast");

  Buf s(DType::BF16, count), out(DType::BF16, count);
  fill(s, [&](int64_t i) { return r + i % 5; });
  world().reduce(s.tensor(), r == 0 ? out.tensor() : Tensor(), ReduceOp::Max, 0);
  if (r == 0) expect_all(out, [&](int64_t i) { return n - 1 + i % 5; }, "chunked reduce");

  const int peer = r ^ 1;
  if (peer < n) {
    Buf mine(DType::I64, count), theirs(DType::I64, count);
    fill(mine, [&](int64_t i) { return r * 10 + i % 7; });
    if (r < peer) {
      world().send(mine.tensor(), peer, 3);
      world().recv(theirs.tensor(), peer, 3);
    } else {
      world().recv(theirs.tensor(), peer, 3);
      world().send(mine.tensor(), peer, 3);
    }
    expect_all(theirs, [&](int64_t i) { return peer * 10 + i % 7; }, "chunked send/recv");
    fill(theirs, [](int64_t) { return -1; });
    auto rq = world().irecv(theirs.tensor(), peer, 4);
    auto sq = world().isend(mine.tensor(), peer, 4);
    rq->wait();
    sq->wait();
    expect_all(theirs, [&](int64_t i) { return peer * 10 + i % 7; }, "chunked isend/irecv");
  }
}

TEST_CASE("gather-family blocks above the count limit are refused with a clear error") {
  ChunkLimit lim(1000);
  const int n = world().size();
  Buf s(DType::F32, 1001), out(DType::F32, 1001 * n);
  try {
    world().all_gather(s.tensor(), out.tensor());
    FAIL("expected an error");
  } catch (const Error& e) {
    std::string m = e.what();
    CHECK(m.find("MPI_Allgather") != std::string::npos);
    CHECK(m.find("1001 elements per rank") != std::string::npos);
  }
  CHECK_THROWS_WITH_AS(world().reduce_scatter(out.tensor(), s.tensor()), doctest::Contains("MPI_Reduce_scatter_block"),
                       Error);
  CHECK_THROWS_AS(dist::set_mpi_chunk_elements(int64_t(INT_MAX) + 1), Error);
  world().barrier();  // nobody communicated above; line up before the next case
}

TEST_CASE("all_reduce out of place: recv gets the reduction, send is left as it was") {
  const int r = world().rank(), n = world().size();
  for (DType t : all_dtypes())
    for (ReduceOp op : kOps)
      for (int64_t count : awkward_counts()) {
        Buf s(t, count), d(t, count);
        fill(s, [&](int64_t i) { return r + i % 5; });
        fill(d, [](int64_t) { return -1; });
        world().all_reduce(s.tensor(), d.tensor(), op);
        expect_all(d, [&](int64_t i) { return reduced(op, n, double(i % 5)); }, label("all_reduce out", t, op, count));
        expect_all(s, [&](int64_t i) { return r + i % 5; }, label("all_reduce send kept", t, op, count));
      }
  Buf a(DType::F32, 4), b(DType::F32, 5);
  CHECK_THROWS_WITH_AS(world().all_reduce(a.tensor(), b.tensor(), ReduceOp::Sum), doctest::Contains("must match"),
                       Error);
}

TEST_CASE("in-place layouts: all_gather from recv's own block, reduce_scatter into send's own block") {
  const int r = world().rank(), n = world().size();
  for (ReduceOp op : kOps)
    for (int64_t k : {int64_t(1), int64_t(7), int64_t(4099), int64_t(300007)}) {  // small, ring, segmented ring
      Buf g(DType::F32, k * n);
      fill(g, [](int64_t) { return -1; });
      Tensor own = g.block(k * r, k);
      for (int64_t i = 0; i < k; ++i) g.set(k * r + i, float(r + i % 5));
      world().all_gather(own, g.tensor());
      expect_all(g, [&](int64_t i) { return i / k + (i % k) % 5; }, label("all_gather in place", DType::F32, op, k));

      Buf s(DType::F32, k * n);
      fill(s, [&](int64_t i) { return r + i % 5; });
      world().reduce_scatter(s.tensor(), s.block(k * r, k), op);
      Buf mine(DType::F32, k);
      for (int64_t i = 0; i < k; ++i) mine.set(i, s.get(k * r + i));
      expect_all(mine, [&](int64_t i) { return reduced(op, n, double((k * r + i) % 5)); },
                 label("reduce_scatter in place", DType::F32, op, k));
    }
}

TEST_CASE("sendrecv around the ring: every rank sends to r+1 and receives from r-1 at once") {
  const int r = world().rank(), n = world().size();
  for (int64_t count : {int64_t(1), int64_t(1000), int64_t(300000)}) {  // eager and rendezvous sizes
    Buf s(DType::F32, count), d(DType::F32, count);
    fill(s, [&](int64_t i) { return r * 10 + i % 7; });
    fill(d, [](int64_t) { return -1; });
    world().sendrecv(s.tensor(), (r + 1) % n, d.tensor(), (r + n - 1) % n, 3);
    const int prev = (r + n - 1) % n;
    expect_all(d, [&](int64_t i) { return prev * 10 + i % 7; }, fmt::format("sendrecv count {}", count));
  }
  Buf s(DType::F32, 1);
  CHECK_THROWS_WITH_AS(world().sendrecv(s.tensor(), n, s.tensor(), 0), doctest::Contains("outside"), Error);
}
