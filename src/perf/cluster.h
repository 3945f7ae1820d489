// defines: HostSpec, Cluster (hosts, ranks, cores, memory and links a prediction runs on), load_cluster
//          (cluster.yaml, docs/perf-model.md), uniform_cluster (the --hosts/--ranks-per-host/--link-gbps shorthand)
//
// Ranks are placed on hosts in order (host 0 takes ranks 0..R0-1, ...), which with autodist's rank order
// (rank = pp_rank * tp + tp_rank) keeps a tensor-parallel group on one host when the host's rank count is a
// multiple of tp. Within a host ranks talk over the intra-host link (shared memory, NVLink); between hosts each
// host's traffic crosses its own link to the switch (the uplink), shared by every flow in or out of that host.
#pragma once
#include <string>
#include <vector>

#include "perf/comm_model.h"

namespace autodist::perf {

struct HostSpec {
  std::string name;
  int ranks = 1;
  int cores = 1;
  double memory_bytes = 0;         // host memory
  int devices = 0;                 // accelerators (0: the ranks compute on the cores)
  double device_memory_bytes = 0;  // per device
};

struct Cluster {
  std::vector<HostSpec> hosts;
  Link intra, inter;
  // The intra-host link of collectives on a host with more ranks than cores (fitted from comm-bench all_reduce rows
  // run that way, where a hop waits for its peer to be scheduled); unset: intra.
  Link intra_oversubscribed;
  bool has_oversubscribed = false;
  std::string source;  // the file, or "--hosts ..." for the shorthand

  int world() const;
  int host_of(int rank) const;
  // The memory one rank may use: its device's, or the host's memory over its ranks.
  double memory_per_rank(int rank) const;
  const Link& link(int a, int b) const { return host_of(a) == host_of(b) ? intra_link(host_of(a)) : inter; }
  const Link& intra_link(int host) const;
  // Compute slowdown of a host when `busy` of its ranks compute at once with `threads` threads each: ranks on the
  // cores share them (busy x threads / cores, at least 1); ranks with a device each do not slow each other.
  double slowdown(int host, int busy, int threads) const;
};

// Throws naming the file, line and key that is wrong.
Cluster load_cluster(const std::string& path);
Cluster uniform_cluster(int hosts, int ranks_per_host, double link_gbps, double link_latency_us, int cores_per_host,
                        double memory_gb_per_host, const Link& intra);

}  // namespace autodist::perf
