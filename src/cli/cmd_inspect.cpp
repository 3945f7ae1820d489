// autodist inspect: what a model is and how a pipeline would split it.
#include "cli/commands.h"
#include "cli/run_options.h"
#include "core/error.h"
#include "core/log.h"
#include "io/model_config.h"
#include "model/family.h"
#include "io/safetensors.h"
#include "model/partition.h"
#include "model/tp_shard.h"

namespace autodist::cli {
namespace {

int run(int argc, char** argv) {
  std::string model, partition = "equal-layers", dtype = "auto";
  int pp = 1, tp = 1;
  po::options_description d("inspect options");
  d.add_options()
    ("model", po::value(&model)->required(), "model directory")
    ("pp", po::value(&pp)->default_value(1), "pipeline stages to preview")
    ("tp", po::value(&tp)->default_value(1), "tensor-parallel size to check")
    ("partition", po::value(&partition)->default_value("equal-layers"), "partition policy")
    ("dtype", po::value(&dtype)->default_value("auto"), "weights of the run: auto | bf16 | f16 | f32 (sizes the split)");
  po::variables_map vm;
  if (!parse_args(argc, argv, d, vm, "usage: autodist inspect --model DIR [--pp P --partition POLICY --dtype D]")) return 0;
  AD_CHECK(tp >= 1 && pp >= 1, "--tp and --pp must be >= 1, got {} and {}", tp, pp);
  ModelConfig c = load_model_config(model);
  io::Checkpoint ck(model);
  size_t ck_bytes = 0;
  for (auto& n : ck.names()) ck_bytes += ck.info(n).nbytes;
  int64_t params = c.n_layers * c.layer_params() + c.embed_params() * (c.tie_embeddings ? 1 : 2) +
                   (c.norm_bias ? 2 : 1) * c.hidden +
                   (c.pos == PosKind::Learned ? (c.max_position + c.pos_offset) * c.hidden : 0);
  std::string s;
  s += fmt::format("model        {}\narchitecture {} ({})\n", model, c.architecture, c.model_type);
  s += fmt::format("layers {}  hidden {}  heads {} (kv {})  head_dim {}  intermediate {}  vocab {}\n", c.n_layers,
                   c.hidden, c.n_heads, c.n_kv_heads, c.head_dim, c.intermediate, c.vocab);
  const std::string pos = c.pos == PosKind::Rope ? fmt::format("rope {} theta {}", rope_type_name(c.rope.type), c.rope.theta)
                                                  : fmt::format("learned (offset {})", c.pos_offset);
  s += fmt::format("family {}: {}{} pre-norm, {} positions, {} MLP ({}), biases qkv {} o {} mlp {}, q/k norm {}\n",
                   c.family, c.norm == NormKind::RMSNorm ? "RMSNorm" : "LayerNorm", c.norm_bias ? " with bias" : "",
                   pos, c.mlp == MlpKind::Gated ? "gated" : "plain", activation_name(c.act), c.qkv_bias, c.o_bias,
                   c.mlp_bias, c.qk_norm);
  s += fmt::format("context {}  sliding window {}  tied {}\n", c.max_position, c.sliding_window, c.tie_embeddings);
  s += fmt::format("parameters {:.3f} M; checkpoint {} tensors, {:.1f} MB ({})\n", params / 1e6, ck.names().size(),
                   ck_bytes / 1e6, dtype_name(c.dtype));
  TpShard sh = TpShard::make(c, 0, tp);
  s += fmt::format("tp {}: {} q heads, {} kv heads{}, {} MLP columns, {} vocab rows per rank\n", tp, sh.q_heads,
                   sh.kv_heads, c.n_kv_heads < tp ? " (replicated)" : "", sh.inter, sh.vocab_local);
  // The split generate will use: same policy, same run dtype (matrices in it, vectors in f32).
  const DType wt = run_weight_dtype(dtype);
  auto parts = make_partition(c, pp, partition, wt);
  std::string line;
  for (const StageRange& r : parts) line += fmt::format(" [{}, {})", r.first, r.last);
  s += fmt::format("partition {} over {} stages ({} weights):{}\n", partition, pp, dtype_name(wt), line);
  for (size_t i = 0; i < parts.size(); ++i)
    s += fmt::format("  stage {}: layers [{}, {}) ({} layers){}{}  {:.2f} MB\n", i, parts[i].first, parts[i].last,
                     parts[i].last - parts[i].first, parts[i].has_embed ? " +embed" : "",
                     parts[i].has_head ? " +norm+lm_head" : "", stage_bytes(c, parts[i], wt) / 1e6);
  log::out(s);
  return 0;
}

}  // namespace
AUTODIST_COMMAND("inspect", "show a model's shapes and preview a pipeline split", run);
}  // namespace autodist::cli
