// defines: StageRole, DeviceTokens, StageExecutor (the one pipeline step: this rank's input, layers and output)
//
// Every schedule runs through StageExecutor::run: the micro-batched fill-drain prefill and in-flight decode, the
// single-sequence steps of verify, the chunks of an SP+PP prefill and the redundant decode after its KV sync. A step
// is begin_step(plan), then the input (the embedding on the first stage, else the previous stage's activations over
// the pp data channel), this rank's layers, then the output (the activations to the next stage, sent without
// waiting, or the head on the last stage). Steps in flight use their own activation buffer (the plan's micro-batch
// modulo the buffer count); a buffer is reused only once its send has completed. Nothing here allocates once
// prepare() has run.
#pragma once
#include <memory>
#include <vector>

#include "backend/backend.h"
#include "backend/timeline.h"
#include "dist/communicator.h"
#include "model/kv_cache.h"
#include "model/stage.h"
#include "runtime/scheduler.h"

namespace autodist {

// Which part of a step this rank runs: layers [l0, l1) of its stage (relative, l1 < 0: to the end), whether it
// embeds the ids (first) or runs the head (last), and its neighbours in the pp group (-1: none).
struct StageRole {
  int64_t l0 = 0, l1 = -1;
  bool first = true, last = true;
  int prev = -1, next = -1;
  int last_stage = 0;  // pp rank of the stage that runs the head (sends the tokens back)
};

// Device tokens shared by a rank's executors.
struct DeviceTokens {
  Buffer slot;    // i32 [slots]: the token the head last wrote for each slot (read for kTokenFromDevice rows)
  Buffer banned;  // i32 [n]: the stop tokens a ban excludes
};

class StageExecutor {
 public:
  StageExecutor(Backend& be, Stage& stage, KVCache& cache, DeviceTokens& tokens, const StageRole& role,
                dist::Communicator* pp_data, dist::Communicator* pp_ctrl, Timeline& tl);
  ~StageExecutor();
  const StageRole& role() const { return role_; }

  // Activation buffers for `buffers` steps in flight of up to max_tokens rows and max_outputs output rows. Outside a
  // step; grows only.
  void prepare(int64_t max_tokens, int64_t max_outputs, int buffers);

  // How run() names its regions in the trace: the forward as `phase` (with step / chunk / micro-batch), the wait for
  // the previous stage's activations as `wait_phase` (null: not recorded).
  struct Tag {
    const char* phase = "step";
    int step = -1, chunk = -1;
    const char* wait_phase = nullptr;
  };
  void run(const StepPlan& plan, StepOutput out, const SamplingOptions& so, const Tag& tag);

  // Last stage after a Greedy or Sample step in buffer b: the tokens on the host (waits for their copy).
  const int32_t* tokens(int b);
  // Last stage after a Logits step in buffer b: logits [R, vocab] on the device, until the next head.
  const Tensor& logits(int b) const { return logits_[static_cast<size_t>(b)]; }
  // The n tokens of buffer b from the last stage to every other stage of the pp group (control channel): the last
  // stage sends them, every other stage receives them into dst.
  void send_tokens(int b, int64_t n);
  // Returns the timeline mark taken when the tokens had arrived.
  int64_t recv_tokens(int b, int32_t* dst, int64_t n);
  // Waits for every activation send still in flight.
  void drain();
  int buffers() const { return static_cast<int>(act_.size()); }

 private:
  void wait_send(size_t b);  // buffer b's activation send, if one is in flight
  void forward(Tensor x);    // the stage's layers, testing the sends in flight between them

  Backend& be_;
  Stage& stage_;
  KVCache& cache_;
  DeviceTokens& dt_;
  StageRole role_;
  dist::Communicator* pp_data_;
  dist::Communicator* pp_ctrl_;
  Timeline& tl_;
  int64_t rows_cap_ = 0, out_cap_ = 0;
  std::vector<Buffer> act_, tok_;        // per buffer: activations [rows, D], tokens i32 [outputs]
  std::vector<HostBuffer> host_tok_;     // per buffer: the tokens on the host
  std::vector<Tensor> logits_;           // per buffer: the last Logits step's output
  std::vector<std::unique_ptr<dist::CommRequest>> pending_;  // per buffer: its activation send
};

}  // namespace autodist
