#include "cli/sweep_watchdog.h"

#include <atomic>
#include <chrono>

#include "core/log.h"
#include "dist/comm_wait.h"
#include "dist/mpi_env.h"

namespace autodist::cli {
namespace {
std::atomic<bool> g_failing{false};  // one report per process, whichever thread sees the failure first
}

PointWatchdog::PointWatchdog(std::string point, double timeout_s, bool root,
                             std::function<void(const std::string&)> record)
    : point_(std::move(point)), timeout_s_(timeout_s), root_(root), record_(std::move(record)) {
  dist::set_comm_timeout_hook([this](const std::string& msg) { fail(msg); });
  thread_ = std::thread([this] { watch(); });
}

PointWatchdog::~PointWatchdog() {
  dist::set_comm_timeout_hook({});
  {
    std::lock_guard<std::mutex> lk(mu_);
    done_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void PointWatchdog::watch() {
  std::unique_lock<std::mutex> lk(mu_);
  if (cv_.wait_for(lk, std::chrono::duration<double>(timeout_s_), [&] { return done_; })) return;
  lk.unlock();
  const std::string why = fmt::format("timeout: point {} did not finish within timeout_s = {:g} s", point_, timeout_s_);
  log::write(log::Level::Error, why);
  fail(why);
}

void PointWatchdog::fail(const std::string& why) {
  if (g_failing.exchange(true))
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));  // the other thread aborts the job
  if (root_) {
    try {
      record_(why);
    } catch (const std::exception& e) {
      log::write(log::Level::Error, fmt::format("could not record the failed point {}: {}", point_, e.what()));
    }
    log::write(log::Level::Error, "stopping the sweep (the trace keeps every finished point and this one as failed)");
  } else {
    // Give the root, which records the point, time to see the failure too; it aborts the job when it has.
    std::this_thread::sleep_for(std::chrono::duration<double>(kGraceS));
    log::write(log::Level::Error, "the sweep's root did not end the job; ending it from here");
  }
  dist::abort_world(1);
}

}  // namespace autodist::cli
