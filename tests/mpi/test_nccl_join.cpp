// join_nccl (src/dist/nccl_join.h) with a fake NcclJoin: the init protocol of the nccl communicator, without a GPU.
// Every case runs on every rank; the failures are placed on chosen ranks and must end the join on all of them.
#include <doctest/doctest.h>

#include <cstring>

#include "core/clock.h"
#include "core/error.h"
#include "dist/nccl_join.h"
#include "mpi_test_util.h"

using namespace autodist;
using namespace autodist::test;
using State = dist::NcclJoin::State;

namespace {

// Ready after `ready_after` polls (-1: pending until aborted, as a real init is when a peer is gone); failures where
// asked.
struct FakeJoin final : dist::NcclJoin {
  bool fail_id = false, fail_prepare = false, fail_start = false;
  int fail_after = -1, ready_after = 2;
  int polls = 0;
  bool started = false, aborted = false;
  std::string id_seen;
  void unique_id(char* id) override {
    if (fail_id) AD_FAIL("ncclGetUniqueId: no usable network interface");
    std::memset(id, 0, kIdBytes);
    std::strcpy(id, "fake-id-42");
  }
  void prepare() override {
    if (fail_prepare) AD_FAIL("cudaSetDevice(3): invalid device ordinal");
  }
  void start(const char* id, int, int) override {
    id_seen = id;
    started = true;
    if (fail_start) AD_FAIL("ncclCommInitRankConfig: unhandled system error");
  }
  State poll(std::string& why) override {
    ++polls;
    REQUIRE_FALSE(aborted);  // nothing is polled after an abort
    if (fail_after >= 0 && polls > fail_after) {
      why = "remote process exited or there was a network error";
      return State::Failed;
    }
    return ready_after >= 0 && polls > ready_after ? State::Ready : State::Pending;
  }
  void abort() noexcept override { aborted = true; }
};

// Runs the join; returns the error message ("" when it succeeded) and the seconds it took.
std::string join(FakeJoin& j, double timeout_s, double* seconds = nullptr) {
  const int64_t t0 = now_ns();
  std::string err;
  try {
    dist::join_nccl(world(), j, timeout_s);
  } catch (const Error& e) {
    err = e.what();
  }
  if (seconds) *seconds = (now_ns() - t0) * 1e-9;
  return err;
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("nccl join: every rank ready, one id for all") {
  FakeJoin j;
  CHECK(join(j, 60) == "");
  CHECK(j.id_seen == "fake-id-42");
  CHECK(j.started);
  CHECK_FALSE(j.aborted);
}

TEST_CASE("nccl join: rank 0 without an id ends the join on every rank, none starts") {
  FakeJoin j;
  j.fail_id = world().rank() == 0;
  const std::string err = join(j, 60);
  CHECK(has(err, "rank 0 of the group"));
  CHECK(has(err, "no usable network interface"));
  CHECK_FALSE(j.started);
}

TEST_CASE("nccl join: a rank that cannot prepare keeps every rank out of the init") {
  const int last = world().size() - 1;
  FakeJoin j;
  j.fail_prepare = world().rank() == last;
  const std::string err = join(j, 60);
  CHECK(has(err, fmt::format("rank {}: ", last)));
  CHECK(has(err, "invalid device ordinal"));
  CHECK(has(err, "none started"));
  CHECK_FALSE(j.started);  // on every rank: nobody waits in an init its peer never joins
}

TEST_CASE("nccl join: one rank's failed init aborts the others' pending inits at once") {
  const int last = world().size() - 1;
  FakeJoin j;
  j.ready_after = -1;  // the others would wait for ever
  if (world().rank() == last) j.fail_after = 3;
  double s = 0;
  const std::string err = join(j, 60, &s);
  CHECK(has(err, fmt::format("rank {}: remote process exited", last)));
  CHECK(has(err, "every rank aborted"));
  CHECK(j.aborted);
  CHECK(s < 30);  // not the 60 s timeout (typically a few ms)
}

TEST_CASE("nccl join: a failed start on rank 0 while the others are pending") {
  FakeJoin j;
  j.ready_after = -1;
  j.fail_start = world().rank() == 0;
  double s = 0;
  const std::string err = join(j, 60, &s);
  CHECK(has(err, "rank 0: ncclCommInitRankConfig: unhandled system error"));
  CHECK(j.aborted);
  CHECK(s < 30);
}

TEST_CASE("nccl join: an init that never completes times out on every rank") {
  FakeJoin j;
  j.ready_after = -1;
  double s = 0;
  const std::string err = join(j, 0.3, &s);
  CHECK(has(err, "the init was still pending after"));  // on the first rank to time out; it aborts the rest
  CHECK(j.aborted);
  CHECK(s >= 0.3);
  CHECK(s < 30);
}

TEST_CASE("nccl join: ranks ready at different times") {
  FakeJoin j;
  j.ready_after = 1 + 20 * world().rank();
  CHECK(join(j, 60) == "");
  CHECK_FALSE(j.aborted);
}
