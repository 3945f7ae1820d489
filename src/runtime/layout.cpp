#include "runtime/layout.h"

#include <cctype>
#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "model/partition.h"

namespace autodist {

KvSyncKind parse_kv_sync(const std::string& s) {
  if (s == "pairwise") return KvSyncKind::Pairwise;
  if (s == "ring") return KvSyncKind::Ring;
  if (s == "none") return KvSyncKind::None;
  AD_FAIL("unknown --kv-sync '{}' (expected pairwise, ring or none)", s);
}

Layout make_layout(const ModelConfig& c, const dist::Topology& t, const EngineOptions& o) {
  AD_CHECK(o.micro_batches >= 1, "--micro-batches must be >= 1, got {}", o.micro_batches);
  if (o.sp()) {
    AD_CHECK(t.pp > 1, "--sp-chunk-size needs --pipeline-parallel-size > 1 (the chunks flow through layer stages)");
    AD_CHECK(t.tp == 1, "SP+PP prefill runs with --tensor-parallel-size 1 (got {})", t.tp);
  }
  Layout l;
  l.tp = TpShard::make(c, t.tp_rank(), t.tp);
  l.parts = make_partition(c, t.pp, o.partition, o.weight_dtype);
  l.prefill = l.parts[t.pp_rank()];
  // With a KV sync every rank decodes the whole model itself, so it holds every layer.
  l.held = o.sp_full_model() ? StageRange{0, c.n_layers, true, true} : l.prefill;
  return l;
}

LoadedModel load_model(Backend& be, const ModelConfig& c, const dist::Topology& t, const EngineOptions& o) {
  LoadedModel m;
  m.t0_ns = now_ns();
  m.layout = make_layout(c, t, o);
  const Layout& l = m.layout;
  WeightSource src;
  src.model_dir = o.model_dir;
  src.dtype = o.weight_dtype;
  src.cache_dir = o.cache_dir;
  src.rank = t.rank;
  if (!src.cache_dir.empty()) {
    // Everything that changes what a rank holds names the layout directory.
    std::string part = o.partition;
    for (char& ch : part)
      if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '.' && ch != '-') ch = '_';
    src.layout = fmt::format("tp{}-pp{}-{}-{}{}-v{}", t.tp, t.pp, part, dtype_name(o.weight_dtype),
                             o.sp_full_model() ? "-full" : "", AUTODIST_VERSION);
    src.layout_desc = nlohmann::json{{"model", o.model_dir},
                                     {"tp", t.tp},
                                     {"pp", t.pp},
                                     {"partition", o.partition},
                                     {"dtype", dtype_name(o.weight_dtype)},
                                     {"full_model_per_rank", o.sp_full_model()},
                                     {"tool", "autodist " AUTODIST_VERSION " (" AUTODIST_GIT_REV ")"}}
                          .dump();
  }
  m.weights = load_stage_weights(be, src, c, l.tp, l.held, &m.report);
  m.t1_ns = now_ns();
  // Bytes per source are spelled out so tests and users can see that a cached run skips the checkpoint.
  const bool cached = m.report.source == "cache";
  log::info("stage {} layers [{}, {}) tp {}/{}: {:.2f} MB of weights in {:.0f} ms; read {} bytes from the "
            "checkpoint, {} bytes from the shard cache",
            t.pp_rank(), l.held.first, l.held.last, t.tp_rank(), t.tp, m.weights.bytes / 1e6, m.ms(),
            cached ? 0 : m.report.bytes_read, cached ? m.report.bytes_read : 0);
  if (t.rank == 0) {
    std::string s;
    for (const StageRange& r : l.parts) s += fmt::format(" [{}, {})", r.first, r.last);
    log::info("partition {} over {} stages ({} weights):{}", o.partition, t.pp, dtype_name(o.weight_dtype), s);
  }
  return m;
}

}  // namespace autodist
