// SP+PP: a long prompt cut into chunks that flow through the layer stages (stage s works on chunk c while stage s-1
// works on chunk c+1), each chunk one step of the stage executor, then (with a sync) every rank gets every layer's
// KV (kv_sync.h) and decodes redundantly with no communication.
#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "runtime/engine.h"
#include "runtime/kv_sync.h"
#include "runtime/scheduler.h"
#include "runtime/stage_executor.h"

namespace autodist {

Engine::ChunkResult Engine::prefill_chunked(const std::vector<int32_t>& prompt, int32_t slot, StepOutput out,
                                            bool all_rows, bool ban, const SamplingOptions& so) {
  const int N = groups_.topo.pp;
  const int64_t L = static_cast<int64_t>(prompt.size()), C = opt_.sp_chunk, V = cfg_.vocab;
  const int64_t nc = (L + C - 1) / C;
  const bool last = exec_->role().last;
  ChunkResult r;
  if (kv_sync_) kv_sync_->start(slot, L);
  try {
    for (int64_t c = 0; c < nc; ++c) {
      chunk_plan(plan_, prompt, slot, c, C, out, all_rows, ban);
      maybe_fault();
      exec_->run(plan_, last ? out : StepOutput::None, so, {"chunk", -1, static_cast<int>(c), "chunk_wait"});
      const int64_t R = plan_.outputs();
      if (!last || out == StepOutput::None || R == 0) continue;
      if (out == StepOutput::Logits) {
        r.logits.resize(r.logits.size() + static_cast<size_t>(R * V));
        be_.to_host(r.logits.data() + r.logits.size() - R * V, exec_->logits(plan_.micro_batch % exec_->buffers()));
      } else {
        const int32_t* tk = exec_->tokens(plan_.micro_batch % exec_->buffers());
        r.tokens.insert(r.tokens.end(), tk, tk + R);
      }
    }
    if (kv_sync_) {
      be_.synchronize();  // the sync thread reads this rank's KV
      kv_sync_->ready();
    }
    exec_->drain();
    // Results from the last stage to every rank.
    if (out != StepOutput::None) {
      const int64_t R = all_rows ? L : 1;
      if (out == StepOutput::Logits) {
        r.logits.resize(static_cast<size_t>(R * V));
        groups_.pp->broadcast(Tensor(r.logits.data(), DType::F32, {R * V}), N - 1);
      } else {
        r.tokens.resize(static_cast<size_t>(R));
        groups_.pp->broadcast(Tensor(r.tokens.data(), DType::I32, {R}), N - 1);
      }
    }
  } catch (...) {
    if (kv_sync_) kv_sync_->abort();  // the peers' syncs end with the job: the caller reports and exits
    throw;
  }
  if (kv_sync_) kv_sync_->finish();
  return r;
}

double Engine::kv_diff_vs_local_prefill(const std::vector<int32_t>& prompt, int32_t slot) {
  AD_CHECK(sp_full_model(), "the KV check needs an SP+PP run with --kv-sync pairwise or ring");
  const int64_t L = static_cast<int64_t>(prompt.size());
  prepare(L, L, 1, 1);
  KVCache ref = stage_->make_cache(1, L);
  Buffer x(&be_, DType::F32, {L, cfg_.hidden});
  plan_.clear();
  plan_.add(0, 0, static_cast<int32_t>(L), prompt.data());
  be_.begin_step(plan_);
  stage_->embed(x.t(), tokens_->slot.t());
  stage_->forward(x.t(), ref);
  double mx = 0;
  std::vector<float> a, b;
  for (size_t l = 0; l < ref.k.size(); ++l)
    for (int kv = 0; kv < 2; ++kv) {
      const Tensor& mine_all = (kv ? cache_.v : cache_.k)[l].t();
      const Tensor& want_all = (kv ? ref.v : ref.k)[l].t();
      const int64_t row = mine_all.dim(2) * mine_all.dim(3);
      Tensor mine(mine_all.ptr<float>() + static_cast<int64_t>(slot) * mine_all.dim(1) * row, DType::F32, {L * row},
                  mine_all.device);
      Tensor want(want_all.data, DType::F32, {L * row}, want_all.device);
      a.resize(static_cast<size_t>(mine.numel()));
      b.resize(a.size());
      be_.to_host(a.data(), mine);
      be_.to_host(b.data(), want);
      for (size_t i = 0; i < a.size(); ++i) mx = std::max(mx, static_cast<double>(std::fabs(a[i] - b[i])));
    }
  flush_timeline();
  return mx;
}

}  // namespace autodist
