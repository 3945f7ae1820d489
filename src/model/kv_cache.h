// defines: KVCache (per layer of a stage: k and v [slots, max_seq, Hk_l, hd], preallocated)
#pragma once
#include <vector>

#include "backend/backend.h"

namespace autodist {

struct KVCache {
  std::vector<Buffer> k, v;  // one per layer held by the stage
  int64_t slots = 0, max_seq = 0, kv_heads = 0, head_dim = 0;

  KVCache() = default;
  KVCache(Backend& be, int64_t layers, int64_t slots, int64_t max_seq, int64_t kv_heads, int64_t head_dim)
      : slots(slots), max_seq(max_seq), kv_heads(kv_heads), head_dim(head_dim) {
    for (int64_t l = 0; l < layers; ++l) {
      k.emplace_back(&be, DType::F32, Shape{slots, max_seq, kv_heads, head_dim});
      v.emplace_back(&be, DType::F32, Shape{slots, max_seq, kv_heads, head_dim});
    }
  }
  size_t bytes() const { return k.empty() ? 0 : 2 * k.size() * k[0].t().nbytes(); }
};

}  // namespace autodist
