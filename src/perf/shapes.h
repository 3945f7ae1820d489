// defines: GemmShape, StageShapes, stage_shapes (the kernel shapes one tensor-parallel rank of a model runs per
//          layer and in the head), valid_tps
//
// One place for what Stage::forward and the head issue (model/stage.cpp): the profiler measures these shapes and
// the predictor prices them, so the two cannot disagree about a layer.
#pragma once
#include <cstdint>
#include <vector>

#include "io/model_config.h"

namespace autodist::perf {

struct GemmShape {
  const char* name;
  int64_t N, K;
};

struct StageShapes {
  int tp = 1;
  int64_t D = 0, hd = 0, hq = 0, hk = 0;  // hidden, head dim, q and kv heads of this rank
  int64_t inter = 0, vocab_local = 0;     // MLP columns and vocabulary rows of this rank
  GemmShape qkv{"qkv", 0, 0}, o{"o_proj", 0, 0}, mlp_in{"mlp_in", 0, 0}, down{"down", 0, 0}, head{"head", 0, 0};
  std::vector<GemmShape> all() const { return {qkv, o, mlp_in, down, head}; }
};

// Rank 0's shard (the largest when heads are replicated unevenly); throws as TpShard::make does for a tp that does
// not fit the model.
StageShapes stage_shapes(const ModelConfig& c, int tp);
// The tensor-parallel sizes up to max_tp that the model accepts (1 always).
std::vector<int> valid_tps(const ModelConfig& c, int max_tp);

}  // namespace autodist::perf
