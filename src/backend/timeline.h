// defines: Timeline (timed regions of a run as pairs of backend timer marks, resolved once the work is done)
//
// Every traced region is two Backend::timer_mark()s: on the cpu the steady clock when the host reached them, on
// cuda events on the stream, so a region measures execution, not enqueue. Regions are kept as marks until
// resolve(), which runs after the run's last synchronize; counters add up many short regions (the tensor-parallel
// all_reduces of a step) the same way. Storage is reserved up front: recording a region does not allocate.
// Thread-safe (the KV sync records from its own thread).
#pragma once
#include <cstdint>
#include <functional>
#include <mutex>
#include <utility>
#include <vector>

namespace autodist {

class Backend;

struct Region {
  const char* phase = "";  // a fixed name: "step", "prefill", "chunk", ...
  int64_t m0 = -1, m1 = -1;
  int64_t bytes = 0;
  int chunk = -1, layer = -1, step = -1, micro_batch = -1;
};

enum class Counter { TpComm, PpComm, kCount };
// Counter spans are summed in two banks, before and after the split mark (the runtime's end of the prefill).
constexpr int kBanks = 2;

class Timeline {
 public:
  explicit Timeline(Backend& be) : be_(be) {}
  // Room for n regions and n counter spans without allocating.
  void reserve(size_t n);
  int64_t mark();
  void add(const Region& r);
  // Adds [m0, m1) to counter c of the current bank (resolved with the regions).
  void count(Counter c, int64_t m0, int64_t m1);
  // Runs f between two marks counted under c; returns the marks (for a region of the same span).
  template <typename F>
  std::pair<int64_t, int64_t> timed(Counter c, F&& f) {
    const int64_t m0 = mark();
    f();
    const int64_t m1 = mark();
    count(c, m0, m1);
    return {m0, m1};
  }
  // Counter time up to this mark goes to bank 0, after it to bank 1 (a span across it is cut there); until it is set,
  // or with -1, everything is bank 0. Sums by time, not by when a span was recorded: a stage before the last waits for
  // its first tokens at step 1, and that wait is still the prefill.
  void split_at(int64_t mark);
  // Waits for the backend's work, converts every region to steady-clock ns and hands it to fn (in recording order),
  // adds the counter spans up, then forgets the marks and the split. Returns the counters in ns.
  struct Totals {
    int64_t ns[kBanks][static_cast<int>(Counter::kCount)] = {};
    int64_t at(int bank, Counter c) const { return ns[bank][static_cast<int>(c)]; }
    int64_t sum(int bank) const {
      int64_t t = 0;
      for (int64_t v : ns[bank]) t += v;
      return t;
    }
  };
  Totals resolve(const std::function<void(const Region&, int64_t t0_ns, int64_t t1_ns)>& fn);
  // Steady-clock ns of a mark (waits for it); valid until resolve().
  int64_t ns(int64_t mark);

 private:
  Backend& be_;
  std::mutex mu_;
  std::vector<Region> regions_;
  struct Span {
    Counter c;
    int64_t m0, m1;
  };
  std::vector<Span> spans_;
  int64_t split_ = -1;
};

}  // namespace autodist
