// autodist plan: every layout of a model that fits a cluster, predicted and ranked (docs/perf-model.md).
#include "cli/commands.h"
#include "cli/perf_options.h"
#include "cli/run_options.h"
#include "core/error.h"
#include "core/log.h"
#include "model/family.h"
#include "perf/plan.h"

namespace autodist::cli {
namespace {

int run(int argc, char** argv) {
  ClusterOptions co;
  WorkloadOptions wo;
  std::string model, profile, rank_by = "ttft", chunks = "64,128,256", dtype = "auto";
  po::options_description d("plan options");
  add_cluster_options(d, co);
  add_workload_options(d, wo);
  d.add_options()
    ("model", po::value(&model)->required(), "HuggingFace model directory (config.json)")
    ("profile", po::value(&profile)->required(), "profile file from autodist profile")
    ("rank-by", po::value(&rank_by)->default_value("ttft"), "ttft | tpot | throughput")
    ("chunks", po::value(&chunks)->default_value("64,128,256"), "SP+PP chunk sizes to consider")
    ("dtype", po::value(&dtype)->default_value("auto"), "weights: auto | bf16 | f16 | f32")
    ("top", po::value<int>()->default_value(0), "print only the best N (0: all)");
  po::variables_map vm;
  if (!parse_args(argc, argv, d, vm, "usage: autodist plan --model DIR --profile FILE (--cluster FILE | --hosts N "
                                     "--ranks-per-host R --link-gbps X) [--rank-by ttft|tpot|throughput] [--json]"))
    return 0;
  const perf::RankBy by = perf::parse_rank_by(rank_by);
  std::vector<int> cs;
  for (int32_t v : parse_id_list(chunks)) {
    AD_CHECK(v >= 1, "--chunks: chunk sizes must be >= 1, got {}", v);
    cs.push_back(v);
  }
  const ModelConfig cfg = load_model_config(model);
  const perf::Profile prof = perf::read_profile(profile);
  AD_CHECK(!co.cluster.empty() || co.hosts, "plan needs the cluster: --cluster FILE or --hosts N --ranks-per-host R "
                                            "--link-gbps X");
  const perf::Cluster cl = make_cluster(co, 1);
  int rejected = 0;
  auto entries = perf::plan_layouts(cfg, prof, cl, wo.w, by, cs, run_weight_dtype(dtype), &rejected);
  const int top = vm["top"].as<int>();
  if (top > 0 && static_cast<int>(entries.size()) > top) entries.resize(static_cast<size_t>(top));
  if (wo.json) {
    nlohmann::json j = {{"rank_by", rank_by}, {"world", cl.world()}, {"rejected_for_memory", rejected}};
    j["layouts"] = nlohmann::json::array();
    for (auto& e : entries) j["layouts"].push_back(prediction_json(e.layout, e.pred));
    log::out(j.dump() + "\n");
    return 0;
  }
  AD_CHECK(!entries.empty(), "no layout of {} fits the cluster ({} rejected for memory)", model, rejected);
  std::string s = fmt::format("{} on {} ({} hosts, {} ranks), batch {}, prompt {}, {} output tokens; ranked by {}; "
                              "{} layouts do not fit in memory\n\n",
                              model, cl.source, cl.hosts.size(), cl.world(), wo.w.batch, wo.w.prompt_len,
                              wo.w.max_output, rank_by, rejected);
  s += prediction_header();
  for (auto& e : entries) s += prediction_row(e.layout, e.pred);
  log::out(s);
  return 0;
}

}  // namespace
AUTODIST_COMMAND("plan", "rank every layout that fits a cluster by predicted TTFT, time per token or throughput", run);
}  // namespace autodist::cli
