#include "runtime/engine.h"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <string>
#include <cstdlib>

#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "runtime/kv_sync.h"
#include "runtime/scheduler.h"
#include "runtime/sequences.h"
#include "runtime/stage_executor.h"

namespace autodist {

namespace {
// The head's kBadLogits (a NaN or inf logit) stops the run where it happened: token 0 would be a wrong answer.
void check_token(int32_t tok, int64_t step, int64_t seq, int64_t position, int rank) {
  if (tok != kBadLogits) return;
  AD_FAIL("rank {}: the logits of {} (sequence {}, position {}) are NaN or infinite: the model overflowed (try "
          "--dtype f32, or check the checkpoint's weights)",
          rank, step == 0 ? std::string("the prefill (step 0)") : fmt::format("decode step {}", step), seq, position);
}
}  // namespace

Engine::Engine(Backend& be, const ModelConfig& cfg, const EngineOptions& opt, dist::ParallelGroups& groups,
               LoadedModel model)
    : be_(be), cfg_(cfg), opt_(opt), groups_(groups), layout_(std::move(model.layout)),
      tokens_(std::make_unique<DeviceTokens>()), timeline_(be) {
  const auto& t = groups_.topo;
  trace_.set_rank(t.rank);
  bytes_read_ = model.report.bytes_read;
  load_source_ = model.report.source;
  load_ms_ = model.ms();
  trace_.add("load", model.t0_ns, model.t1_ns, static_cast<int64_t>(bytes_read_));
  // Test hook: "RANK:STEP" throws on that rank in that forward pass; "RANK:STEP:stop" stops it there (SIGSTOP), as
  // a rank stopped by hand or stuck would be, for the --comm-timeout tests.
  if (const char* f = std::getenv("AUTODIST_FAULT")) {
    int r = -1, st = -1;
    char how[8] = {0};
    const int n = std::sscanf(f, "%d:%d:%7s", &r, &st, how);
    if (n >= 2 && r == t.rank) fault_step_ = st;
    fault_stop_ = n == 3 && std::string(how) == "stop";
  }
  stage_ = std::make_unique<Stage>(be_, cfg_, layout_.tp, layout_.held, std::move(model.weights),
                                   groups_.tp_data.get());
  stage_->set_timeline(&timeline_);
  // This rank's part of the pipeline: its stage's layers (relative to what it holds), embedding on the first stage,
  // head on the last.
  StageRole pipe;
  pipe.l0 = layout_.prefill.first - layout_.held.first;
  pipe.l1 = layout_.prefill.last - layout_.held.first;
  pipe.first = t.first_stage();
  pipe.last = t.last_stage();
  pipe.prev = t.first_stage() ? -1 : t.pp_rank() - 1;
  pipe.next = t.last_stage() ? -1 : t.pp_rank() + 1;
  pipe.last_stage = t.pp - 1;
  exec_ = std::make_unique<StageExecutor>(be_, *stage_, cache_, *tokens_, pipe, groups_.pp_data.get(),
                                          groups_.pp.get(), timeline_);
  if (sp_full_model()) {
    local_ = std::make_unique<StageExecutor>(be_, *stage_, cache_, *tokens_, StageRole{}, nullptr, nullptr, timeline_);
    kv_sync_ = std::make_unique<KvSync>(opt_.kv_sync, groups_.pp_data->split(0, t.pp_rank()), cache_, layout_.parts,
                                        timeline_);
  }
}

Engine::~Engine() = default;

void Engine::maybe_fault() {
  if (fault_step_ < 0 || forwards_++ != fault_step_) return;
  if (fault_stop_) {
    log::warn("AUTODIST_FAULT: stopping rank {} (SIGSTOP) in forward pass {}", groups_.topo.rank, fault_step_);
    std::raise(SIGSTOP);
    return;  // continued (SIGCONT): the run goes on, as a rank stopped by hand and resumed would
  }
  AD_FAIL("injected fault (AUTODIST_FAULT) in forward pass {} on rank {}", fault_step_, groups_.topo.rank);
}

StageExecutor& Engine::decoder() { return local_ ? *local_ : *exec_; }

void Engine::check_prompt(const std::vector<int32_t>& ids) const {
  AD_CHECK(!ids.empty(), "empty prompt: give at least one token");
  for (int32_t id : ids)
    AD_CHECK(id >= 0 && id < cfg_.vocab, "prompt token id {} is out of range: the vocabulary of {} has {} tokens", id,
             cfg_.architecture, cfg_.vocab);
  AD_CHECK(static_cast<int64_t>(ids.size()) <= cfg_.max_position,
           "prompt of {} tokens is longer than the model's context of {} (max_position_embeddings)", ids.size(),
           cfg_.max_position);
}

void Engine::reserve_cache(int64_t slots, int64_t max_seq) {
  if (cache_.slots >= slots && cache_.max_seq >= max_seq) return;
  slots = std::max(slots, cache_.slots);
  max_seq = std::max(max_seq, cache_.max_seq);
  cache_ = KVCache();  // free first: peak memory is one cache
  cache_ = stage_->make_cache(slots, max_seq);
}

int64_t Engine::prefill_rows(int64_t L) const { return sp() ? std::min<int64_t>(opt_.sp_chunk, L) : L; }

void Engine::prepare(int64_t max_tokens, int64_t max_context, int64_t slots, int64_t max_outputs) {
  StepLimits lim;
  lim.max_tokens = std::max({max_tokens, slots, prepared_.max_tokens, int64_t{1}});
  lim.max_context = std::max(std::min(max_context, cfg_.max_position), prepared_.max_context);
  lim.slots = std::max({slots, prepared_.slots, int64_t{1}});
  lim.max_outputs = std::max({max_outputs, prepared_.max_outputs, int64_t{1}});
  lim.vocab = cfg_.vocab;
  reserve_cache(lim.slots, lim.max_context);
  stage_->prepare(lim.max_tokens, lim.max_context, lim.max_outputs);
  exec_->prepare(lim.max_tokens, lim.max_outputs, sp() ? 2 : opt_.micro_batches);
  if (local_) local_->prepare(lim.max_tokens, lim.max_outputs, 1);
  if (tokens_->slot.empty() || tokens_->slot.t().numel() < lim.slots) {
    tokens_->slot = Buffer(&be_, DType::I32, {lim.slots});
    be_.fill_zero(tokens_->slot.t());
  }
  be_.prepare(lim);
  plan_.reserve(lim.max_tokens, lim.slots, lim.max_outputs);
  recv_tokens_.reserve(static_cast<size_t>(lim.max_outputs));
  prepared_ = lim;
}

GenerateResult Engine::generate(const std::vector<std::vector<int32_t>>& prompts, const GenerateOptions& o) {
  Sequences sq(prompts, o, cfg_);
  int64_t longest = 0;
  for (auto& p : prompts) {
    check_prompt(p);
    longest = std::max<int64_t>(longest, static_cast<int64_t>(p.size()));
  }
  const int64_t B = sq.size();
  StageExecutor& dec = decoder();
  // Decode rows read their token from the device when this rank's own head wrote it (no pipeline in between).
  Scheduler sched(sq, sp() ? 1 : opt_.micro_batches, dec.role().first && dec.role().last);
  const int64_t new_tokens = sq.max_new_tokens();
  prepare(sp() ? prefill_rows(longest) : sched.max_rows(), longest + new_tokens, B, sched.max_outputs());
  // The stop tokens a ban excludes, and room to time every step without allocating.
  std::vector<int32_t> stops = sq.stop_tokens();
  tokens_->banned = Buffer(&be_, DType::I32, {static_cast<int64_t>(stops.size())});
  if (!stops.empty()) be_.to_device(tokens_->banned.t(), stops.data());
  timeline_.reserve(static_cast<size_t>((new_tokens + 2) * sched.micro_batches() * (2 * cfg_.n_layers + 16) +
                                        (sp() ? B * (longest / opt_.sp_chunk + 2) * 8 : 0) + 64));
  GenerateResult res;
  res.load_ms = load_ms_;
  const int64_t g0 = timeline_.mark();
  int64_t prefill_end = -1;
  if (sp()) {  // prompt by prompt, each chunked through the pipeline (and synced)
    for (int64_t b = 0; b < B; ++b) {
      StepOutput kind = sq.needs_logits(b) ? StepOutput::Sample : StepOutput::Greedy;
      ChunkResult r = prefill_chunked(prompts[b], static_cast<int32_t>(b), kind, false, sq.ban_stop(b), o.sampling);
      check_token(r.tokens[0], 0, b, static_cast<int64_t>(prompts[b].size()), groups_.topo.rank);
      if (local_) be_.to_device(tokens_->slot.t().rows(b, 1), &r.tokens[0]);  // the decode feeds back from here
      sq.accept(b, r.tokens[0]);
    }
    sched.mark_prefilled();
    prefill_end = timeline_.mark();
  }
  step_loop(sq, sched, o, res, prefill_end);
  const int64_t end = timeline_.mark();
  timeline_.add({"prefill", g0, prefill_end});
  timeline_.add({"decode", prefill_end, end, 0, -1, -1, static_cast<int>(res.decode_steps)});
  timeline_.add({"total", g0, end});
  const int64_t t0 = timeline_.ns(g0), t1 = timeline_.ns(prefill_end), t2 = timeline_.ns(end);
  timeline_.split_at(prefill_end);  // communication before it is the prefill's, after it the decode's
  Timeline::Totals tot = flush_timeline();
  res.prefill_ms = (t1 - t0) * 1e-6;
  res.decode_ms = (t2 - t1) * 1e-6;
  res.prefill_comm_ms = tot.sum(0) * 1e-6;
  res.comm_ms = (tot.sum(0) + tot.sum(1)) * 1e-6;
  res.seqs = std::move(sq.seqs);
  return res;
}

void Engine::step_loop(Sequences& sq, Scheduler& sched, const GenerateOptions& o, GenerateResult& res,
                       int64_t& prefill_end) {
  StageExecutor& ex = decoder();
  const bool last = ex.role().last;
  const bool sp_prefilled = prefill_end >= 0;  // SP+PP: the prefill (and its tokens) are done already
  // Every rank walks the same (step, micro-batch) order; the pipeline overlaps because a stage sends micro-batch m
  // on and starts m+1 while the next stage works on m (fill-drain in the prefill, up to pp micro-batches in flight
  // in the decode). Stages before the last learn m's tokens when they next need them.
  for (int64_t step = prefill_end < 0 ? 0 : 1;; ++step) {
    bool any = false;
    for (int m = 0; m < sched.micro_batches(); ++m) {
      const auto& prev = sched.members(m);  // the sequences of m's previous step
      if (!last && !prev.empty()) {
        recv_tokens_.resize(prev.size());
        const int64_t got = ex.recv_tokens(m, recv_tokens_.data(), static_cast<int64_t>(prev.size()));
        for (size_t i = 0; i < prev.size(); ++i) sq.accept(prev[i], recv_tokens_[i]);
        // A stage before the last has its first tokens only now: its time to first token ends here.
        if (step == 1 && !sp_prefilled) prefill_end = got;
      }
      if (!sched.next(m, plan_)) continue;
      any = true;
      maybe_fault();
      ex.run(plan_, last ? sched.output(m) : StepOutput::None, o.sampling, {"step", static_cast<int>(step), -1});
      if (!last) continue;
      const auto& now = sched.members(m);
      const int32_t* tk = ex.tokens(m);
      for (size_t i = 0; i < now.size(); ++i) check_token(tk[i], step, now[i], sq.len[now[i]], groups_.topo.rank);
      ex.send_tokens(m, static_cast<int64_t>(now.size()));
      for (size_t i = 0; i < now.size(); ++i) sq.accept(now[i], tk[i]);
    }
    if (step == 0) {
      prefill_end = timeline_.mark();
    } else if (any) {
      ++res.decode_steps;
    }
    if (!any) break;
  }
  ex.drain();
}

Timeline::Totals Engine::flush_timeline() {
  return timeline_.resolve([&](const Region& r, int64_t t0, int64_t t1) {
    trace_.add(r.phase, t0, t1, r.bytes, r.chunk, r.layer, r.step, r.micro_batch);
  });
}

std::vector<float> Engine::forward_logits(const std::vector<int32_t>& ids, int32_t start) {
  check_prompt(ids);
  const int64_t n = static_cast<int64_t>(ids.size()), V = cfg_.vocab;
  std::vector<float> out;
  if (start == 0 && sp()) {
    const int64_t p0 = timeline_.mark();
    out = prefill_chunked(ids, 0, StepOutput::Logits, true, false, {}).logits;
    timeline_.add({"prefill", p0, timeline_.mark(), 0, static_cast<int>((n + opt_.sp_chunk - 1) / opt_.sp_chunk)});
  } else {
    StageExecutor& ex = decoder();
    plan_.clear();
    plan_.add(0, start, static_cast<int32_t>(n), ids.data());
    for (int32_t r = 0; r < n; ++r) plan_.want(r);
    const bool last = ex.role().last;
    ex.run(plan_, last ? StepOutput::Logits : StepOutput::None, {}, {"step", steps_++, -1});
    out.resize(static_cast<size_t>(n * V));
    if (last) be_.to_host(out.data(), ex.logits(0));
    ex.drain();
    if (ex.role().last_stage > 0)  // results from the last stage to every stage
      groups_.pp->broadcast(Tensor(out.data(), DType::F32, {n * V}), ex.role().last_stage);
  }
  flush_timeline();
  return out;
}

}  // namespace autodist
