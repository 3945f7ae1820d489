// defines: LayerWeights, StageWeights, WeightSource, load_stage_weights (this rank's slices, fused and
//          converted, from the shard cache or the checkpoint), shard_plan
#pragma once
#include <string>
#include <vector>

#include "backend/backend.h"
#include "io/model_config.h"
#include "io/safetensors.h"
#include "model/tp_shard.h"

namespace autodist {

// One layer of this rank, as the block recipe uses it (model/family.h). Biases of column-parallel linears are split
// with them; those of row-parallel linears (o, down) are whole on every rank and added after the all_reduce.
struct LayerWeights {
  Buffer attn_norm, attn_norm_bias;  // [D]; bias: LayerNorm families
  Buffer qkv;                        // [(Hq_l + 2 Hk_l) hd, D]  q, k, v rows of this rank, fused
  Buffer qkv_bias;                   // [(Hq_l + 2 Hk_l) hd] or empty
  Buffer q_norm, k_norm;             // [hd] or empty (Qwen3)
  Buffer o;                          // [D, Hq_l hd]  row-parallel: input columns of this rank
  Buffer o_bias;                     // [D] or empty
  Buffer mlp_norm, mlp_norm_bias;    // [D]
  Buffer mlp_in;                     // gated: [2 I_l, D] gate rows then up rows; plain: [I_l, D] (fc)
  Buffer mlp_in_bias;                // [2 I_l] or [I_l], or empty
  Buffer down;                       // [D, I_l]
  Buffer down_bias;                  // [D] or empty
};

struct StageWeights {
  Buffer embed;       // [V_l, D] vocab-parallel rows (first stage, or last when tied)
  Buffer positions;   // [max_position + offset, D] learned positions, whole on every tp rank (first stage)
  std::vector<LayerWeights> layers;  // layers [first, last)
  Buffer final_norm, final_norm_bias;  // [D] (last stage)
  Buffer lm_head;     // [V_l, D] (last stage; the embedding rows when tied)
  size_t bytes = 0;   // held by this rank
};

struct StageRange {
  int64_t first = 0, last = 0;  // layers [first, last)
  bool has_embed = true, has_head = true;
};

// One tensor a rank holds: its name in the shard ("layers.3.qkv"), shape, storage dtype, and the
// checkpoint slices whose rows it concatenates (rows past them are zero: vocab padding). A transposed part (GPT-2's
// Conv1D weights, stored [in, out]) is read as its slice, then transposed into the rows it fills.
struct ShardTensor {
  struct Part {
    std::string src;
    std::vector<int64_t> src_shape;  // what the config implies for the whole checkpoint tensor
    io::Slice slice;
    bool transpose = false;
  };
  std::string name;
  std::vector<int64_t> shape;
  DType dtype = DType::F32;
  std::vector<Part> parts;
  size_t nbytes() const;
};

// Matrices (embedding, projections, lm_head) are stored in `dtype`; vectors (norms, biases) in f32.
std::vector<ShardTensor> shard_plan(const ModelConfig& c, const TpShard& tp, const StageRange& range, DType dtype);

struct WeightSource {
  std::string model_dir;
  DType dtype = DType::F32;
  std::string cache_dir;  // empty: always slice the checkpoint
  std::string layout;     // the cache's layout directory name (tp, pp, partition, dtype, version)
  std::string layout_desc;  // JSON written to layout.json (for `autodist cache list`)
  int rank = 0;           // world rank: the cache file's name
};

struct LoadReport {
  std::string source;  // "checkpoint" or "cache"
  size_t bytes_read = 0;
};

StageWeights load_stage_weights(Backend& be, const WeightSource& src, const ModelConfig& c, const TpShard& tp,
                                const StageRange& range, LoadReport* report = nullptr);

}  // namespace autodist
