// defines: EngineOptions, Engine (load this rank's stage; step, prefill/decode, generate), GenerateResult
#pragma once
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "dist/topology.h"
#include "io/model_config.h"
#include "model/stage.h"
#include "runtime/sampler.h"
#include "trace/events.h"

namespace autodist {

struct EngineOptions {
  std::string model_dir;
  std::string partition = "equal-layers";  // see model/partition.h
  int micro_batches = 1;
  int sp_chunk = 0;              // > 0: chunked SP+PP prefill
  std::string kv_sync = "none";  // pairwise | ring | none (with sp_chunk)
  DType weight_dtype = DType::F32;  // storage of the weight matrices (math is f32 on the cpu backend)
  std::string cache_dir;            // shard cache (empty: slice the checkpoint every run)
};

struct GenerateOptions {
  int64_t max_output = 256;
  int64_t min_output = 1;
  SamplingOptions sampling;
  bool stop_at_eos = true;
  std::vector<int64_t> extra_eos;  // stop tokens beyond the config's (tokenizer, chat template)
  // Called on every rank as each token is accepted (sequence index, token): streaming output.
  std::function<void(int64_t, int32_t)> on_token;
};

struct SequenceResult {
  std::vector<int32_t> prompt;
  std::vector<int32_t> output;
  std::string stop_reason;  // eos | length | context
};

struct GenerateResult {
  std::vector<SequenceResult> seqs;
  double load_ms = 0, prefill_ms = 0, decode_ms = 0;
  int64_t decode_steps = 0;
  double comm_ms = 0;  // tensor/pipeline communication and waits inside prefill + decode (this rank)
  double prefill_comm_ms = 0;
  double decode_comm_ms() const { return comm_ms - prefill_comm_ms; }
  double ttft_ms() const { return prefill_ms; }
  double ms_per_step() const { return decode_steps ? decode_ms / decode_steps : 0; }
  int64_t output_tokens() const {
    int64_t n = 0;
    for (auto& s : seqs) n += static_cast<int64_t>(s.output.size());
    return n;
  }
};

enum class StepOutput { Greedy, Logits, None };

class Engine {
 public:
  // groups: this rank's topology and communicators (tp = pp = 1 without MPI).
  Engine(Backend& be, const ModelConfig& cfg, const EngineOptions& opt, dist::ParallelGroups& groups);

  const ModelConfig& config() const { return cfg_; }
  const dist::Topology& topo() const { return groups_.topo; }
  Stage& stage() { return *stage_; }
  double load_ms() const { return load_ms_; }
  size_t bytes_read() const { return bytes_read_; }
  const std::string& load_source() const { return load_source_; }  // "checkpoint" or "cache"

  // KV cache for `slots` sequences of up to max_seq positions (reallocated only when it grows).
  void reserve_cache(int64_t slots, int64_t max_seq);

  // One forward pass over the rows of `segs` (ids concatenated in row order) through the whole
  // pipeline. Results for `out_rows` are returned on every rank: token ids (Greedy) or logits
  // [out_rows, vocab] (Logits).
  struct StepResult {
    std::vector<int32_t> tokens;
    std::vector<float> logits;
  };
  StepResult step(const std::vector<int32_t>& ids, const std::vector<AttnSegment>& segs,
                  const std::vector<int32_t>& out_rows, StepOutput kind);

  GenerateResult generate(const std::vector<std::vector<int32_t>>& prompts, const GenerateOptions& o);

  // Checks ids against the vocabulary and the prompt length against the context.
  void check_prompt(const std::vector<int32_t>& ids) const;

  // SP+PP: the prompt cut into chunks that flow through the layer stages, then (with a kv sync)
  // every rank gets every layer's KV and holds the whole model. Results for the last row (or all
  // rows) on every rank. See sp_prefill.cpp.
  bool sp() const { return opt_.sp_chunk > 0; }
  bool sp_full_model() const { return sp() && opt_.kv_sync != "none"; }
  StepResult prefill_chunked(const std::vector<int32_t>& prompt, int32_t slot, bool all_rows, StepOutput kind);
  const KVCache& cache() const { return cache_; }
  // After a synced SP+PP prefill: max |difference| between this rank's KV cache (slot) and the KV
  // of a plain one-segment prefill of the whole model on this rank.
  double kv_diff_vs_local_prefill(const std::vector<int32_t>& prompt, int32_t slot);
  trace::Trace& trace() { return trace_; }
  const StageRange& prefill_range() const { return prefill_range_; }
  const std::vector<StageRange>& stage_ranges() const { return parts_; }  // every pipeline stage's layers

 private:
  Backend& be_;
  ModelConfig cfg_;
  EngineOptions opt_;
  dist::ParallelGroups& groups_;
  std::unique_ptr<Stage> stage_;
  KVCache cache_;
  Buffer x_;    // [T, D] activations of the current step
  Buffer sel_;  // [R, D] rows whose next token is wanted (reused: no allocation per step)
  Tensor select_rows(const Tensor& x, const std::vector<int32_t>& rows);
  double load_ms_ = 0;
  size_t bytes_read_ = 0;
  std::string load_source_;
  int64_t pp_comm_ns_ = 0;
  int64_t fault_step_ = -1, forwards_ = 0;  // AUTODIST_FAULT test hook
  int64_t steps_ = 0;                        // step() calls, numbering the trace's step events
  void maybe_fault();
  // Checks the prompts, sizes the KV cache, resets the communication counters.
  GenerateResult begin_generate(const std::vector<std::vector<int32_t>>& prompts, const GenerateOptions& o);
  GenerateResult generate_sp(const std::vector<std::vector<int32_t>>& prompts, const GenerateOptions& o);
  void kv_sync(int32_t slot, int64_t L, const std::vector<StageRange>& parts);
  StageRange prefill_range_;      // layers [first, last) this rank computes in the prefill (absolute)
  std::vector<StageRange> parts_;  // every stage's layers
  int64_t layer_offset_ = 0;      // absolute index of the first layer the stage holds
  trace::Trace trace_;
  std::unique_ptr<dist::Communicator> sync_comm_;  // the pp group again, for the sync thread
  // sync thread handshake: set when this rank's prefill layers hold the whole prompt's KV
  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  bool own_kv_ready_ = false;
};

}  // namespace autodist
