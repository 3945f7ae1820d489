// defines: make_partition (pipeline split policies), stage_bytes, PartitionPlan
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

std::vector<StageRange> make_partition(const ModelConfig& c, int pp, const std::string& policy,
                                       size_t bytes_per_param = 4);
// Weight bytes a stage holds (whole model, before tensor parallelism).
size_t stage_bytes(const ModelConfig& c, const StageRange& r, size_t bytes_per_param);
int64_t parse_bytes(const std::string& s);  // "512M" -> 536870912

}  // namespace autodist
