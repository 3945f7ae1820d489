// defines: make_partition (pipeline split policies), ModelBytes, model_bytes, stage_bytes
//
// Policies (PiPPy-like):
//   equal-layers        layers split as evenly as possible (extra layers go to the first stages)
//   equal-params        contiguous split minimising the largest stage's parameter count
//                       (embedding counted on the first stage, final norm + lm_head on the last)
//   threshold:BYTES     fill a stage until the next layer would pass BYTES (K/M/G suffixes), as
//                       PiPPy's split_on_size_threshold; must produce exactly pp stages
//   memory:GB,GB,...    one budget per stage (GPUs of different sizes): split minimising the
//                       largest used/budget ratio; refused if a stage does not fit
//   layers:A,B,...      explicit layer counts per stage, summing to num_hidden_layers
#pragma once
#include <string>
#include <vector>

#include "io/model_config.h"
#include "model/weights.h"

namespace autodist {

// Bytes a rank holds (whole model, before tensor parallelism) with matrices in `dtype` and vectors in f32, exactly as
// the weight loader stores them (shard_plan): per layer, for the embedding (first stage) and for the final norm +
// vocabulary matrix (last stage; the embedding rows again when tied).
struct ModelBytes {
  size_t layer = 0, embed = 0, head = 0;
};
ModelBytes model_bytes(const ModelConfig& c, DType dtype);

// Sized in the run's weight dtype: `generate --dtype bf16` and `inspect --dtype bf16` give the same split.
std::vector<StageRange> make_partition(const ModelConfig& c, int pp, const std::string& policy,
                                       DType dtype = DType::F32);
size_t stage_bytes(const ModelConfig& c, const StageRange& r, DType dtype);
int64_t parse_bytes(const std::string& s);  // "512M" -> 536870912

}  // namespace autodist
