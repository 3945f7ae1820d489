#include "cli/perf_options.h"

#include <unistd.h>

#include <thread>

#include "core/error.h"

namespace autodist::cli {

void add_cluster_options(po::options_description& d, ClusterOptions& o) {
  d.add_options()
    ("cluster", po::value(&o.cluster), "cluster.yaml: hosts, ranks, cores, memory and links (docs/perf-model.md)")
    ("hosts", po::value(&o.hosts), "uniform cluster: number of hosts (with --ranks-per-host and --link-gbps)")
    ("ranks-per-host", po::value(&o.ranks_per_host), "uniform cluster: ranks on each host")
    ("link-gbps", po::value(&o.link_gbps), "uniform cluster: each host's link to the others, Gb/s")
    ("link-latency-us", po::value(&o.link_latency_us)->default_value(50), "uniform cluster: that link's latency, us")
    ("link-burst-kb", po::value(&o.link_burst_kb)->default_value(0),
     "uniform cluster: depth of a token bucket shaping that link (tc tbf's burst), KiB; 0: none")
    ("cores-per-host", po::value(&o.cores_per_host), "uniform cluster: cores per host (default: this machine's)")
    ("hosts-per-machine", po::value(&o.hosts_per_machine)->default_value(1),
     "uniform cluster: consecutive hosts sharing one machine's cores and memory (network namespaces, containers)")
    ("memory-gb", po::value(&o.memory_gb), "uniform cluster: memory per host, GB (default: this machine's)")
    ("intra-gbps", po::value(&o.intra_gbps)->default_value(80), "uniform cluster: link between ranks of a host, Gb/s")
    ("intra-latency-us", po::value(&o.intra_latency_us)->default_value(2), "uniform cluster: its latency, us")
    ("comm-csv", po::value(&o.comm_csv)->composing(),
     "comm-bench CSV measured within a host (repeatable): fits the intra-host link from its sendrecv rows, and the "
     "link of oversubscribed hosts from all_reduce rows of more ranks than cores")
    ("comm-csv-inter", po::value(&o.comm_csv_inter), "comm-bench CSV measured across hosts: fits the inter-host link");
}

void add_workload_options(po::options_description& d, WorkloadOptions& o) {
  d.add_options()
    ("batch", po::value(&o.w.batch)->default_value(1), "sequences decoded together (alias --batch-size)")
    ("batch-size", po::value<int64_t>()->notifier([&o](int64_t v) { o.w.batch = v; }), "alias of --batch")
    ("prompt-len", po::value(&o.w.prompt_len)->default_value(128), "prompt tokens of every sequence")
    ("max-output-length", po::value(&o.w.max_output)->default_value(32), "tokens generated per sequence (alias --output-len)")
    ("output-len", po::value<int64_t>()->notifier([&o](int64_t v) { o.w.max_output = v; }), "alias of --max-output-length")
    ("json", po::bool_switch(&o.json), "print JSON instead of a table");
}

perf::Cluster make_cluster(const ClusterOptions& o, int default_ranks) {
  const bool shorthand = o.hosts || o.ranks_per_host || o.link_gbps;
  AD_CHECK(!(shorthand && !o.cluster.empty()), "give --cluster FILE or the --hosts/--ranks-per-host/--link-gbps "
                                               "shorthand, not both");
  AD_CHECK(o.link_burst_kb == 0 || shorthand, "--link-burst-kb is part of the --hosts shorthand (in a cluster.yaml, "
                                             "give inter_host a 'burst_kb' key)");
  AD_CHECK(o.link_burst_kb >= 0, "--link-burst-kb must be >= 0, got {}", o.link_burst_kb);
  AD_CHECK(o.hosts_per_machine == 1 || shorthand, "--hosts-per-machine is part of the --hosts shorthand (in a "
                                                  "cluster.yaml, give the hosts of one machine a 'machine' key)");
  perf::Cluster c;
  const int cores = o.cores_per_host ? o.cores_per_host
                                     : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const double mem = o.memory_gb > 0 ? o.memory_gb
                                     : static_cast<double>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGE_SIZE) / (1 << 30);
  const perf::Link intra{o.intra_latency_us * 1e-6, o.intra_gbps * 1e9 / 8};
  AD_CHECK(o.intra_gbps > 0 && o.intra_latency_us >= 0, "--intra-gbps must be > 0 and --intra-latency-us >= 0");
  if (!o.cluster.empty()) {
    c = perf::load_cluster(o.cluster);
  } else if (shorthand) {
    AD_CHECK(o.hosts && o.ranks_per_host && o.link_gbps,
             "the uniform cluster shorthand needs all of --hosts, --ranks-per-host and --link-gbps");
    c = perf::uniform_cluster(o.hosts, o.ranks_per_host, o.link_gbps, o.link_latency_us, cores, mem, intra,
                              o.hosts_per_machine);
    c.inter.burst_B = o.link_burst_kb * 1024;
  } else {
    c = perf::uniform_cluster(1, default_ranks, 1, 0, cores, mem, intra);
    c.source = "this machine";
  }
  if (!o.comm_csv.empty()) {
    std::vector<perf::CommRow> rows;
    std::string names;
    for (const std::string& f : o.comm_csv) {
      for (const perf::CommRow& r : perf::read_comm_csv(f)) rows.push_back(r);
      names += (names.empty() ? "" : ", ") + f;
    }
    c.intra = perf::link_from_comm_rows(rows, names);
    c.has_oversubscribed = perf::oversubscribed_link(rows, c.hosts[0].cores, names, c.intra_oversubscribed);
  }
  if (!o.comm_csv_inter.empty()) {  // the measured link; a bucket is not seen by back-to-back messages: kept
    const double burst = c.inter.burst_B;
    c.inter = perf::link_from_comm_rows(perf::read_comm_csv(o.comm_csv_inter), o.comm_csv_inter);
    c.inter.burst_B = burst;
  }
  return c;
}

}  // namespace autodist::cli

