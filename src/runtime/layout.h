// defines: KvSyncKind, EngineOptions, Layout (what this rank holds and computes), make_layout, LoadedModel,
//          load_model (this rank's weights, from the shard cache or the checkpoint)
//
// Decided once per run, before the engine exists: the pipeline split (sized in the run's weight dtype), the
// tensor-parallel shard, the layers this rank holds and those it computes in the prefill.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "dist/topology.h"
#include "io/model_config.h"
#include "model/tp_shard.h"
#include "model/weights.h"

namespace autodist {

// SP+PP after the chunked prefill: every rank gets every layer's KV (pairwise: all at once; ring: pp-1 rounds) and
// decodes alone, or the KV stays put and the decode is pipelined (None).
enum class KvSyncKind { None, Pairwise, Ring };
KvSyncKind parse_kv_sync(const std::string& s);  // pairwise | ring | none; throws on anything else

struct EngineOptions {
  std::string model_dir;
  std::string partition = "equal-layers";  // see model/partition.h
  int micro_batches = 1;
  int sp_chunk = 0;                          // > 0: chunked SP+PP prefill
  KvSyncKind kv_sync = KvSyncKind::None;     // with sp_chunk
  DType weight_dtype = DType::F32;           // storage of the weight matrices (math is f32 on the cpu backend)
  std::string cache_dir;                     // shard cache (empty: slice the checkpoint every run)
  bool sp() const { return sp_chunk > 0; }
  bool sp_full_model() const { return sp() && kv_sync != KvSyncKind::None; }
};

struct Layout {
  std::vector<StageRange> parts;  // every pipeline stage's layers
  StageRange prefill;             // this rank's stage: the layers it computes in the (chunked) prefill
  StageRange held;                // the layers it holds: its stage, or every layer with an SP+PP sync
  TpShard tp;
};

// Checks the run against the model (family, tp, pp, SP+PP) and splits it; throws naming what does not fit.
Layout make_layout(const ModelConfig& c, const dist::Topology& t, const EngineOptions& o);

struct LoadedModel {
  Layout layout;
  StageWeights weights;
  LoadReport report;
  int64_t t0_ns = 0, t1_ns = 0;  // steady clock around the load
  double ms() const { return (t1_ns - t0_ns) * 1e-6; }
};

// This rank's layout and weights; logs what it read from where.
LoadedModel load_model(Backend& be, const ModelConfig& c, const dist::Topology& t, const EngineOptions& o);

}  // namespace autodist
