// defines: GenerateOptions, SequenceResult, GenerateResult, Engine (one rank's model, KV cache and stage executors;
//          generate, the SP+PP chunk pipeline and the teacher-forced steps of verify, all over StageExecutor::run)
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/sampling.h"
#include "backend/timeline.h"
#include "dist/topology.h"
#include "io/model_config.h"
#include "model/stage.h"
#include "runtime/layout.h"
#include "trace/events.h"

namespace autodist {

class StageExecutor;
class KvSync;
struct DeviceTokens;
class Sequences;
class Scheduler;
enum class StepOutput;

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

class Engine {
 public:
  // groups: this rank's topology and communicators (tp = pp = 1 without MPI); model: from load_model.
  Engine(Backend& be, const ModelConfig& cfg, const EngineOptions& opt, dist::ParallelGroups& groups,
         LoadedModel model);
  ~Engine();

  const ModelConfig& config() const { return cfg_; }
  const dist::Topology& topo() const { return groups_.topo; }
  Stage& stage() { return *stage_; }
  double load_ms() const { return load_ms_; }
  size_t bytes_read() const { return bytes_read_; }
  const std::string& load_source() const { return load_source_; }  // "checkpoint" or "cache"
  bool sp() const { return opt_.sp(); }
  bool sp_full_model() const { return opt_.sp_full_model(); }
  const std::vector<StageRange>& stage_ranges() const { return layout_.parts; }  // every pipeline stage's layers
  const StageRange& prefill_range() const { return layout_.prefill; }
  trace::Trace& trace() { return trace_; }

  // Sizes everything the steps need: activations and scratch for up to max_tokens rows and max_outputs output rows
  // per step, the KV cache for `slots` sequences of max_context positions (capped at the model's context), the
  // backend's plan buffers. Outside a step; grows only, and growing the KV cache loses its contents.
  void prepare(int64_t max_tokens, int64_t max_context, int64_t slots, int64_t max_outputs);
  // Rows of the largest prefill step for a prompt of L tokens (a chunk with SP+PP).
  int64_t prefill_rows(int64_t L) const;

  GenerateResult generate(const std::vector<std::vector<int32_t>>& prompts, const GenerateOptions& o);

  // Checks ids against the vocabulary and the prompt length against the context.
  void check_prompt(const std::vector<int32_t>& ids) const;

  // Teacher forcing (verify): positions [start, start + ids.size()) of slot 0 through the whole model; the logits
  // [n, vocab] of every row, on every rank. A prefill (start 0) of an SP+PP run goes through the chunk pipeline and
  // its KV sync. prepare() first.
  std::vector<float> forward_logits(const std::vector<int32_t>& ids, int32_t start);
  // After a synced SP+PP prefill: max |difference| between this rank's KV cache (slot) and the KV of a plain
  // one-segment prefill of the whole model on this rank.
  double kv_diff_vs_local_prefill(const std::vector<int32_t>& prompt, int32_t slot);

 private:
  struct ChunkResult {
    std::vector<int32_t> tokens;
    std::vector<float> logits;
  };
  // SP+PP: prompt in chunks through the stages (then the KV sync); results of the last row (or every row) on every
  // rank (sp_prefill.cpp).
  ChunkResult prefill_chunked(const std::vector<int32_t>& prompt, int32_t slot, StepOutput out, bool all_rows,
                              bool ban, const SamplingOptions& so);
  // The executor that decodes: the pipeline, or the whole model on this rank after an SP+PP sync.
  StageExecutor& decoder();
  // Steps of every micro-batch until all are done (the prefill too, unless an SP+PP prefill ran).
  void step_loop(Sequences& sq, Scheduler& sched, const GenerateOptions& o, GenerateResult& res, int64_t& prefill_end);
  // Resolves the timeline into trace events (backend timers, after the work is done).
  Timeline::Totals flush_timeline();
  void reserve_cache(int64_t slots, int64_t max_seq);
  void maybe_fault();

  Backend& be_;
  ModelConfig cfg_;
  EngineOptions opt_;
  dist::ParallelGroups& groups_;
  Layout layout_;
  std::unique_ptr<Stage> stage_;
  KVCache cache_;
  std::unique_ptr<DeviceTokens> tokens_;
  Timeline timeline_;
  trace::Trace trace_;
  std::unique_ptr<StageExecutor> exec_;   // this rank's stage of the pipeline
  std::unique_ptr<StageExecutor> local_;  // every layer on this rank (SP+PP with a sync), else null
  std::unique_ptr<KvSync> kv_sync_;       // SP+PP with a sync, else null
  StepPlan plan_;                         // the step being run (rebuilt per step, capacity kept)
  std::vector<int32_t> recv_tokens_;      // tokens from the last stage (host)
  StepLimits prepared_;
  double load_ms_ = 0;
  size_t bytes_read_ = 0;
  std::string load_source_;
  int64_t fault_step_ = -1, forwards_ = 0;  // AUTODIST_FAULT test hook
  bool fault_stop_ = false;
  int steps_ = 0;                           // verify's forward_logits calls, numbering their trace events
};

}  // namespace autodist
