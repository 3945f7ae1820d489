// defines: StepOutput, Scheduler (which rows and micro-batches each step runs), chunk_plan (one chunk of an SP+PP
//          prefill)
//
// Micro-batch m holds sequences m, m+M, m+2M, ... Its first step is the prefill of all of its prompts (one segment
// each); every later step decodes one row per sequence still running. Every rank builds the same plans in the same
// order, so the stages of a pipeline agree on each step without exchanging anything but tokens.
#pragma once
#include <cstdint>
#include <vector>

#include "backend/step_plan.h"
#include "runtime/sequences.h"

namespace autodist {

// What the head of a step produces: nothing (not the last stage, or a chunk whose rows are not wanted), the
// greedy token of each output row, a sample (sampling, or a ban to apply), or the full logits (verify).
enum class StepOutput { None, Greedy, Sample, Logits };

class Scheduler {
 public:
  // device_feedback: decode rows take their token from the device (the head of this rank wrote it), not the plan.
  Scheduler(Sequences& sq, int micro_batches, bool device_feedback);
  int micro_batches() const { return M_; }
  // The largest step (a micro-batch's prefill) and the most output rows of one step.
  int64_t max_rows() const;
  int64_t max_outputs() const;
  // Fills plan with micro-batch m's next step; false once every sequence of m is done.
  bool next(int m, StepPlan& plan);
  // The sequences of m's last step, in output-row order, and what its head produces.
  const std::vector<int64_t>& members(int m) const { return active_[m]; }
  StepOutput output(int m) const { return out_[m]; }
  // Marks every sequence as prefilled (an SP+PP prefill ran outside the scheduler).
  void mark_prefilled();

 private:
  Sequences& sq_;
  int M_;
  bool feedback_;
  std::vector<std::vector<int64_t>> group_, active_;
  std::vector<StepOutput> out_;
  std::vector<bool> prefilled_;
};

// Chunk c (of size C) of prompt into slot: rows = positions [c C, min((c+1) C, L)); output rows: none, the last row
// of the last chunk (banned from the stop tokens with ban), or every row (all_rows).
void chunk_plan(StepPlan& plan, const std::vector<int32_t>& prompt, int32_t slot, int64_t c, int64_t C,
                StepOutput out, bool all_rows, bool ban = false);

}  // namespace autodist
