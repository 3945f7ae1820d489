// defines: PerfLayout, Workload, Memory, Prediction, check_layout, memory_per_rank, step_seconds, predict,
//          layout_name
//
// The prediction replays autodist's schedules (runtime/engine.cpp, stage_executor.cpp, sp_prefill.cpp,
// kv_sync.cpp) on the simulator of perf/sim.h with per-kernel times from a profile (perf/profile.h), the
// collectives of perf/comm_model.h over the links of a cluster (perf/cluster.h), and compute slowed where a host
// has more busy ranks than cores. docs/perf-model.md has the formulas.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "io/model_config.h"
#include "perf/cluster.h"
#include "perf/profile.h"
#include "perf/shapes.h"
#include "runtime/layout.h"

namespace autodist::perf {

struct PerfLayout {
  int tp = 1, pp = 1, micro_batches = 1;
  int sp_chunk = 0;                       // > 0: SP+PP chunked prefill
  KvSyncKind kv_sync = KvSyncKind::None;  // with sp_chunk
  std::string partition = "equal-layers";
  DType weight_dtype = DType::F32;
};

struct Workload {
  int64_t batch = 1, prompt_len = 128, max_output = 32;  // bench: every sequence makes max_output tokens
};

struct Memory {
  double weights = 0, kv_cache = 0, activations = 0;
  double total() const { return weights + kv_cache + activations; }
};

struct Prediction {
  double ttft_s = 0, tpot_s = 0, tokens_per_s = 0;
  double prefill_comm_s = 0, decode_comm_s = 0;  // rank 0's tensor-parallel and pipeline communication (no waits)
  Memory memory;                                 // the largest rank's
  int largest_rank = 0;
  double memory_limit = 0;                       // that rank's memory in the cluster
  bool fits = true;
};

// Throws naming the flag when the layout cannot run on this model and cluster.
void check_layout(const ModelConfig& c, const Cluster& cl, const PerfLayout& l, const Workload& w);
// Bytes rank `rank` holds: weights (its shard of its layers), KV cache and the step buffers.
Memory memory_per_rank(const ModelConfig& c, const PerfLayout& l, const Workload& w, int rank);

// How much slower a rank computes than alone: cpu (more busy ranks than cores: time-sliced) times the memory and
// cache contention of the ranks computing at once (Profile::contention), which differs between decode-sized
// (memory bound) and prefill-sized (compute bound) kernels.
// On an oversubscribed host a collective also waits for the ranks that are off the cores while the early ones spin
// (up to spin_s): each collective costs half of min(spin_s, the compute since the last one x (1 - 1/cpu)) more (on
// average half the window is lost before the late ranks get a core).
struct Contention {
  double cpu = 1, mem_decode = 1, mem_prefill = 1;
  double spin_s = 0;
  double at(int64_t rows) const;  // <= 16 rows: decode's, >= 128: prefill's, between: log-interpolated
};

// Seconds of one step of `layers` layers on one tensor-parallel rank: segments (start, len) of its rows, the
// embedding first when embed, the head over `outputs` rows when outputs > 0. comm_s: the tensor-parallel collectives
// over `tp_link` (included in the total).
struct StepSeconds {
  double compute = 0, comm = 0;
  double total() const { return compute + comm; }
};
StepSeconds step_seconds(const Profile& p, const ModelConfig& c, const StageShapes& s,
                         const std::vector<std::pair<int64_t, int64_t>>& segs, int64_t layers, bool embed,
                         int64_t outputs, const Link& tp_link, const Contention& k = {});

Prediction predict(const ModelConfig& c, const Profile& p, const Cluster& cl, const PerfLayout& l, const Workload& w);

// "tp2 pp2", "pp4 sp128 ring", "pp2 mb2" (as the flags would give it).
std::string layout_name(const PerfLayout& l);

}  // namespace autodist::perf
