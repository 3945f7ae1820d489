// defines: EngineOptions, Engine (load this rank's stage; step, prefill/decode, generate), GenerateResult
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "dist/topology.h"
#include "io/model_config.h"
#include "model/stage.h"
#include "runtime/sampler.h"

namespace autodist {

struct EngineOptions {
  std::string model_dir;
  std::string partition = "equal-layers";  // see model/partition.h
  int micro_batches = 1;
};

struct GenerateOptions {
  int64_t max_output = 256;
  int64_t min_output = 1;
  SamplingOptions sampling;
  bool stop_at_eos = true;
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

 private:
  Backend& be_;
  ModelConfig cfg_;
  EngineOptions opt_;
  dist::ParallelGroups& groups_;
  std::unique_ptr<Stage> stage_;
  KVCache cache_;
  Buffer x_;  // [T, D] activations of the current step
  double load_ms_ = 0;
  size_t bytes_read_ = 0;
  int64_t pp_comm_ns_ = 0;
  int64_t fault_step_ = -1, forwards_ = 0;  // AUTODIST_FAULT test hook
  void maybe_fault();
};

}  // namespace autodist