namespace autodist::cli {

nlohmann::json prediction_json(const perf::PerfLayout& l, const perf::Prediction& p) {
  const char* sync = l.kv_sync == KvSyncKind::Pairwise ? "pairwise" : l.kv_sync == KvSyncKind::Ring ? "ring" : "none";
  return {{"layout", perf::layout_name(l)},
          {"tp", l.tp},
          {"pp", l.pp},
          {"micro_batches", l.micro_batches},
          {"sp_chunk_size", l.sp_chunk},
          {"kv_sync", l.sp_chunk > 0 ? sync : "none"},
          {"ttft_ms", p.ttft_s * 1e3},
          {"tpot_ms", p.tpot_s * 1e3},
          {"tokens_per_s", p.tokens_per_s},
          {"bytes_per_rank", p.memory.total()},
          {"weights_bytes", p.memory.weights},
          {"kv_cache_bytes", p.memory.kv_cache},
          {"activation_bytes", p.memory.activations},
          {"memory_limit_bytes", p.memory_limit},
          {"fits", p.fits},
          {"prefill_comm_ms", p.prefill_comm_s * 1e3},
          {"decode_comm_ms", p.decode_comm_s * 1e3}};
}

std::string prediction_header() {
  return "| layout | TTFT ms | time/token ms | tokens/s | MB/rank (weights + KV + act) | fits |\n"
         "|---|---|---|---|---|---|\n";
}

std::string prediction_row(const perf::PerfLayout& l, const perf::Prediction& p) {
  const double MB = 1024.0 * 1024;
  return fmt::format("| {} | {:.2f} | {:.3f} | {:.1f} | {:.1f} ({:.1f} + {:.1f} + {:.1f}) | {} |\n",
                     perf::layout_name(l), p.ttft_s * 1e3, p.tpot_s * 1e3, p.tokens_per_s, p.memory.total() / MB,
                     p.memory.weights / MB, p.memory.kv_cache / MB, p.memory.activations / MB,
                     p.fits ? "yes" : fmt::format("no (limit {:.0f} MB)", p.memory_limit / MB));
}

}  // namespace autodist::cli
