#include "model/tp_shard.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace autodist {

TpShard TpShard::make(const ModelConfig& c, int rank, int size) {
  AD_CHECK(size >= 1 && rank >= 0 && rank < size, "tensor-parallel rank {} of {} is invalid", rank, size);
  TpShard s;
  s.rank = rank;
  s.size = size;
  const int64_t group = c.n_heads / c.n_kv_heads;  // q heads per kv head
  if (c.n_kv_heads >= size) {
    AD_CHECK(c.n_kv_heads % size == 0,
             "tensor-parallel size {} does not divide the {} key/value heads of {}; use a tp that divides {} (or a "
             "multiple of it up to {} heads)",
             size, c.n_kv_heads, c.architecture, c.n_kv_heads, c.n_heads);
    s.kv_heads = c.n_kv_heads / size;
    s.kv_head_start = rank * s.kv_heads;
    s.q_heads = s.kv_heads * group;
    s.q_head_start = s.kv_head_start * group;
  } else {
    // More ranks than kv heads: each kv head is replicated on size / n_kv ranks, which share its
    // group of q heads (as evenly as possible, so 6 heads over 4 ranks is 2, 1, 2, 1).
    AD_CHECK(size % c.n_kv_heads == 0,
             "tensor-parallel size {} is larger than the {} key/value heads of {} and not a multiple of them", size,
             c.n_kv_heads, c.architecture);
    const int64_t share = size / c.n_kv_heads, j = rank % share;
    AD_CHECK(group >= share,
             "tensor-parallel size {} leaves some ranks without an attention head ({} heads, {} per kv head)", size,
             c.n_heads, group);
    s.kv_heads = 1;
    s.kv_head_start = rank / share;
    const int64_t base = group / share, extra = group % share;
    s.q_heads = base + (j < extra ? 1 : 0);
    s.q_head_start = s.kv_head_start * group + j * base + std::min(j, extra);
  }
  AD_CHECK(c.intermediate % size == 0, "tensor-parallel size {} does not divide intermediate_size {}", size,
           c.intermediate);
  s.inter = c.intermediate / size;
  s.inter_start = rank * s.inter;
  s.vocab_local = (c.vocab + size - 1) / size;
  s.vocab_start = rank * s.vocab_local;
  s.vocab_valid = std::clamp<int64_t>(c.vocab - s.vocab_start, 0, s.vocab_local);
  return s;
}

}  // namespace autodist
