#include "dist/comm_wait.h"

#include <sched.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "core/error.h"
#include "core/log.h"
#include "dist/mpi_env.h"

namespace autodist::dist {
namespace {

std::atomic<double> g_timeout{600.0};
std::mutex g_hook_mu;
std::function<void(const std::string&)> g_hook;
std::atomic<bool> g_timed_out{false};
std::atomic<bool> g_yield_at_once{false};
thread_local const char* t_purpose = nullptr;

}  // namespace

void set_comm_timeout(double seconds) {
  AD_CHECK(seconds > 0 && seconds < 1e9, "--comm-timeout must be a positive number of seconds, got {}", seconds);
  g_timeout = seconds;
}
double comm_timeout() { return g_timeout; }

void set_wait_yield_at_once(bool on) { g_yield_at_once = on; }
bool wait_yield_at_once() { return g_yield_at_once.load(std::memory_order_relaxed); }

void set_comm_timeout_hook(std::function<void(const std::string&)> hook) {
  std::lock_guard<std::mutex> lk(g_hook_mu);
  g_hook = std::move(hook);
}

CommScope::CommScope(const char* purpose) : prev_(t_purpose) { t_purpose = purpose; }
CommScope::~CommScope() { t_purpose = prev_; }
const char* CommScope::current() { return t_purpose; }

void comm_timed_out(const std::string& what, double waited_s) {
  if (g_timed_out.exchange(true)) {
    // Another thread of this rank is reporting and will abort the job.
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  const int rank = MpiEnv::initialized() ? MpiEnv::init().rank() : 0;
  const std::string msg = fmt::format(
      "rank {}: waited {:.1f} s in {}{} with no progress (--comm-timeout {:g} s): a peer is stopped, stuck or dead; "
      "ending the job on every rank",
      rank, waited_s, what, t_purpose ? fmt::format(" ({})", t_purpose) : "", g_timeout.load());
  log::write(log::Level::Error, msg);  // whatever the log level
  std::function<void(const std::string&)> hook;
  {
    std::lock_guard<std::mutex> lk(g_hook_mu);
    hook = g_hook;
  }
  if (hook) {
    try {
      hook(msg);
    } catch (const std::exception& e) {
      log::write(log::Level::Error, fmt::format("while recording the timeout: {}", e.what()));
    }
  }
  abort_world(1);
}

double Backoff::pause() {
  using namespace std::chrono;
  // While spinning, the clock is read every 16th poll only: a read costs about as much as one MPI_Test of a pending
  // small message, and a poll loop that reads it every time notices the reply later (8 B sendrecv 1.15-1.3x MPI's).
  if (spinning_ && (++polls_ & 15) != 1) return waited_s_;
  const auto now = steady_clock::now();
  if (!started_) t0_ = now, started_ = true;
  const auto waited = now - t0_;
  waited_s_ = duration<double>(waited).count();
  spinning_ = waited < p_.spin && !wait_yield_at_once();
  if (spinning_) return waited_s_;
  const bool crowded = wait_yield_at_once();
  if (waited < p_.sleep_after(crowded)) {
    sched_yield();
  } else {
    std::this_thread::sleep_for(sleep_);
    sleep_ = std::min<microseconds>(sleep_ * 2, p_.longest_sleep(crowded));
  }
  return waited_s_;
}

}  // namespace autodist::dist
