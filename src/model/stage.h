// defines: Stage (a contiguous range of decoder layers of one rank, + embedding first, + norm and vocab-parallel
//          lm_head last): the forward pass and the head, with explicit tensor-parallel collectives
//
// Every call runs inside a step (Backend::begin_step) and reads the step's rows from the plan; activations and
// collectives stay on device tensors (the tensor-parallel data channel). prepare() sizes every scratch buffer, so
// a step allocates nothing and issues the same calls on the same buffers whenever its shape repeats.
#pragma once
#include <memory>
#include <vector>

#include "backend/backend.h"
#include "backend/timeline.h"
#include "dist/communicator.h"
#include "io/model_config.h"
#include "model/kv_cache.h"
#include "model/rope.h"
#include "model/tp_shard.h"
#include "model/weights.h"

namespace autodist {

class Stage {
 public:
  // tp_data (the tensor-parallel data channel) may be null when tp == 1.
  Stage(Backend& be, const ModelConfig& c, const TpShard& tp, const StageRange& range, StageWeights w,
        dist::Communicator* tp_data);

  const StageRange& range() const { return range_; }
  const TpShard& tp() const { return tp_; }
  const ModelConfig& config() const { return c_; }
  size_t weight_bytes() const { return w_.bytes; }
  int64_t num_layers() const { return range_.last - range_.first; }
  KVCache make_cache(int64_t slots, int64_t max_seq) const;
  // Scratch for steps of up to max_tokens rows and max_outputs output rows, rotary table for max_context
  // positions. Outside a step; grows only.
  void prepare(int64_t max_tokens, int64_t max_context, int64_t max_outputs);
  // Where the tensor-parallel collectives are timed (Counter::TpComm); null: not timed.
  void set_timeline(Timeline* tl) { tl_ = tl; }

  // x[T, D] = embedding rows of the plan's ids (vocab-parallel: all-reduced over tp).
  void embed(Tensor x, const Tensor& slot_tokens);
  // x[T, D] through this stage's layers [l0, l1) (relative; l1 < 0: to the end), in place; writes each row's KV.
  void forward(Tensor x, KVCache& cache, int64_t l0 = 0, int64_t l1 = -1);
  // Head on the plan's output rows of x: the greedy token of each (lowest index on ties, as torch.argmax), or a
  // sample, into tokens[R] and slot_tokens (the next step's embedding input), identical on every tp rank.
  void greedy(const Tensor& x, Tensor tokens, Tensor slot_tokens);
  void sample(const Tensor& x, const Tensor& banned, const SamplingOptions& o, Tensor tokens, Tensor slot_tokens);
  // Full logits [R, vocab] of the plan's output rows, on every tp rank (device memory, valid until the next head).
  Tensor logits(const Tensor& x);

 private:
  template <typename F>
  void comm(F&& f);  // f timed as tensor-parallel communication (when a timeline is set)
  void all_reduce(Tensor t);
  void norm(const Tensor& x, const Buffer& w, const Buffer& b, Tensor y);  // the recipe's norm (bias if any)
  void reduce_out(Tensor o, const Buffer& bias);
  void all_gather(const Tensor& send, Tensor recv);
  Tensor local_logits(const Tensor& x);  // [R, V_l]

  Backend& be_;
  ModelConfig c_;
  TpShard tp_;
  StageRange range_;
  StageWeights w_;
  dist::Communicator* tp_data_;
  RopeTable rope_;
  Timeline* tl_ = nullptr;
  int64_t cap_ = 0, out_cap_ = 0, ctx_cap_ = 0;  // rows, output rows and positions the buffers hold
  Buffer h_, qkv_, q_, k_, v_, att_, o_, gu_, act_;    // [cap, ...] layer scratch
  Buffer cos_sin_;                                     // [ctx_cap, hd]
  Buffer sel_, hn_, local_, parts_, full_, pairs_, all_pairs_;  // head scratch [out_cap, ...]
};

}  // namespace autodist
