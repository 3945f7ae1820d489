// autodist predict: TTFT, time per output token, tokens/s and memory per rank of one layout, from a profile and a
// cluster (docs/perf-model.md). The layout flags are generate's.
#include "cli/commands.h"
#include "cli/perf_options.h"
#include "cli/run_options.h"
#include "core/error.h"
#include "core/log.h"
#include "model/family.h"
#include "perf/profile.h"

namespace autodist::cli {
namespace {

int run(int argc, char** argv) {
  RunOptions ro;
  ClusterOptions co;
  WorkloadOptions wo;
  std::string profile;
  po::options_description d("predict options");
  add_run_options(d, ro);
  add_cluster_options(d, co);
  add_workload_options(d, wo);
  d.add_options()("profile", po::value(&profile)->required(), "profile file from autodist profile");
  po::variables_map vm;
  if (!parse_args(argc, argv, d, vm, "usage: autodist predict --model DIR --profile FILE (--cluster FILE | --hosts N "
                                     "--ranks-per-host R --link-gbps X) [--tp N --pp N --sp-chunk-size C --kv-sync "
                                     "S --batch B --prompt-len L --max-output-length T --micro-batches M] [--json]"))
    return 0;
  check_run_options(ro);
  const ModelConfig cfg = load_model_config(ro.model);
  const perf::Profile prof = perf::read_profile(profile);
  const perf::Cluster cl = make_cluster(co, ro.tp * ro.pp);
  perf::PerfLayout l;
  l.tp = ro.tp, l.pp = ro.pp, l.micro_batches = ro.micro_batches, l.sp_chunk = ro.sp_chunk_size;
  l.kv_sync = parse_kv_sync(ro.kv_sync.empty() ? "none" : ro.kv_sync);
  l.partition = ro.partition;
  l.weight_dtype = run_weight_dtype(ro.dtype);
  const perf::Prediction p = perf::predict(cfg, prof, cl, l, wo.w);
  if (wo.json) {
    log::out(prediction_json(l, p).dump() + "\n");
    return 0;
  }
  log::out(fmt::format("{} on {} ({} hosts, {} ranks), batch {}, prompt {}, {} output tokens\n\n", ro.model,
                       cl.source, cl.hosts.size(), cl.world(), wo.w.batch, wo.w.prompt_len, wo.w.max_output) +
           prediction_header() + prediction_row(l, p));
  return 0;
}

}  // namespace
AUTODIST_COMMAND("predict", "predict TTFT, time per token and memory of a layout from a profile", run);
}  // namespace autodist::cli
