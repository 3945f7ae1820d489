// defines: Event (one timed region, DESIGN.md's event form), Trace (thread-safe collector),
//          gather_events (to rank 0), phase summary
#pragma once
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "core/clock.h"

namespace autodist::dist {
class Communicator;
}

namespace autodist::trace {

// Phases are short fixed names: "prefill", "chunk", "sync_send", "sync_recv", "sync", "decode", "total".
struct Event {
  int32_t rank = 0;
  char phase[16] = {0};
  int32_t layer = -1, chunk = -1, step = -1, micro_batch = -1;
  int64_t t_start_ns = 0, t_end_ns = 0;
  int64_t bytes = 0;
  double ms() const { return (t_end_ns - t_start_ns) * 1e-6; }
  static Event make(int32_t rank, const char* phase, int64_t t0, int64_t t1, int64_t bytes = 0, int chunk = -1,
                    int layer = -1, int step = -1, int mb = -1);
};

class Trace {
 public:
  explicit Trace(int rank = 0) : rank_(rank) {}
  void set_rank(int r) { rank_ = r; }
  // Records [t0, now) under `phase`.
  void add(const char* phase, int64_t t0, int64_t t1, int64_t bytes = 0, int chunk = -1, int layer = -1,
           int step = -1, int mb = -1);
  std::vector<Event> events() const;
  void clear();

 private:
  int rank_;
  mutable std::mutex mu_;
  std::vector<Event> ev_;
};

// All ranks' events on rank 0 (empty elsewhere); comm may be null (one rank).
std::vector<Event> gather_events(const std::vector<Event>& mine, dist::Communicator* comm);

}  // namespace autodist::trace

namespace autodist::trace {
// Per rank: prefill start/end, sync done, decode start/end, total (ms from the earliest event),
// plus sync bytes; a markdown table.
std::string phase_summary(const std::vector<Event>& all);
}  // namespace autodist::trace
