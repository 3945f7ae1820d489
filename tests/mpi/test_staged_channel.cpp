// The staged data channel (src/dist/staged_channel.h) with a fake device: "device" tensors are host memory marked
// Device::CUDA, moved by a stager that counts its copies and allocations. Every primitive must give the host
// communicator's values in both placements, and a second round must allocate nothing.
#include <doctest/doctest.h>

#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "dist/mpi_data_channel.h"
#include "dist/staged_channel.h"
#include "mpi_test_util.h"

using namespace autodist;
using namespace autodist::test;
using dist::ReduceOp;

namespace {

struct FakeStager final : dist::Stager {
  int allocs = 0, to_host_calls = 0, to_device_calls = 0, live = 0;
  void* alloc_host(size_t bytes) override {
    ++allocs;
    ++live;
    return std::malloc(bytes);
  }
  void free_host(void* p) override {
    --live;
    std::free(p);
  }
  void to_host(void* host, const Tensor& dev) override {
    REQUIRE(dev.device == Device::CUDA);
    ++to_host_calls;
    std::memcpy(host, dev.data, dev.nbytes());
  }
  void to_device(Tensor dev, const void* host) override {
    REQUIRE(dev.device == Device::CUDA);
    ++to_device_calls;
    std::memcpy(dev.data, host, dev.nbytes());
  }
};

Tensor dev(Tensor t) {
  t.device = Device::CUDA;
  return t;
}
Tensor dev_block(Buf& b, int64_t first, int64_t count) { return dev(b.block(first, count)); }

struct Staged {
  std::shared_ptr<FakeStager> st = std::make_shared<FakeStager>();
  std::unique_ptr<dist::Communicator> c =
      dist::make_staged_channel(dist::make_mpi_data_channel(world().split(0, world().rank())), st);
};

// Every primitive once on device buffers of `count` elements, checked.
void round(dist::Communicator& c, DType t, int64_t count) {
  const int r = c.rank(), n = c.size(), last = n - 1;
  const std::string tag = fmt::format("{} x {}", dtype_name(t), count);
  auto v = [](int rank, int64_t i) { return float((rank + 1) * (i % 5)); };
  auto sum = [&](int64_t i) { return float(n * (n + 1) / 2 * (i % 5)); };
  {  // all_reduce, out of place then in place
    Buf s(t, count), o(t, count);
    fill(s, [&](int64_t i) { return v(r, i); });
    c.all_reduce(dev(s.tensor()), dev(o.tensor()), ReduceOp::Sum);
    expect_all(o, sum, "all_reduce " + tag);
    c.all_reduce(dev(s.tensor()), ReduceOp::Sum);
    expect_all(s, sum, "all_reduce in place " + tag);
  }
  {  // all_gather, both placements
    Buf s(t, count), o(t, count * n);
    fill(s, [&](int64_t i) { return v(r, i); });
    c.all_gather(dev(s.tensor()), dev(o.tensor()));
    expect_all(o, [&](int64_t i) { return v(int(i / count), i % count); }, "all_gather " + tag);
    Buf p(t, count * n);
    for (int64_t i = 0; i < count; ++i) p.set(r * count + i, v(r, i));
    c.all_gather(dev_block(p, r * count, count), dev(p.tensor()));
    expect_all(p, [&](int64_t i) { return v(int(i / count), i % count); }, "all_gather in place " + tag);
  }
  {  // reduce_scatter, both placements
    Buf s(t, count * n), o(t, count);
    fill(s, [&](int64_t i) { return v(r, i); });
    c.reduce_scatter(dev(s.tensor()), dev(o.tensor()), ReduceOp::Sum);
    expect_all(o, [&](int64_t i) { return sum(r * count + i); }, "reduce_scatter " + tag);
    c.reduce_scatter(dev(s.tensor()), dev_block(s, r * count, count), ReduceOp::Sum);
    for (int64_t i = 0; i < count; ++i) o.set(i, s.get(r * count + i));
    expect_all(o, [&](int64_t i) { return sum(r * count + i); }, "reduce_scatter in place " + tag);
  }
  {  // broadcast from the last rank, reduce to it
    Buf b(t, count);
    fill(b, [&](int64_t i) { return r == last ? v(last, i) : -1.0f; });
    c.broadcast(dev(b.tensor()), last);
    expect_all(b, [&](int64_t i) { return v(last, i); }, "broadcast " + tag);
    Buf s(t, count), o(t, count);
    fill(s, [&](int64_t i) { return v(r, i); });
    c.reduce(dev(s.tensor()), dev(o.tensor()), ReduceOp::Sum, last);
    if (r == last) expect_all(o, sum, "reduce " + tag);
  }
  {  // gather to rank 0, scatter from the last rank
    Buf s(t, count), o(t, count * n);
    fill(s, [&](int64_t i) { return v(r, i); });
    c.gather(dev(s.tensor()), r == 0 ? dev(o.tensor()) : Tensor(), 0);
    if (r == 0) expect_all(o, [&](int64_t i) { return v(int(i / count), i % count); }, "gather " + tag);
    Buf all(t, count * n), mine(t, count);
    fill(all, [&](int64_t i) { return v(int(i / count), i % count); });
    c.scatter(r == last ? dev(all.tensor()) : Tensor(), dev(mine.tensor()), last);
    expect_all(mine, [&](int64_t i) { return v(r, i); }, "scatter " + tag);
  }
  {  // sendrecv around the ring, then isend/irecv the other way (the receive completed through test())
    const int next = (r + 1) % n, prev = (r + n - 1) % n;
    Buf s(t, count), o(t, count), o2(t, count);
    fill(s, [&](int64_t i) { return v(r, i); });
    c.sendrecv(dev(s.tensor()), next, dev(o.tensor()), prev, 3);
    expect_all(o, [&](int64_t i) { return v(prev, i); }, "sendrecv " + tag);
    auto rq = c.irecv(dev(o2.tensor()), next, 4);
    auto sq = c.isend(dev(s.tensor()), prev, 4);
    while (!rq->test()) {
    }
    sq->wait();
    expect_all(o2, [&](int64_t i) { return v(next, i); }, "isend/irecv " + tag);
  }
}

}  // namespace

