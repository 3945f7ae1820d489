#include "runtime/engine.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <cstdio>
#include <cstdlib>

#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "dist/mpi_env.h"
#include "io/safetensors.h"
#include "model/partition.h"
#include "runtime/sequences.h"

namespace autodist {

Engine::Engine(Backend& be, const ModelConfig& cfg, const EngineOptions& opt, dist::ParallelGroups& groups)
    : be_(be), cfg_(cfg), opt_(opt), groups_(groups) {
  Stopwatch sw;
  const auto& t = groups_.topo;
  AD_CHECK(cfg_.mlp == MlpKind::GatedSilu && cfg_.norm == NormKind::RMSNorm && cfg_.pos == PosKind::Rope,
           "{}: only the Llama family (RMSNorm, RoPE, gated SiLU MLP) runs in this engine", cfg_.architecture);
  TpShard tp = TpShard::make(cfg_, t.tp_rank(), t.tp);
  parts_ = make_partition(cfg_, t.pp, opt_.partition);
  StageRange range = parts_[t.pp_rank()];
  prefill_range_ = range;
  trace_.set_rank(t.rank);
  if (sp()) {
    AD_CHECK(t.pp > 1, "--sp-chunk-size needs --pipeline-parallel-size > 1 (the chunks flow through layer stages)");
    AD_CHECK(t.tp == 1, "SP+PP prefill runs with --tensor-parallel-size 1 (got {})", t.tp);
    AD_CHECK(opt_.kv_sync == "pairwise" || opt_.kv_sync == "ring" || opt_.kv_sync == "none",
             "unknown --kv-sync '{}' (expected pairwise, ring or none)", opt_.kv_sync);
    // With a KV sync every rank decodes the whole model itself, so it holds every layer.
    if (sp_full_model()) range = StageRange{0, cfg_.n_layers, true, true};
  }
  layer_offset_ = range.first;
  WeightSource src;
  src.model_dir = opt_.model_dir;
  src.dtype = opt_.weight_dtype;
  src.cache_dir = opt_.cache_dir;
  src.rank = t.rank;
  if (!src.cache_dir.empty()) {
    // Everything that changes what a rank holds names the layout directory.
    std::string part = opt_.partition;
    for (char& ch : part)
      if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '.' && ch != '-') ch = '_';
    src.layout = fmt::format("tp{}-pp{}-{}-{}{}-v{}", t.tp, t.pp, part, dtype_name(opt_.weight_dtype),
                             sp_full_model() ? "-full" : "", AUTODIST_VERSION);
    src.layout_desc = nlohmann::json{{"model", opt_.model_dir},
                                     {"tp", t.tp},
                                     {"pp", t.pp},
                                     {"partition", opt_.partition},
                                     {"dtype", dtype_name(opt_.weight_dtype)},
                                     {"full_model_per_rank", sp_full_model()},
                                     {"tool", "autodist " AUTODIST_VERSION " (" AUTODIST_GIT_REV ")"}}
                          .dump();
  }
  LoadReport rep;
  StageWeights w = load_stage_weights(be_, src, cfg_, tp, range, &rep);
  bytes_read_ = rep.bytes_read;
  load_source_ = rep.source;
  // Bytes per source are spelled out so tests and users can see that a cached run skips the checkpoint.
  const bool cached = rep.source == "cache";
  log::info("stage {} layers [{}, {}) tp {}/{}: {:.2f} MB of weights in {:.0f} ms; read {} bytes from the "
            "checkpoint, {} bytes from the shard cache",
            t.pp_rank(), range.first, range.last, t.tp_rank(), t.tp, w.bytes / 1e6, sw.ms(), cached ? 0 : bytes_read_,
            cached ? bytes_read_ : 0);
  if (const char* f = std::getenv("AUTODIST_FAULT")) {  // test hook: "RANK:STEP" throws on that rank
    int r = -1, st = -1;
    if (std::sscanf(f, "%d:%d", &r, &st) == 2 && r == t.rank) fault_step_ = st;
  }
  stage_ = std::make_unique<Stage>(be_, cfg_, tp, range, std::move(w), groups_.tp.get());
  if (sp_full_model()) sync_comm_ = groups_.pp->split(0, t.pp_rank());
  load_ms_ = sw.ms();
  trace_.add("load", sw.t0, now_ns(), static_cast<int64_t>(bytes_read_));
}

void Engine::maybe_fault() {
  if (fault_step_ >= 0 && forwards_++ == fault_step_)
    AD_FAIL("injected fault (AUTODIST_FAULT) in forward pass {} on rank {}", fault_step_, groups_.topo.rank);
}

Tensor Engine::select_rows(const Tensor& x, const std::vector<int32_t>& rows) {
  const int64_t R = static_cast<int64_t>(rows.size());
  if (sel_.empty() || sel_.t().dim(0) < R) sel_ = Buffer(&be_, DType::F32, {std::max<int64_t>(R, 16), cfg_.hidden});
  Tensor out = sel_.t().rows(0, R);
  for (int64_t i = 0; i < R; ++i) be_.copy(out.rows(i, 1), x.rows(rows[i], 1));
  return out;
}

