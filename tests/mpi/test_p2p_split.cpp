// Point-to-point, non-blocking requests, split communicators and error reporting.
#include <doctest/doctest.h>

#include "core/error.h"
#include "mpi_test_util.h"

using namespace autodist;
using namespace autodist::test;
using dist::ReduceOp;

TEST_CASE("send/recv between pairs r and r^1 (an odd last rank idles)") {
  const int r = world().rank(), n = world().size(), peer = r ^ 1;
  for (DType t : all_dtypes())
    for (int64_t count : awkward_counts()) {
      if (peer >= n) continue;
      Buf mine(t, count), theirs(t, count);
      fill(mine, [&](int64_t i) { return r + 4 * (i % 7); });
      // Lower rank sends first, so a rendezvous-size message cannot deadlock.
      if (r < peer) {
        world().send(mine.tensor(), peer);
        world().recv(theirs.tensor(), peer);
      } else {
        world().recv(theirs.tensor(), peer);
        world().send(mine.tensor(), peer);
      }
      expect_all(theirs, [&](int64_t i) { return peer + 4 * (i % 7); },
                 fmt::format("send/recv {} count {}", dtype_name(t), count));
    }
}

TEST_CASE("isend/irecv around the ring, then wait") {
  const int r = world().rank(), n = world().size();
  const int right = (r + 1) % n, left = (r + n - 1) % n;
  for (int64_t count : awkward_counts()) {
    Buf mine(DType::F32, count), got(DType::F32, count);
    fill(mine, [&](int64_t i) { return r * 1000 + i % 11; });
    auto rq = world().irecv(got.tensor(), left, 7);
    auto sq = world().isend(mine.tensor(), right, 7);
    sq->wait();
    rq->wait();
    rq->wait();  // a second wait is a no-op
    expect_all(got, [&](int64_t i) { return left * 1000 + i % 11; }, fmt::format("ring count {}", count));
  }
}

TEST_CASE("isend/irecv: tags select messages posted in the opposite order") {
  const int r = world().rank(), n = world().size(), peer = r ^ 1;
  if (peer < n) {
    Buf a(DType::I32, 7), b(DType::I32, 7), ga(DType::I32, 7), gb(DType::I32, 7);
    fill(a, [&](int64_t i) { return r * 100 + i; });
    fill(b, [&](int64_t i) { return r * 100 + 50 + i; });
    auto rb = world().irecv(gb.tensor(), peer, 2);  // tag 2 posted first
    auto ra = world().irecv(ga.tensor(), peer, 1);
    auto sa = world().isend(a.tensor(), peer, 1);
    auto sb = world().isend(b.tensor(), peer, 2);
    ra->wait();
    rb->wait();
    sa->wait();
    sb->wait();
    expect_all(ga, [&](int64_t i) { return peer * 100 + i; }, "tag 1");
    expect_all(gb, [&](int64_t i) { return peer * 100 + 50 + i; }, "tag 2");
  }
}

TEST_CASE("a CommRequest destroyed without wait() still completes") {
  const int r = world().rank(), n = world().size();
  const int right = (r + 1) % n, left = (r + n - 1) % n;
  Buf mine(DType::F32, 1000), got(DType::F32, 1000);
  fill(mine, [&](int64_t i) { return r + i % 3; });
  {
    auto rq = world().irecv(got.tensor(), left);
    auto sq = world().isend(mine.tensor(), right);
  }  // destructors wait
  expect_all(got, [&](int64_t i) { return left + i % 3; }, "destroyed requests");
}

