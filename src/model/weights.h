// defines: LayerWeights, StageWeights, load_stage_weights (this rank's slices, fused and converted)
#pragma once
#include <vector>

#include "backend/backend.h"
#include "io/model_config.h"
#include "io/safetensors.h"
#include "model/tp_shard.h"

namespace autodist {

struct LayerWeights {
  Buffer attn_norm;   // [D]
  Buffer qkv;         // [(Hq_l + 2 Hk_l) hd, D]  q, k, v rows of this rank, fused
  Buffer qkv_bias;    // [(Hq_l + 2 Hk_l) hd] or empty
  Buffer q_norm;      // [hd] or empty (Qwen3)
  Buffer k_norm;      // [hd] or empty
  Buffer o;           // [D, Hq_l hd]  row-parallel: input columns of this rank
  Buffer o_bias;      // [D] or empty (added on tp rank 0 only)
  Buffer mlp_norm;    // [D]
  Buffer gate_up;     // [2 I_l, D]  gate rows then up rows, fused
  Buffer down;        // [D, I_l]
};

struct StageWeights {
  Buffer embed;       // [V_l, D] vocab-parallel rows (first stage, or last when tied)
  std::vector<LayerWeights> layers;  // layers [first, last)
  Buffer final_norm;  // [D] (last stage)
  Buffer lm_head;     // [V_l, D] (last stage; the embedding rows when tied)
  size_t bytes = 0;   // held by this rank
};

struct StageRange {
  int64_t first = 0, last = 0;  // layers [first, last)
  bool has_embed = true, has_head = true;
};

StageWeights load_stage_weights(Backend& be, const io::Checkpoint& ck, const ModelConfig& c, const TpShard& tp,
                                const StageRange& range);

}  // namespace autodist
