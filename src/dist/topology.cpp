#include "dist/topology.h"

#include <fmt/format.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <numeric>

#include "core/error.h"
#include "core/log.h"
#include "dist/comm_wait.h"
#include "dist/mpi_data_channel.h"

namespace autodist::dist {

Topology Topology::make(int world, int rank, int tp, int pp) {
  AD_CHECK(tp >= 1, "--tensor-parallel-size must be >= 1, got {}", tp);
  AD_CHECK(pp >= 1, "--pipeline-parallel-size must be >= 1, got {}", pp);
  const int64_t ranks = int64_t{tp} * pp;  // in int64: the int product of two large sizes wraps
  AD_CHECK(world == ranks,
           "world size {} != tensor-parallel size {} x pipeline-parallel size {} = {}; launch with mpirun -np {}",
           world, tp, pp, ranks, ranks);
  AD_CHECK(rank >= 0 && rank < world, "rank {} outside world of {}", rank, world);
  return Topology{world, rank, tp, pp};
}

std::string Topology::str() const {
  return fmt::format("rank {}/{}: tp {}/{} pp {}/{}", rank, world, tp_rank(), tp, pp_rank(), pp);
}

RankPlacement place_ranks(const std::vector<std::string>& hosts, int tp) {
  const int n = static_cast<int>(hosts.size());
  AD_CHECK(n >= 1 && tp >= 1 && n % tp == 0, "place_ranks: {} ranks do not split into tensor-parallel groups of {}", n,
           tp);
  RankPlacement p;
  std::map<std::string, int> index;  // host -> order of first appearance
  std::vector<int> host_of(n), count;
  p.local_rank.resize(n);
  for (int r = 0; r < n; ++r) {
    auto [it, added] = index.try_emplace(hosts[r], static_cast<int>(count.size()));
    if (added) count.push_back(0);
    host_of[r] = it->second;
    p.local_rank[r] = count[it->second]++;
  }
  p.host_count = static_cast<int>(count.size());
  std::vector<int> order(n);  // order[logical] = world rank
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return host_of[a] < host_of[b]; });
  p.logical.resize(n);
  for (int l = 0; l < n; ++l) {
    p.logical[order[l]] = l;
    p.hosts.push_back(hosts[order[l]]);
  }
  std::string spans;
  for (int g = 0; g < n / tp; ++g) {
    std::vector<std::string> on;
    std::string ranks;
    for (int l = g * tp; l < (g + 1) * tp; ++l) {
      if (std::find(on.begin(), on.end(), p.hosts[l]) == on.end()) on.push_back(p.hosts[l]);
      ranks += fmt::format("{}{}", ranks.empty() ? "" : ",", order[l]);
    }
    if (on.size() > 1)
      spans += fmt::format("{}group {} (world ranks {}) on {}", spans.empty() ? "" : "; ", g, ranks,
                           fmt::join(on, ","));
  }
  if (!spans.empty())
    p.warning = fmt::format("tensor-parallel groups span hosts, so their all_reduces cross the network: {}. Give "
                            "every host a multiple of --tensor-parallel-size {} ranks (a hostfile's slots, srun "
                            "--ntasks-per-node)",
                            spans, tp);
  return p;
}

std::string placement_str(const RankPlacement& p, int tp) {
  std::string s, cur;
  const int n = static_cast<int>(p.logical.size());
  std::vector<int> order(n);
  for (int r = 0; r < n; ++r) order[p.logical[r]] = r;
  for (int l = 0; l < n; ++l) {
    if (p.hosts[l] != cur) {
      cur = p.hosts[l];
      s += fmt::format("{}{}:", s.empty() ? "" : "; ", cur);
    } else {
      s += ",";
    }
    s += fmt::format(" {} (tp {} pp {})", order[l], l % tp, l / tp);
  }
  return s;
}

// What each rank of `world` runs on, by world rank: its host (gethostname, what MPI_Get_processor_name reports) and
// the boot id of its kernel (/proc/sys/kernel/random/boot_id: ranks with one boot id share one machine's cores even
// when they are on different hosts, as the hosts of a namespace cluster are).
struct RankSite {
  char host[64] = {0};
  char boot[48] = {0};
};
static std::vector<RankSite> gather_sites(Communicator& world) {
  static_assert(sizeof(RankSite) % 4 == 0);
  constexpr int64_t kWords = sizeof(RankSite) / 4;
  RankSite me;
  gethostname(me.host, sizeof(me.host) - 1);
  if (FILE* f = std::fopen("/proc/sys/kernel/random/boot_id", "r")) {
    if (!std::fgets(me.boot, sizeof(me.boot), f)) me.boot[0] = 0;
    std::fclose(f);
  }
  std::vector<RankSite> all(static_cast<size_t>(world.size()));
  world.all_gather(Tensor(&me, DType::I32, {kWords}), Tensor(all.data(), DType::I32, {kWords * world.size()}));
  return all;
}

// More ranks on this machine than cores this rank may use: waits on peers yield at once (comm_wait.h).
static void yield_when_oversubscribed(const std::vector<RankSite>& sites, int world_rank) {
  const std::string mine = sites[world_rank].boot;
  if (mine.empty()) return;
  int sharing = 0;
  for (auto& s : sites) sharing += mine == s.boot;
  cpu_set_t cpus;
  const int cores = sched_getaffinity(0, sizeof(cpus), &cpus) == 0 ? CPU_COUNT(&cpus) : 0;
  if (cores > 0 && sharing > cores) {
    set_wait_yield_at_once(true);
    if (world_rank == 0) log::debug("{} ranks share this machine's {} cores: waits on peers yield at once", sharing, cores);
  }
}

ParallelGroups ParallelGroups::make(Communicator* world_comm, int tp, int pp) {
  ParallelGroups g;
  int world = world_comm ? world_comm->size() : 1, world_rank = world_comm ? world_comm->rank() : 0;
  Topology::make(world, world_rank, tp, pp);  // checks the sizes before any rank waits on another
  RankPlacement pl;
  if (world_comm) {
    std::vector<RankSite> sites = gather_sites(*world_comm);
    std::vector<std::string> hosts;
    for (auto& s : sites) hosts.emplace_back(s.host);
    pl = place_ranks(hosts, tp);
    yield_when_oversubscribed(sites, world_rank);
  } else {
    char host[64] = {0};
    gethostname(host, sizeof(host) - 1);
    pl = place_ranks({host}, tp);
  }
  g.topo = Topology::make(world, pl.logical[world_rank], tp, pp);
  g.topo.local_rank = pl.local_rank[world_rank];
  g.hosts = pl.hosts;
  if (g.topo.rank == 0 && pl.host_count > 1) {
    log::info("placement on {} hosts (world rank (tp rank, stage)): {}", pl.host_count, placement_str(pl, tp));
    if (!pl.warning.empty()) log::warn("{}", pl.warning);
  }
  if (world_comm) {
    const int rank = g.topo.rank;
    g.world = world_comm->split(0, rank);
    g.tp = world_comm->split(g.topo.pp_rank(), g.topo.tp_rank());
    g.pp = world_comm->split(g.topo.tp_rank(), g.topo.pp_rank());
    g.tp_data = make_mpi_data_channel(g.tp->split(0, g.topo.tp_rank()));
    g.pp_data = make_mpi_data_channel(g.pp->split(0, g.topo.pp_rank()));
  }
  return g;
}

}  // namespace autodist::dist
