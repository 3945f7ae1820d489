// defines: Stage (a contiguous range of decoder layers of one rank, + embedding first, + norm and
//          vocab-parallel lm_head last), the forward pass with explicit tensor-parallel collectives
#pragma once
#include <memory>
#include <vector>

#include "backend/backend.h"
#include "dist/communicator.h"
#include "io/model_config.h"
#include "model/kv_cache.h"
#include "model/tp_shard.h"
#include "model/weights.h"

namespace autodist {

class Stage {
 public:
  // tp_comm may be null when tp == 1.
  Stage(Backend& be, const ModelConfig& c, const TpShard& tp, const StageRange& range, StageWeights w,
        dist::Communicator* tp_comm);

  const StageRange& range() const { return range_; }
  const TpShard& tp() const { return tp_; }
  size_t weight_bytes() const { return w_.bytes; }
  int64_t num_layers() const { return range_.last - range_.first; }
  KVCache make_cache(int64_t slots, int64_t max_seq) const;

  // x[T, D] = embedding rows of ids[T] (vocab-parallel: all-reduced over tp).
  void embed(const std::vector<int32_t>& ids, Tensor x);
  // x[T, D] through this stage's layers [l0, l1) (relative; l1 < 0: to the end), in place; writes
  // the KV of each segment into cache.
  void forward(Tensor x, const std::vector<AttnSegment>& segs, KVCache& cache, int64_t l0 = 0, int64_t l1 = -1);
  // Final norm + lm_head on rows x[R, D]: full logits [R, vocab] on the host, on every tp rank.
  std::vector<float> logits(const Tensor& x);
  // Greedy token of each row (lowest index on ties, as torch.argmax), on every tp rank.
  std::vector<int32_t> greedy(const Tensor& x);

  // Time spent in tensor-parallel communication since the last reset (ns).
  int64_t comm_ns() const { return comm_ns_; }
  void reset_comm_ns() { comm_ns_ = 0; }

 private:
  void reserve(int64_t T);
  void all_reduce(Tensor t);
  Tensor local_logits(const Tensor& x);  // [R, V_l]

  Backend& be_;
  ModelConfig c_;
  TpShard tp_;
  StageRange range_;
  StageWeights w_;
  dist::Communicator* tp_comm_;
  RopeTable rope_;
  int64_t cap_ = 0;  // rows the scratch buffers hold
  Buffer h_, qkv_, q_, k_, v_, att_, o_, gu_, act_, logits_;
  int64_t comm_ns_ = 0;
};

}  // namespace autodist
