#include "backend/step_plan.h"

#include "core/error.h"

namespace autodist {

void StepPlan::clear() {
  ids.clear();
  pos.clear();
  slot.clear();
  segs.clear();
  out_rows.clear();
  out_ban.clear();
  micro_batch = 0;
}

void StepPlan::reserve(int64_t max_tokens, int64_t max_segments, int64_t max_outputs) {
  ids.reserve(static_cast<size_t>(max_tokens));
  pos.reserve(static_cast<size_t>(max_tokens));
  slot.reserve(static_cast<size_t>(max_tokens));
  segs.reserve(static_cast<size_t>(max_segments));
  out_rows.reserve(static_cast<size_t>(max_outputs));
  out_ban.reserve(static_cast<size_t>(max_outputs));
}

int32_t StepPlan::add(int32_t s, int32_t start, int32_t len, const int32_t* tok) {
  const auto row = static_cast<int32_t>(ids.size());
  segs.push_back({s, start, len, row});
  for (int32_t i = 0; i < len; ++i) {
    ids.push_back(tok ? tok[i] : kTokenFromDevice);
    pos.push_back(start + i);
    slot.push_back(s);
  }
  return row;
}

void StepPlan::want(int32_t row, bool ban) {
  out_rows.push_back(row);
  out_ban.push_back(ban ? 1 : 0);
}

void check_plan(const StepPlan& p, const StepLimits& lim) {
  const int64_t T = p.rows(), R = p.outputs();
  AD_CHECK(p.pos.size() == p.ids.size() && p.slot.size() == p.ids.size() && p.out_ban.size() == p.out_rows.size(),
           "step plan: {} ids, {} positions, {} slots, {} output rows and {} ban flags do not agree", p.ids.size(),
           p.pos.size(), p.slot.size(), p.out_rows.size(), p.out_ban.size());
  AD_CHECK(T <= lim.max_tokens, "step plan: {} rows, but the backend was prepared for {} (prepare first)", T,
           lim.max_tokens);
  AD_CHECK(R <= lim.max_outputs, "step plan: {} output rows, but the backend was prepared for {}", R, lim.max_outputs);
  int64_t next = 0;
  for (const AttnSegment& s : p.segs) {
    AD_CHECK(s.row == next && s.len >= 0 && s.row + int64_t{s.len} <= T,
             "step plan: segment (slot {}, start {}, len {}, row {}) does not continue at row {} of {}", s.slot,
             s.start_pos, s.len, s.row, next, T);
    AD_CHECK(s.slot >= 0 && s.slot < lim.slots, "step plan: slot {} outside the {} prepared KV-cache slots", s.slot,
             lim.slots);
    AD_CHECK(s.start_pos >= 0 && s.start_pos + int64_t{s.len} <= lim.max_context,
             "step plan: positions [{}, {}) of slot {} outside the KV cache of {} positions", s.start_pos,
             s.start_pos + int64_t{s.len}, s.slot, lim.max_context);
    for (int32_t i = 0; i < s.len; ++i)
      AD_CHECK(p.pos[s.row + i] == s.start_pos + i && p.slot[s.row + i] == s.slot,
               "step plan: row {} has position {} slot {}, its segment says position {} slot {}", s.row + i,
               p.pos[s.row + i], p.slot[s.row + i], s.start_pos + i, s.slot);
    next += s.len;
  }
  AD_CHECK(next == T, "step plan: the segments cover {} of the {} rows", next, T);
  for (int32_t id : p.ids)
    AD_CHECK(id == kTokenFromDevice || (id >= 0 && id < lim.vocab),
             "token id {} is out of range: the vocabulary has {} tokens", id, lim.vocab);
  for (int32_t r : p.out_rows) AD_CHECK(r >= 0 && r < T, "step plan: output row {} outside the {} rows", r, T);
}

}  // namespace autodist
