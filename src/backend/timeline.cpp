#include "backend/timeline.h"

#include <algorithm>
#include <cstdint>

#include "backend/backend.h"

namespace autodist {

void Timeline::reserve(size_t n) {
  std::lock_guard<std::mutex> lk(mu_);
  regions_.reserve(n);
  spans_.reserve(n);
}

int64_t Timeline::mark() { return be_.timer_mark(); }

void Timeline::add(const Region& r) {
  std::lock_guard<std::mutex> lk(mu_);
  regions_.push_back(r);
}

void Timeline::count(Counter c, int64_t m0, int64_t m1) {
  std::lock_guard<std::mutex> lk(mu_);
  spans_.push_back({c, m0, m1});
}

void Timeline::split_at(int64_t mark) {
  std::lock_guard<std::mutex> lk(mu_);
  split_ = mark;
}

int64_t Timeline::ns(int64_t mark) { return be_.timer_ns(mark); }

Timeline::Totals Timeline::resolve(const std::function<void(const Region&, int64_t, int64_t)>& fn) {
  std::lock_guard<std::mutex> lk(mu_);
  be_.synchronize();
  for (const Region& r : regions_) fn(r, be_.timer_ns(r.m0), be_.timer_ns(r.m1));
  Totals t;
  const int64_t cut = split_ < 0 ? INT64_MAX : be_.timer_ns(split_);
  for (const Span& s : spans_) {
    const int64_t t0 = be_.timer_ns(s.m0), t1 = be_.timer_ns(s.m1), c = std::clamp(cut, t0, t1);
    t.ns[0][static_cast<int>(s.c)] += c - t0;
    t.ns[1][static_cast<int>(s.c)] += t1 - c;
  }
  regions_.clear();
  spans_.clear();
  split_ = -1;
  be_.timer_reset();
  return t;
}

}  // namespace autodist
