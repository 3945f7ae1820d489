// defines: TpShard (which heads, MLP columns and vocab rows one tensor-parallel rank holds)
#pragma once
#include <cstdint>

#include "io/model_config.h"

namespace autodist {

// Megatron layout: q heads split evenly; kv heads split when tp divides them, else replicated
// (tp a multiple of kv heads, each rank holding the one kv head its q heads use); MLP columns
// split evenly; vocab padded to a multiple of tp.
struct TpShard {
  int rank = 0, size = 1;
  int64_t q_heads = 0, q_head_start = 0;
  int64_t kv_heads = 0, kv_head_start = 0;
  int64_t inter = 0, inter_start = 0;
  int64_t vocab_local = 0, vocab_start = 0;  // padded rows: vocab_local * size >= vocab
  int64_t vocab_valid = 0;                   // real rows held here (<= vocab_local)

  static TpShard make(const ModelConfig& c, int rank, int size);
};

}  // namespace autodist
