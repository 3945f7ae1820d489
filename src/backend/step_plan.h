// defines: AttnSegment, StepPlan (the rows of one forward step: what every kernel reads about them), StepLimits,
//          check_plan (the one argument check of a step, shared by every backend), kTokenFromDevice
//
// The runtime builds one StepPlan per step and hands it to Backend::begin_step once; the kernels of that step read
// ids, positions, slots and output rows from there (the CUDA backend from one upload into fixed device buffers),
// never from host arguments. The vectors keep their capacity across steps: reserve() once, clear() per step.
#pragma once
#include <cstdint>
#include <vector>

namespace autodist {

// A row id meaning "the token the head last wrote for this row's cache slot" (Backend's slot_tokens): a decode
// step feeds back its own output on the device, with no host round trip.
constexpr int32_t kTokenFromDevice = -1;

// One sequence's rows in a step: rows [row, row+len) are positions [start_pos, start_pos+len) of cache slot `slot`.
struct AttnSegment {
  int32_t slot = 0;
  int32_t start_pos = 0;
  int32_t len = 0;
  int32_t row = 0;
};

struct StepPlan {
  std::vector<int32_t> ids;       // [T] token of each row, or kTokenFromDevice
  std::vector<int32_t> pos;       // [T] position of each row in its sequence
  std::vector<int32_t> slot;      // [T] KV-cache slot of each row
  std::vector<AttnSegment> segs;  // sequences, in row order, covering rows [0, T)
  std::vector<int32_t> out_rows;  // [R] rows whose next token (or logits) the step produces, in output order
  std::vector<uint8_t> out_ban;   // [R] 1: the stop tokens may not be sampled for this row (min length)
  int32_t micro_batch = 0;        // which micro-batch (or chunk buffer) the step belongs to

  int64_t rows() const { return static_cast<int64_t>(ids.size()); }
  int64_t outputs() const { return static_cast<int64_t>(out_rows.size()); }
  void clear();  // keeps the capacity
  void reserve(int64_t max_tokens, int64_t max_segments, int64_t max_outputs);
  // Appends positions [start, start+len) of `slot` as the next rows; ids null: every row is kTokenFromDevice.
  // Returns the first row.
  int32_t add(int32_t slot, int32_t start, int32_t len, const int32_t* ids);
  // Asks for the next token (or logits) of `row`.
  void want(int32_t row, bool ban_stop_tokens = false);
};

// What a backend was prepared for (Backend::prepare): every plan must fit.
struct StepLimits {
  int64_t max_tokens = 0;   // rows per step
  int64_t max_context = 0;  // positions per slot (KV cache length)
  int64_t slots = 0;        // sequences (KV cache slots)
  int64_t max_outputs = 0;  // output rows per step
  int64_t vocab = 0;        // token ids are < vocab
};

// Throws autodist::Error naming what is wrong: sizes that disagree, rows not covered exactly once by the segments,
// positions or slots outside the limits, output rows out of range, ids outside the vocabulary.
void check_plan(const StepPlan& p, const StepLimits& lim);

}  // namespace autodist
