#include "runtime/scheduler.h"

#include <algorithm>

namespace autodist {

Scheduler::Scheduler(Sequences& sq, int micro_batches, bool device_feedback)
    : sq_(sq), M_(static_cast<int>(std::min<int64_t>(std::max(micro_batches, 1), sq.size()))),
      feedback_(device_feedback) {
  group_.resize(static_cast<size_t>(M_));
  active_.resize(static_cast<size_t>(M_));
  out_.assign(static_cast<size_t>(M_), StepOutput::Greedy);
  prefilled_.assign(static_cast<size_t>(sq.size()), false);
  for (int64_t b = 0; b < sq.size(); ++b) group_[b % M_].push_back(b);
  for (auto& a : active_) a.reserve(group_[0].size());
}

int64_t Scheduler::max_rows() const {
  int64_t most = 0;
  for (auto& g : group_) {
    int64_t rows = 0;
    for (int64_t b : g) rows += sq_.len[b];
    most = std::max(most, rows);
  }
  return most;
}

int64_t Scheduler::max_outputs() const { return static_cast<int64_t>(group_[0].size()); }

void Scheduler::mark_prefilled() { prefilled_.assign(prefilled_.size(), true); }

bool Scheduler::next(int m, StepPlan& plan) {
  auto& active = active_[m];
  active.clear();
  for (int64_t b : group_[m])
    if (!sq_.done[b]) active.push_back(b);
  if (active.empty()) return false;
  plan.clear();
  plan.micro_batch = m;
  out_[m] = StepOutput::Greedy;
  for (int64_t b : active) {
    const auto slot = static_cast<int32_t>(b);
    int32_t row;
    if (!prefilled_[b]) {
      const auto& p = sq_.seqs[b].prompt;
      row = plan.add(slot, 0, static_cast<int32_t>(p.size()), p.data()) + static_cast<int32_t>(p.size()) - 1;
      prefilled_[b] = true;
    } else {
      const int32_t* last = feedback_ ? nullptr : &sq_.seqs[b].output.back();
      row = plan.add(slot, sq_.len[b] - 1, 1, last);
    }
    plan.want(row, sq_.ban_stop(b));
    if (sq_.needs_logits(b)) out_[m] = StepOutput::Sample;
  }
  return true;
}

void chunk_plan(StepPlan& plan, const std::vector<int32_t>& prompt, int32_t slot, int64_t c, int64_t C,
                StepOutput out, bool all_rows, bool ban) {
  const int64_t L = static_cast<int64_t>(prompt.size()), p0 = c * C, n = std::min(C, L - p0);
  plan.clear();
  plan.micro_batch = static_cast<int32_t>(c);
  plan.add(slot, static_cast<int32_t>(p0), static_cast<int32_t>(n), prompt.data() + p0);
  if (out == StepOutput::None) return;
  if (all_rows)
    for (int64_t i = 0; i < n; ++i) plan.want(static_cast<int32_t>(i));
  else if (p0 + n == L)
    plan.want(static_cast<int32_t>(n - 1), ban);
}

}  // namespace autodist
