// defines: ClusterOptions (--cluster FILE or the --hosts shorthand, --comm-csv), WorkloadOptions, the options
//          predict and plan share, and make_cluster
#pragma once
#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "perf/cluster.h"
#include "perf/predict.h"

namespace autodist::cli {

namespace po = boost::program_options;

struct ClusterOptions {
  std::string cluster, comm_csv_inter;
  std::vector<std::string> comm_csv;
  int hosts = 0, ranks_per_host = 0, cores_per_host = 0, hosts_per_machine = 1;
  double link_gbps = 0, link_latency_us = 50, link_burst_kb = 0, memory_gb = 0;
  double intra_gbps = 80, intra_latency_us = 2;
};
void add_cluster_options(po::options_description& d, ClusterOptions& o);
// The cluster from --cluster or the shorthand; without either, one host of `default_ranks` ranks (this machine's
// cores and memory). --comm-csv replaces the intra-host link, --comm-csv-inter the inter-host one.
perf::Cluster make_cluster(const ClusterOptions& o, int default_ranks);

struct WorkloadOptions {
  perf::Workload w;
  bool json = false;
};
void add_workload_options(po::options_description& d, WorkloadOptions& o);

}  // namespace autodist::cli

namespace autodist::cli {
// One prediction as the JSON object of predict --json (ttft_ms, tpot_ms, tokens_per_s, bytes_per_rank, ...).
nlohmann::json prediction_json(const perf::PerfLayout& l, const perf::Prediction& p);
// A markdown table row of a prediction (and its header).
std::string prediction_header();
std::string prediction_row(const perf::PerfLayout& l, const perf::Prediction& p);
}  // namespace autodist::cli
