// defines: now_ns (steady clock), Stopwatch
#pragma once
#include <chrono>
#include <cstdint>

namespace autodist {

inline int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct Stopwatch {
  int64_t t0 = now_ns();
  double ms() const { return (now_ns() - t0) * 1e-6; }
  void reset() { t0 = now_ns(); }
};

}  // namespace autodist
