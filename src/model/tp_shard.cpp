#include "model/tp_shard.h"

#include <algorithm>

#include "core/error.h"

namespace autodist {

TpShard TpShard::make(const ModelConfig& c, int rank, int size) {
  AD_CHECK(size >= 1 && rank >= 0 && rank < size, "tensor-parallel rank {} of {} is invalid", rank, size);
  AD_CHECK(c.n_heads % size == 0,
           "tensor-parallel size {} does not divide the {} attention heads of {}; choose a tp that divides {}", size,
           c.n_heads, c.architecture, c.n_heads);
  AD_CHECK(c.intermediate % size == 0, "tensor-parallel size {} does not divide intermediate_size {}", size,
           c.intermediate);
  TpShard s;
  s.rank = rank;
  s.size = size;
  s.q_heads = c.n_heads / size;
  s.q_head_start = rank * s.q_heads;
  if (c.n_kv_heads >= size) {
    AD_CHECK(c.n_kv_heads % size == 0, "tensor-parallel size {} does not divide the {} key/value heads", size,
             c.n_kv_heads);
    s.kv_heads = c.n_kv_heads / size;
    s.kv_head_start = rank * s.kv_heads;
  } else {
    AD_CHECK(size % c.n_kv_heads == 0,
             "tensor-parallel size {} is larger than the {} key/value heads and not a multiple of them", size,
             c.n_kv_heads);
    s.kv_heads = 1;
    s.kv_head_start = static_cast<int64_t>(rank) * c.n_kv_heads / size;
  }
  s.inter = c.intermediate / size;
  s.inter_start = rank * s.inter;
  s.vocab_local = (c.vocab + size - 1) / size;
  s.vocab_start = rank * s.vocab_local;
  s.vocab_valid = std::clamp<int64_t>(c.vocab - s.vocab_start, 0, s.vocab_local);
  return s;
}

}  // namespace autodist
