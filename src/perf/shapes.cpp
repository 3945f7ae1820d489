#include "perf/shapes.h"

#include "core/error.h"
#include "model/tp_shard.h"

namespace autodist::perf {

StageShapes stage_shapes(const ModelConfig& c, int tp) {
  const TpShard s = TpShard::make(c, 0, tp);
  StageShapes r;
  r.tp = tp;
  r.D = c.hidden;
  r.hd = c.head_dim;
  r.hq = s.q_heads;
  r.hk = s.kv_heads;
  r.inter = s.inter;
  r.vocab_local = s.vocab_local;
  r.qkv = {"qkv", (s.q_heads + 2 * s.kv_heads) * c.head_dim, c.hidden};
  r.o = {"o_proj", c.hidden, s.q_heads * c.head_dim};
  r.mlp_in = {"mlp_in", (c.mlp == MlpKind::Gated ? 2 : 1) * s.inter, c.hidden};
  r.down = {"down", c.hidden, s.inter};
  r.head = {"head", s.vocab_local, c.hidden};
  return r;
}

std::vector<int> valid_tps(const ModelConfig& c, int max_tp) {
  std::vector<int> out;
  for (int tp = 1; tp <= max_tp; ++tp) {
    try {
      stage_shapes(c, tp);
      out.push_back(tp);
    } catch (const Error&) {
    }
  }
  return out;
}

}  // namespace autodist::perf
