// defines: PointWatchdog (ends a sweep point that runs past its timeout_s or times out in a wait on a peer, after
//          the point is recorded as failed)
//
// A sweep point whose ranks are all inside it (stuck in compute, or waiting on a stopped peer) never reaches the
// status exchange after the point, so that exchange's own time limit cannot end it. While a PointWatchdog lives,
// a thread on every rank of the point watches timeout_s, and the --comm-timeout hook is set: the root records the
// point ("failed", with the reason) through `record` and aborts the job, as the sweep does for a point that times
// out. The other ranks give the root a grace period to record before they abort on their own (a stopped root
// cannot record; then the point is missing from the trace, and the log says why).
#pragma once
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace autodist::cli {

class PointWatchdog {
 public:
  // record(reason) runs on the root only, once, from the watchdog's thread or from the thread that timed out.
  PointWatchdog(std::string point, double timeout_s, bool root, std::function<void(const std::string&)> record);
  ~PointWatchdog();
  PointWatchdog(const PointWatchdog&) = delete;
  PointWatchdog& operator=(const PointWatchdog&) = delete;

  // Seconds the non-root ranks wait for the root to record before they end the job themselves.
  static constexpr double kGraceS = 10;

 private:
  [[noreturn]] void fail(const std::string& why);
  void watch();

  std::string point_;
  double timeout_s_;
  bool root_;
  std::function<void(const std::string&)> record_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace autodist::cli
