// defines: RopeTable, make_rope_table (inverse frequencies for default, linear, llama3, yarn, dynamic rope),
//          rope_cos_sin (the per-position table the backends' rope reads)
#pragma once
#include <cstdint>
#include <vector>

#include "io/model_config.h"

namespace autodist {

// Rotary tables: inverse frequencies per pair and the attention factor (yarn) that scales cos/sin.
struct RopeTable {
  std::vector<double> inv_freq;  // [hd/2]
  double attention_factor = 1.0;
};

// As transformers' ROPE_INIT_FUNCTIONS. "dynamic" equals "default" up to max_position_embeddings,
// the longest context we accept.
RopeTable make_rope_table(const ModelConfig& c);

// [positions, hd] row-major: cos(p f_i) * a in columns [0, hd/2), sin(p f_i) * a in [hd/2, hd), each angle and
// product in double, rounded once to float.
std::vector<float> rope_cos_sin(const RopeTable& t, int64_t positions);

}  // namespace autodist
