#include "backend/timeline.h"

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
  spans_.push_back({c, bank_, m0, m1});
}

void Timeline::set_bank(int bank) {
  std::lock_guard<std::mutex> lk(mu_);
  bank_ = bank < 0 ? 0 : (bank >= kBanks ? kBanks - 1 : bank);
}

int64_t Timeline::ns(int64_t mark) { return be_.timer_ns(mark); }

Timeline::Totals Timeline::resolve(const std::function<void(const Region&, int64_t, int64_t)>& fn) {
  std::lock_guard<std::mutex> lk(mu_);
  be_.synchronize();
  for (const Region& r : regions_) fn(r, be_.timer_ns(r.m0), be_.timer_ns(r.m1));
  Totals t;
  for (const Span& s : spans_) t.ns[s.bank][static_cast<int>(s.c)] += be_.timer_ns(s.m1) - be_.timer_ns(s.m0);
  regions_.clear();
  spans_.clear();
  bank_ = 0;
  be_.timer_reset();
  return t;
}

}  // namespace autodist
