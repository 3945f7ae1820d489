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
  // Hosts with the same machine share its cores and memory (network namespaces of one machine, containers): `cores`
  // and `memory_bytes` are then the machine's, the same on each of its hosts. Empty: a machine of its own.
  std::string machine;
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
  // The first host of `host`'s machine (itself unless it shares one), and the ranks of every host on that machine.
  int machine_of(int host) const;
  int machine_ranks(int host) const;
  // The memory one rank may use: its device's, or the machine's memory over the machine's ranks.
  double memory_per_rank(int rank) const;
  const Link& link(int a, int b) const { return host_of(a) == host_of(b) ? intra_link(host_of(a)) : inter; }
  const Link& intra_link(int host) const;
};

// Throws naming the file, line and key that is wrong.
Cluster load_cluster(const std::string& path);
// hosts_per_machine > 1: consecutive hosts share a machine (its cores_per_host cores and memory_gb_per_host).
Cluster uniform_cluster(int hosts, int ranks_per_host, double link_gbps, double link_latency_us, int cores_per_host,
                        double memory_gb_per_host, const Link& intra, int hosts_per_machine = 1);

}  // namespace autodist::perf