void Engine::check_prompt(const std::vector<int32_t>& ids) const {
  AD_CHECK(!ids.empty(), "empty prompt: give at least one token");
  for (int32_t id : ids)
    AD_CHECK(id >= 0 && id < cfg_.vocab, "prompt token id {} is out of range: the vocabulary of {} has {} tokens", id,
             cfg_.architecture, cfg_.vocab);
  AD_CHECK(static_cast<int64_t>(ids.size()) <= cfg_.max_position,
           "prompt of {} tokens is longer than the model's context of {} (max_position_embeddings)", ids.size(),
           cfg_.max_position);
}

void Engine::reserve_cache(int64_t slots, int64_t max_seq) {
  max_seq = std::min(max_seq, cfg_.max_position);
  if (cache_.slots >= slots && cache_.max_seq >= max_seq) return;
  cache_ = KVCache();  // free first: peak memory is one cache
  cache_ = stage_->make_cache(std::max(slots, cache_.slots), std::max(max_seq, cache_.max_seq));
}

Engine::StepResult Engine::step(const std::vector<int32_t>& ids, const std::vector<AttnSegment>& segs,
                                const std::vector<int32_t>& out_rows, StepOutput kind) {
  const auto& t = groups_.topo;
  const int64_t T = static_cast<int64_t>(ids.size()), D = cfg_.hidden;
  for (auto& s : segs)
    AD_CHECK(s.slot < cache_.slots && s.start_pos + s.len <= cache_.max_seq,
             "step: segment (slot {}, positions [{}, {})) outside the KV cache ({} slots x {} positions)", s.slot,
             s.start_pos, s.start_pos + s.len, cache_.slots, cache_.max_seq);
  if (x_.empty() || x_.t().dim(0) < T) x_ = Buffer(&be_, DType::F32, {std::max<int64_t>(T, 16), D});
  Tensor x = x_.t().rows(0, T);
  const bool local = sp_full_model();  // after an SP+PP prefill with sync: decode alone, redundantly
  const bool first = local || t.first_stage(), last = local || t.last_stage();
  if (first) {
    stage_->embed(ids, x);
  } else {
    int64_t t0 = now_ns();
    groups_.pp->recv(x, t.pp_rank() - 1, 1);
    pp_comm_ns_ += now_ns() - t0;
  }
  maybe_fault();
  const int64_t t_fwd = now_ns();
  stage_->forward(x, segs, cache_);
  trace_.add("step", t_fwd, now_ns(), 0, -1, -1, static_cast<int>(steps_++));
  StepResult r;
  if (!last) {
    int64_t t0 = now_ns();
    groups_.pp->send(x, t.pp_rank() + 1, 1);
    pp_comm_ns_ += now_ns() - t0;
  }
  if (kind == StepOutput::None) return r;
  const int64_t R = static_cast<int64_t>(out_rows.size());
  if (last) {
    Tensor sel = select_rows(x, out_rows);
    if (kind == StepOutput::Greedy)
      r.tokens = stage_->greedy(sel);
    else
      r.logits = stage_->logits(sel);
  }
  if (t.pp > 1 && !local) {  // results from the last stage to every stage
    int64_t t0 = now_ns();
    if (kind == StepOutput::Greedy) {
      r.tokens.resize(static_cast<size_t>(R));
      groups_.pp->broadcast(Tensor(r.tokens.data(), DType::I32, {R}), t.pp - 1);
    } else {
      r.logits.resize(static_cast<size_t>(R * cfg_.vocab));
      groups_.pp->broadcast(Tensor(r.logits.data(), DType::F32, {R * cfg_.vocab}), t.pp - 1);
    }
    pp_comm_ns_ += now_ns() - t0;
  }
  return r;
}

GenerateResult Engine::begin_generate(const std::vector<std::vector<int32_t>>& prompts, const GenerateOptions& o) {
  int64_t longest = 0;
  for (auto& p : prompts) {
    check_prompt(p);
    longest = std::max<int64_t>(longest, static_cast<int64_t>(p.size()));
  }
  reserve_cache(static_cast<int64_t>(prompts.size()), longest + o.max_output);
  stage_->reset_comm_ns();
  pp_comm_ns_ = 0;
  GenerateResult res;
  res.load_ms = load_ms_;
  return res;
}

