#include "dist/nccl_join.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "core/tensor.h"
#include "dist/communicator.h"

namespace autodist::dist {
namespace {

constexpr int kJoinTag = 0x6e63;  // the outcome messages of step 3; nothing else on the control channel uses it

enum Outcome : int32_t { kReady = 0, kFailed = 1, kTimedOut = 2, kPeerFailed = 3, kPending = 4 };

// One rank's outcome of a step, moved as int32 words.
struct Report {
  int32_t outcome = kPending;
  char why[252] = {0};
};
static_assert(sizeof(Report) % 4 == 0);
constexpr int64_t kReportWords = sizeof(Report) / 4;

Tensor words(Report& r) { return Tensor(&r, DType::I32, {kReportWords}); }

Report report(int32_t outcome, const std::string& why) {
  Report r;
  r.outcome = outcome;
  std::strncpy(r.why, why.c_str(), sizeof(r.why) - 1);
  return r;
}

// "rank 2: <why>; rank 3: timed out ..." for the ranks whose own step failed (not those that only saw a peer fail).
std::string failures(const std::vector<Report>& all) {
  std::string s;
  for (size_t r = 0; r < all.size(); ++r)
    if (all[r].outcome == kFailed || all[r].outcome == kTimedOut)
      s += fmt::format("{}rank {}: {}", s.empty() ? "" : "; ", r, all[r].why);
  return s;
}

// Step 1: rank 0's id and whether it made one, in one broadcast: a failure there must not leave the others waiting.
void share_id(Communicator& ctrl, NcclJoin& join, char* id) {
  struct {
    Report rep;
    char id[NcclJoin::kIdBytes];
  } msg{};
  static_assert(sizeof(msg) % 4 == 0);
  if (ctrl.rank() == 0) {
    try {
      join.unique_id(msg.id);
      msg.rep.outcome = kReady;
    } catch (const Error& e) {
      msg.rep = report(kFailed, e.what());
    }
  }
  ctrl.broadcast(Tensor(&msg, DType::I32, {static_cast<int64_t>(sizeof(msg) / 4)}), 0);
  AD_CHECK(msg.rep.outcome == kReady, "nccl init: rank 0 of the group of {} could not make the unique id: {}",
           ctrl.size(), msg.rep.why);
  std::memcpy(id, msg.id, sizeof(msg.id));
}

// Step 2: every rank's preparation, gathered; no rank starts the init unless all are ready.
void agree_ready(Communicator& ctrl, NcclJoin& join) {
  Report mine = report(kReady, "");
  try {
    join.prepare();
  } catch (const Error& e) {
    mine = report(kFailed, e.what());
  }
  std::vector<Report> all(static_cast<size_t>(ctrl.size()));
  ctrl.all_gather(words(mine), Tensor(all.data(), DType::I32, {kReportWords * ctrl.size()}));
  const std::string failed = failures(all);
  AD_CHECK(failed.empty(), "nccl init of a group of {} ranks: not every rank could prepare, so none started it: {}",
           ctrl.size(), failed);
}

// Step 3 on this rank: the init's outcome, or the first peer failure seen while it was pending.
Report run_init(NcclJoin& join, const char* id, int n, int me, double timeout_s, std::vector<Report>& got,
                std::vector<std::unique_ptr<CommRequest>>& rq, std::vector<bool>& arrived) {
  try {
    join.start(id, n, me);
  } catch (const Error& e) {
    return report(kFailed, e.what());
  }
  const int64_t t0 = now_ns();
  auto pause = std::chrono::microseconds(50);
  for (;;) {
    std::string why;
    NcclJoin::State s = NcclJoin::State::Failed;
    try {
      s = join.poll(why);
    } catch (const Error& e) {
      why = e.what();
    }
    if (s == NcclJoin::State::Ready) return report(kReady, "");
    if (s == NcclJoin::State::Failed) return report(kFailed, why);
    for (int p = 0; p < n; ++p) {
      if (p == me || arrived[p] || !rq[p]->test()) continue;
      arrived[p] = true;
      if (got[p].outcome != kReady) return report(kPeerFailed, fmt::format("aborted: rank {} failed", p));
    }
    const double waited = (now_ns() - t0) * 1e-9;
    if (waited > timeout_s)
      return report(kTimedOut, fmt::format("the init was still pending after {:.3g} s (--comm-timeout)", waited));
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(2000));
  }
}

}  // namespace

void join_nccl(Communicator& ctrl, NcclJoin& join, double timeout_s) {
  const int n = ctrl.size(), me = ctrl.rank();
  char id[NcclJoin::kIdBytes];
  share_id(ctrl, join, id);
  agree_ready(ctrl, join);
  // Step 3: every peer's outcome is awaited from the start, so that a failure elsewhere is seen while polling.
  std::vector<Report> got(static_cast<size_t>(n));
  std::vector<std::unique_ptr<CommRequest>> rq(static_cast<size_t>(n)), sq(static_cast<size_t>(n));
  std::vector<bool> arrived(static_cast<size_t>(n), false);
  for (int p = 0; p < n; ++p)
    if (p != me) rq[p] = ctrl.irecv(words(got[p]), p, kJoinTag);
  Report mine = run_init(join, id, n, me, timeout_s, got, rq, arrived);
  if (mine.outcome != kReady) join.abort();
  for (int p = 0; p < n; ++p)
    if (p != me) sq[p] = ctrl.isend(words(mine), p, kJoinTag);
  // Step 4: every outcome (each peer sends once its own step 3 ends, itself bounded by timeout_s).
  for (int p = 0; p < n; ++p)
    if (p != me) rq[p]->wait();
  for (int p = 0; p < n; ++p)
    if (p != me) sq[p]->wait();
  got[me] = mine;
  bool all_ready = true;
  for (const Report& r : got) all_ready = all_ready && r.outcome == kReady;
  if (all_ready) return;
  if (mine.outcome == kReady) join.abort();  // a communicator whose peers failed cannot be used
  const std::string failed = failures(got);
  AD_FAIL("nccl init of a group of {} ranks failed, and every rank aborted its communicator: {}", n,
          failed.empty() ? std::string("no rank said why") : failed);
}

}  // namespace autodist::dist
