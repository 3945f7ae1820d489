#include "runtime/stage_executor.h"

#include <algorithm>

#include "core/error.h"
#include "dist/comm_wait.h"

namespace autodist {

namespace {
constexpr int kActivationTag = 1;
constexpr int kTokenTag = 2;  // + buffer
}  // namespace

StageExecutor::StageExecutor(Backend& be, Stage& stage, KVCache& cache, DeviceTokens& tokens, const StageRole& role,
                             dist::Communicator* pp_data, dist::Communicator* pp_ctrl, Timeline& tl)
    : be_(be), stage_(stage), cache_(cache), dt_(tokens), role_(role), pp_data_(pp_data), pp_ctrl_(pp_ctrl), tl_(tl) {
  AD_CHECK((role.first || pp_data) && (role.last || pp_data),
           "StageExecutor: a stage that is not both first and last needs the pp data channel");
}

StageExecutor::~StageExecutor() {
  for (auto& p : pending_)
    if (p) p->abandon();  // a failed run must not wait for peers here; a finished one has drained
}

void StageExecutor::prepare(int64_t max_tokens, int64_t max_outputs, int buffers) {
  drain();
  const size_t n = std::max(static_cast<size_t>(std::max(buffers, 1)), act_.size());
  if (max_tokens > rows_cap_ || n > act_.size()) {
    rows_cap_ = std::max(rows_cap_, max_tokens);
    act_.clear();
    for (size_t b = 0; b < n; ++b) act_.emplace_back(&be_, DType::F32, Shape{rows_cap_, stage_.config().hidden});
    pending_.resize(n);
  }
  if (max_outputs > out_cap_ || n > tok_.size()) {
    out_cap_ = std::max(out_cap_, max_outputs);
    tok_.clear();
    host_tok_.clear();
    for (size_t b = 0; b < n; ++b) {
      tok_.emplace_back(&be_, DType::I32, Shape{out_cap_});
      host_tok_.emplace_back(&be_, static_cast<size_t>(out_cap_) * sizeof(int32_t));
    }
    logits_.resize(n);
  }
}

void StageExecutor::run(const StepPlan& plan, StepOutput out, const SamplingOptions& so, const Tag& tag) {
  const auto b = static_cast<size_t>(plan.micro_batch % static_cast<int>(act_.size()));
  const int64_t T = plan.rows(), R = plan.outputs();
  AD_CHECK(!act_.empty() && T <= rows_cap_ && R <= out_cap_,
           "StageExecutor: a step of {} rows and {} outputs, prepared for {} and {}", T, R, rows_cap_, out_cap_);
  be_.begin_step(plan);
  wait_send(b);  // this buffer's previous activations may still be on their way to the next stage
  Tensor x = act_[b].t().rows(0, T);
  if (role_.first) {
    stage_.embed(x, dt_.slot.t());
  } else {
    dist::CommScope scope("pipeline activations");
    const auto [m0, m1] = tl_.timed(Counter::PpComm, [&] { pp_data_->recv(x, role_.prev, kActivationTag); });
    if (tag.wait_phase)
      tl_.add({tag.wait_phase, m0, m1, static_cast<int64_t>(x.nbytes()), tag.chunk, -1, tag.step, plan.micro_batch});
  }
  const int64_t f0 = tl_.mark();
  forward(x);
  tl_.add({tag.phase, f0, tl_.mark(), 0, tag.chunk, static_cast<int>(stage_.range().first + role_.l0), tag.step,
           plan.micro_batch});
  if (!role_.last) {
    tl_.timed(Counter::PpComm, [&] {
      pending_[b] = pp_data_->isend(x, role_.next, kActivationTag);
      pp_data_->flush();  // nccl: issued now, not at this stage's next call (it may block on the tokens first)
    });
    return;
  }
  if (out == StepOutput::None || R == 0) return;
  Tensor tok = tok_[b].t().rows(0, R);
  switch (out) {
    case StepOutput::Greedy: stage_.greedy(x, tok, dt_.slot.t()); break;
    case StepOutput::Sample: stage_.sample(x, dt_.banned.t(), so, tok, dt_.slot.t()); break;
    case StepOutput::Logits: logits_[b] = stage_.logits(x); return;
    case StepOutput::None: return;
  }
  be_.to_host_async(host_tok_[b].as<int32_t>(), tok);
}

const int32_t* StageExecutor::tokens(int b) {
  be_.wait_host();
  return host_tok_[static_cast<size_t>(b)].as<int32_t>();
}

void StageExecutor::send_tokens(int b, int64_t n) {
  if (role_.last_stage == 0) return;  // no other stage
  Tensor t(host_tok_[static_cast<size_t>(b)].as<int32_t>(), DType::I32, {n});
  dist::CommScope scope("pipeline tokens");
  tl_.timed(Counter::PpComm, [&] {
    for (int s = 0; s < role_.last_stage; ++s) pp_ctrl_->send(t, s, kTokenTag + b);
  });
}

int64_t StageExecutor::recv_tokens(int b, int32_t* dst, int64_t n) {
  dist::CommScope scope("pipeline tokens");
  return tl_.timed(Counter::PpComm, [&] { pp_ctrl_->recv(Tensor(dst, DType::I32, {n}), role_.last_stage, kTokenTag + b); })
      .second;
}

// A send in flight advances only inside MPI calls where the sender pushes the data (TCP between hosts: past the
// eager limit, 64 KiB, the rest waits for the sender's next call), so a stage that posted its activations and computes
// the next chunk or micro-batch would leave the next stage idle until it is done (measured on the 2-host namespace
// cluster: SP+PP prefill 20% slower than on one host). Between layers the sends in flight are tested. A send that
// completes there is still waited for (at once) by wait_send, so that a step's backend calls (wait_send's timer marks)
// do not depend on when the network delivered: a decode step must repeat the same calls to be captured as a graph.
void StageExecutor::forward(Tensor x) {
  const int64_t l1 = role_.l1 < 0 ? stage_.num_layers() : role_.l1;
  if (std::none_of(pending_.begin(), pending_.end(), [](const auto& p) { return p != nullptr; }))
    return stage_.forward(x, cache_, role_.l0, l1);
  for (int64_t l = role_.l0; l < l1; ++l) {
    stage_.forward(x, cache_, l, l + 1);
    for (auto& p : pending_)
      if (p) p->test();  // progress only; the request stays for wait_send
  }
}

void StageExecutor::wait_send(size_t b) {
  if (!pending_[b]) return;
  dist::CommScope scope("pipeline activations");
  tl_.timed(Counter::PpComm, [&] { pending_[b]->wait(); });
  pending_[b].reset();
}

void StageExecutor::drain() {
  for (size_t b = 0; b < pending_.size(); ++b) wait_send(b);
}

}  // namespace autodist