TEST_CASE("staged channel: every primitive on device buffers, f32 and bf16, small and ring sizes") {
  Staged s;
  for (DType t : {DType::F32, DType::BF16})
    for (int64_t count : {int64_t{1}, int64_t{7}, int64_t{100003}}) round(*s.c, t, count);
  CHECK(s.st->to_host_calls > 0);
  CHECK(s.st->to_device_calls > 0);
  CHECK(s.c->backend_name() == "mpi");
}

TEST_CASE("staged channel: a warm round allocates no host memory") {
  Staged s;
  round(*s.c, DType::F32, 50000);
  const int warm = s.st->allocs;
  round(*s.c, DType::F32, 50000);
  round(*s.c, DType::F32, 3);
  CHECK(s.st->allocs == warm);
}

TEST_CASE("staged channel: host tensors pass through, split channels stage too, bad sizes are named") {
  Staged s;
  const int r = s.c->rank(), n = s.c->size();
  Buf h(DType::F32, 5);
  fill(h, [&](int64_t) { return 1.0f; });
  s.c->all_reduce(h.tensor(), ReduceOp::Sum);
  expect_all(h, [&](int64_t) { return float(n); }, "host all_reduce");
  CHECK(s.st->to_host_calls == 0);
  auto sub = s.c->split(r % 2, r);
  REQUIRE(sub);
  Buf d(DType::F32, 5);
  fill(d, [&](int64_t) { return 1.0f; });
  sub->all_reduce(dev(d.tensor()), ReduceOp::Sum);
  expect_all(d, [&](int64_t) { return float(sub->size()); }, "split all_reduce");
  CHECK(s.st->to_host_calls == 1);
  Buf a(DType::F32, 4), b(DType::F32, 5);
  std::string err;
  try {
    s.c->all_reduce(dev(a.tensor()), dev(b.tensor()), ReduceOp::Sum);
  } catch (const Error& e) {
    err = e.what();
  }
  CHECK(err.find("all_reduce: a buffer has 5 elements, expected 4") != std::string::npos);
}

TEST_CASE("staged channel: every host buffer is freed with the channel") {
  auto st = std::make_shared<FakeStager>();
  {
    auto c = dist::make_staged_channel(dist::make_mpi_data_channel(world().split(0, world().rank())), st);
    round(*c, DType::F32, 1000);
  }
  CHECK(st->live == 0);
}