GenerateResult Engine::generate(const std::vector<std::vector<int32_t>>& prompts, const GenerateOptions& o) {
  if (sp()) return generate_sp(prompts, o);
  const auto& t = groups_.topo;
  Sequences sq(prompts, o, cfg_);
  const int64_t B = static_cast<int64_t>(prompts.size()), D = cfg_.hidden;
  const int M = static_cast<int>(std::min<int64_t>(opt_.micro_batches, B));
  GenerateResult res = begin_generate(prompts, o);
  auto& len = sq.len;
  auto& done = sq.done;

  // Micro-batch m holds sequences m, m+M, m+2M, ... Every rank walks the same (step, micro-batch)
  // order; the pipeline overlaps because a stage sends micro-batch m on and starts m+1 while the
  // next stage works on m (fill-drain in prefill, up to pp micro-batches in flight in decode).
  std::vector<std::vector<int64_t>> group(static_cast<size_t>(M));
  for (int64_t b = 0; b < B; ++b) group[b % M].push_back(b);
  std::vector<bool> group_done(static_cast<size_t>(M), false);
  std::vector<Buffer> xs;  // one activation buffer per micro-batch: a pending send must not be overwritten
  std::vector<std::unique_ptr<dist::CommRequest>> pending(static_cast<size_t>(M));
  for (int m = 0; m < M; ++m) {
    int64_t rows = 0;
    for (int64_t b : group[m]) rows += len[b];
    xs.emplace_back(&be_, DType::F32, Shape{std::max<int64_t>(rows, static_cast<int64_t>(group[m].size())), D});
  }
  auto timed = [&](auto&& fn) {
    int64_t t0 = now_ns();
    fn();
    pp_comm_ns_ += now_ns() - t0;
  };
  const int last = t.pp - 1;

  Stopwatch sw;
  const int64_t t_gen0 = sw.t0;
  for (int64_t step = 0;; ++step) {
    bool any = false;
    for (int m = 0; m < M; ++m) {
      if (group_done[m]) continue;
      // Non-last stages learn the tokens of this micro-batch's previous step from the last stage.
      std::vector<int64_t> active;
      for (int64_t b : group[m])
        if (!done[b]) active.push_back(b);
      if (step > 0 && !t.last_stage()) {
        std::vector<int32_t> toks(active.size());
        timed([&] { groups_.pp->recv(Tensor(toks.data(), DType::I32, {static_cast<int64_t>(toks.size())}), last, 2 + m); });
        for (size_t i = 0; i < active.size(); ++i) sq.accept(active[i], toks[i]);
        active.clear();
        for (int64_t b : group[m])
          if (!done[b]) active.push_back(b);
      }
      if (active.empty()) {
        group_done[m] = true;
        continue;
      }
      any = true;
      std::vector<int32_t> ids, rows;
      std::vector<AttnSegment> segs;
      for (int64_t b : active) {
        int32_t row = static_cast<int32_t>(ids.size());
        if (step == 0) {
          segs.push_back({static_cast<int32_t>(b), 0, len[b], row});
          ids.insert(ids.end(), prompts[b].begin(), prompts[b].end());
        } else {
          segs.push_back({static_cast<int32_t>(b), len[b] - 1, 1, row});
          ids.push_back(sq.seqs[b].output.back());
        }
        rows.push_back(static_cast<int32_t>(ids.size()) - 1);
      }
      const int64_t T = static_cast<int64_t>(ids.size());
      if (pending[m]) timed([&] { pending[m]->wait(); pending[m].reset(); });
      Tensor x = xs[m].t().rows(0, T);
      if (t.first_stage())
        stage_->embed(ids, x);
      else
        timed([&] { groups_.pp->recv(x, t.pp_rank() - 1, 1); });
      maybe_fault();
      const int64_t t_fwd = now_ns();
      stage_->forward(x, segs, cache_);
      trace_.add("step", t_fwd, now_ns(), 0, -1, -1, static_cast<int>(step), m);
      if (!t.last_stage()) {
        timed([&] { pending[m] = groups_.pp->isend(x, t.pp_rank() + 1, 1); });
        continue;
      }
      // Last stage: pick the next token of each active sequence, then tell the other stages.
      bool need_full = false;
      for (int64_t b : active) need_full = need_full || sq.needs_logits(b);
      Tensor sel = select_rows(x, rows);
      std::vector<int32_t> toks;
      if (!need_full) {
        toks = stage_->greedy(sel);
      } else {
        std::vector<float> logits = stage_->logits(sel);
        for (size_t i = 0; i < active.size(); ++i) toks.push_back(sq.sample(active[i], logits.data() + i * cfg_.vocab));
      }
      for (int s = 0; s < last; ++s)
        timed([&] { groups_.pp->send(Tensor(toks.data(), DType::I32, {static_cast<int64_t>(toks.size())}), s, 2 + m); });
      for (size_t i = 0; i < active.size(); ++i) sq.accept(active[i], toks[i]);
    }
    if (step == 0) {
      be_.synchronize();
      res.prefill_ms = sw.ms();
      res.prefill_comm_ms = (stage_->comm_ns() + pp_comm_ns_) * 1e-6;
      sw.reset();
      trace_.add("prefill", t_gen0, sw.t0);
    } else if (any) {
      ++res.decode_steps;
    }
    if (!any) break;
  }
  for (auto& p : pending)
    if (p) p->wait();
  be_.synchronize();
  res.decode_ms = sw.ms();
  trace_.add("decode", sw.t0, now_ns(), 0, -1, -1, static_cast<int>(res.decode_steps));
  trace_.add("total", t_gen0, now_ns());
  res.comm_ms = (stage_->comm_ns() + pp_comm_ns_) * 1e-6;
  res.seqs = std::move(sq.seqs);
  return res;
}

}  // namespace autodist