TEST_CASE("split by parity, key reversing the order; collectives on the sub-communicator") {
  const int r = world().rank(), n = world().size();
  auto sub = world().split(r % 2, -r);
  REQUIRE(sub);
  int members = 0, position = 0, rank_sum = 0;
  for (int s = 0; s < n; ++s)
    if (s % 2 == r % 2) {
      ++members;
      rank_sum += s;
      if (s > r) ++position;  // key -s: larger world ranks come first
    }
  CHECK(sub->size() == members);
  CHECK(sub->rank() == position);
  CHECK(sub->backend_name() == "mpi");

  Buf b(DType::I64, 7);
  fill(b, [&](int64_t i) { return r + i; });
  sub->all_reduce(b.tensor(), ReduceOp::Sum);
  expect_all(b, [&](int64_t i) { return rank_sum + members * i; }, "all_reduce on the parity group");

  Buf g(DType::F32, 3 * members);
  Buf s(DType::F32, 3);
  fill(s, [&](int64_t i) { return r * 10 + i; });
  sub->all_gather(s.tensor(), g.tensor());
  // Block k comes from the member at sub rank k: world ranks of this parity in descending order.
  std::vector<int> order;
  for (int w = n - 1; w >= 0; --w)
    if (w % 2 == r % 2) order.push_back(w);
  expect_all(g, [&](int64_t j) { return order[j / 3] * 10 + j % 3; }, "all_gather on the parity group");

  auto nested = sub->split(0, sub->rank());  // everyone in one color: same group, same order
  REQUIRE(nested);
  CHECK(nested->size() == sub->size());
  CHECK(nested->rank() == sub->rank());
  nested->barrier();
}

TEST_CASE("split with a negative color leaves that rank out") {
  const int r = world().rank(), n = world().size();
  auto sub = world().split(r == 0 ? -1 : 0, r);
  if (r == 0) {
    CHECK(sub == nullptr);
  } else {
    REQUIRE(sub);
    CHECK(sub->size() == n - 1);
    CHECK(sub->rank() == r - 1);
    int32_t one = 1;
    sub->all_reduce(Tensor(&one, DType::I32, Shape{1}));
    CHECK(one == n - 1);
  }
}

TEST_CASE("bad arguments throw before any communication") {
  const int n = world().size();
  Buf a(DType::F32, 4), b(DType::F32, 4), c(DType::I32, 4 * n), odd(DType::F32, 4 * n + 1);
  CHECK_THROWS_WITH_AS(world().send(a.tensor(), n), doctest::Contains("peer"), Error);
  CHECK_THROWS_WITH_AS(world().irecv(a.tensor(), -1), doctest::Contains("peer"), Error);
  CHECK_THROWS_WITH_AS(world().broadcast(a.tensor(), n), doctest::Contains("root"), Error);
  CHECK_THROWS_WITH_AS(world().reduce(a.tensor(), b.tensor(), ReduceOp::Sum, -1), doctest::Contains("root"), Error);
  CHECK_THROWS_WITH_AS(world().all_gather(a.tensor(), odd.tensor()), doctest::Contains("all_gather"), Error);
  CHECK_THROWS_WITH_AS(world().all_gather(a.tensor(), c.tensor()), doctest::Contains("must match"), Error);
  Tensor dev = a.tensor();
  dev.device = Device::CUDA;
  CHECK_THROWS_WITH_AS(world().all_reduce(dev), doctest::Contains("device buffers need the CUDA build"), Error);
  CHECK_THROWS_WITH_AS(world().isend(dev, 0), doctest::Contains("device buffers need the CUDA build"), Error);
  world().barrier();
}

TEST_CASE("MPI return codes become Errors naming the call, the rank and MPI's message") {
  const int r = world().rank();
  Buf a(DType::F32, 4);
  std::string msg;
  try {
    world().send(a.tensor(), 0, /*tag=*/-5);  // MPI_ERR_TAG, reported, not aborted (send posts MPI_Isend)
  } catch (const Error& e) {
    msg = e.what();
  }
  INFO(msg);
  CHECK(msg.find("MPI_Isend failed on rank " + std::to_string(r)) != std::string::npos);
  CHECK(msg.find("tag") != std::string::npos);

  // Split communicators return errors as codes too (their errhandler is set on creation).
  auto sub = world().split(0, r);
  REQUIRE(sub);
  CHECK_THROWS_WITH_AS(sub->recv(a.tensor(), 0, -7), doctest::Contains("MPI_Irecv failed"), Error);
  world().barrier();
}
