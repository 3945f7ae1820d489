// defines: make_rope_table (inverse frequencies for default, linear, llama3, yarn, dynamic rope)
#pragma once
#include "backend/backend.h"
#include "io/model_config.h"

namespace autodist {
// As transformers' ROPE_INIT_FUNCTIONS. "dynamic" equals "default" up to max_position_embeddings,
// the longest context we accept.
RopeTable make_rope_table(const ModelConfig& c);
}  // namespace autodist
