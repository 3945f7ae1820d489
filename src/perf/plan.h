// defines: RankBy, parse_rank_by, PlanEntry, plan_layouts (every layout of a model on a cluster, predicted and
//          ranked)
#pragma once
#include <string>
#include <vector>

#include "perf/predict.h"

namespace autodist::perf {

enum class RankBy { Ttft, Tpot, Throughput };
RankBy parse_rank_by(const std::string& s);  // ttft | tpot | throughput

struct PlanEntry {
  PerfLayout layout;
  Prediction pred;
};

// tp x pp = world for every tp the model accepts (micro-batches 1 and pp when the batch has that many sequences),
// and with tp 1 the SP+PP layouts for every chunk size of `chunks` below the prompt length (and the prompt length
// itself) with each KV sync. Those that do not fit in memory are left out (`rejected` counts them); the rest best
// first by `by` (ties: fewer bytes per rank).
std::vector<PlanEntry> plan_layouts(const ModelConfig& c, const Profile& p, const Cluster& cl, const Workload& w,
                                    RankBy by, const std::vector<int>& chunks, DType weight_dtype, int* rejected);

double rank_value(const Prediction& p, RankBy by);  // smaller is better (throughput negated)

}  // namespace autodist::perf
