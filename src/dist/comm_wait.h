// defines: set_comm_timeout / comm_timeout (--comm-timeout), CommScope (what a thread's waits are for),
//          Backoff (spin, yield, then sleep), wait_for_peer (the one wait on a peer), comm_timed_out,
//          set_comm_timeout_hook
//
// Every wait of a rank on its peers goes through wait_for_peer: it polls a non-blocking operation (MPI_Test on an
// MPI_I* request), spinning for 2 ms so a fast reply costs nothing (a non-blocking collective advances only inside
// MPI_Test: a sleep between its rounds would stall it), then yielding up to 50 ms (from 10 ms, libnbc's 16 MiB
// MPI_Ireduce took 1.1 s instead of 9.6: ~1 ms a round once the sleeps begin), then sleeping 50 us doubling to
// 1 ms, so a rank whose peer is stopped or stuck sits at a few % of a core instead of 100%. A wait
// longer than --comm-timeout (default 600 s, torch.distributed's process-group timeout) ends the job: the waiting
// rank logs "rank R: waited T s in OP ...", runs the hook (a sweep records its point), and calls MPI_Abort so
// every peer ends too. As NCCL's blocking wait and torch's watchdog do, the timeout is per operation.
#pragma once
#include <algorithm>
#include <chrono>
#include <functional>
#include <string>

namespace autodist::dist {

// Seconds a rank may wait on its peers in one operation; > 0 (checked). Every rank must set the same value.
void set_comm_timeout(double seconds);
double comm_timeout();

// Runs on the rank that timed out, with the message, before the job is aborted (never twice). Must not wait on
// peers. An empty function removes it.
void set_comm_timeout_hook(std::function<void(const std::string&)> hook);

// While alive, timeout messages of this thread's waits end with "(<purpose>)", e.g. "pipeline activations".
// purpose must outlive the scope (a string literal).
class CommScope {
 public:
  explicit CommScope(const char* purpose);
  ~CommScope();
  CommScope(const CommScope&) = delete;
  CommScope& operator=(const CommScope&) = delete;
  static const char* current();  // nullptr outside any scope

 private:
  const char* prev_;
};

// Logs "rank R: waited T s in <what> (<purpose>) ...", runs the hook, aborts the job. Only the first caller of the
// process reports; a second thread that times out meanwhile waits for the abort.
[[noreturn]] void comm_timed_out(const std::string& what, double waited_s);

// Oversubscribed hosts (more ranks than cores): a rank spinning on a core for 2 ms keeps the peer it waits for off
// it (4 ranks on 2 cores at tp 2 x pp 2 took 4.1 ms a decode step instead of 0.25). With this on, every wait
// yields from its first pause (no spin). ParallelGroups::make turns it on when the ranks on this machine (one kernel
// boot id, whatever their hostnames) outnumber the cores a rank may use; MpiEnv when OMPI_MCA_mpi_yield_when_idle=1
// asks Open MPI to yield too.
void set_wait_yield_at_once(bool on);
bool wait_yield_at_once();

// Pause between two polls of a pending operation: busy until `spin` has passed since the first poll, then
// sched_yield until `yield`, then sleeps of 50 us doubling up to `max_sleep`. With set_wait_yield_at_once (a crowded
// machine): no spin, yield until `yield_crowded`, sleeps up to `max_sleep_crowded`. A yielding rank stays runnable,
// and each of its polls costs system calls (epoll on TCP links): on the 2-host namespace cluster, tp 2 x pp 2 (4 ranks,
// 2 cores) spent 45% of its CPU in the kernel and decoded at 39-43 ms/step against 23 on one host, the idle stage's
// polls taking cores from the busy one; sleeping frees the core.
struct BackoffPolicy {
  std::chrono::microseconds spin{2000}, yield{50000}, max_sleep{1000};
  std::chrono::microseconds yield_crowded{200}, max_sleep_crowded{250};
  // When a wait stops yielding and starts sleeping, and its longest sleep, on a crowded machine or not.
  std::chrono::microseconds sleep_after(bool crowded) const { return crowded ? std::min(yield, yield_crowded) : yield; }
  std::chrono::microseconds longest_sleep(bool crowded) const { return crowded ? max_sleep_crowded : max_sleep; }
};
constexpr BackoffPolicy kSleepAtOnce{std::chrono::microseconds(0), std::chrono::microseconds(0)};

class Backoff {
 public:
  explicit Backoff(BackoffPolicy p = {}) : p_(p) {}
  // Call after each poll that found the operation pending; returns the seconds since the first call.
  double pause();

 private:
  BackoffPolicy p_;
  std::chrono::steady_clock::time_point t0_{};
  bool started_ = false, spinning_ = true;
  unsigned polls_ = 0;
  double waited_s_ = 0;
  std::chrono::microseconds sleep_{50};
};

// Polls done() (true once the operation completed; it may throw to stop the wait) until it returns true. Past
// comm_timeout() seconds, calls comm_timed_out(describe(), waited). describe() is called only then, so the fast
// path formats nothing.
template <typename Done, typename Describe>
void wait_for_peer(Done&& done, Describe&& describe, BackoffPolicy policy = {}) {
  if (done()) return;
  Backoff b(policy);
  const double limit = comm_timeout();
  while (!done()) {
    const double waited = b.pause();
    if (waited > limit) comm_timed_out(describe(), waited);
  }
}

}  // namespace autodist::dist
