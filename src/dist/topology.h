// defines: Topology (rank -> (pp stage, tp rank) for world = tp x pp), RankPlacement and place_ranks (world rank ->
//          rank in the grid, from the hosts), ParallelGroups
//
// Ranks of one tensor-parallel group are adjacent, as in Megatron and TensorRT-LLM:
//   tp_rank = rank % tp, pp_rank = rank / tp, rank = pp_rank * tp + tp_rank.
// `rank` here is the logical rank: the world rank's position when the ranks are sorted by (host, in order of first
// appearance by world rank; order within the host), so a tensor-parallel group sits on one host and pipeline stages
// go across hosts whatever order the launcher placed the ranks in (mpirun --map-by node, srun --distribution=cyclic).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "dist/communicator.h"

namespace autodist::dist {

struct Topology {
  int world = 1, rank = 0, tp = 1, pp = 1;
  int local_rank = 0;  // order among the ranks of this host (for device selection: local_rank % visible devices)

  // Throws naming what is wrong when world != tp * pp or a size is < 1.
  static Topology make(int world, int rank, int tp, int pp);
  constexpr int tp_rank() const { return rank % tp; }
  constexpr int pp_rank() const { return rank / tp; }
  constexpr int rank_of(int pp_rank, int tp_rank) const { return pp_rank * tp + tp_rank; }
  constexpr bool first_stage() const { return pp_rank() == 0; }
  constexpr bool last_stage() const { return pp_rank() == pp - 1; }
  std::string str() const;
};

// Where the ranks of a job go, from the host of each world rank.
struct RankPlacement {
  std::vector<int> logical;     // [world rank] -> logical rank (position in the tp x pp grid)
  std::vector<int> local_rank;  // [world rank] -> order among the ranks of its host, by world rank
  std::vector<std::string> hosts;  // [logical rank] -> host
  int host_count = 0;
  // Empty, or one message naming every tensor-parallel group whose ranks are on more than one host.
  std::string warning;
};
// hosts: [world rank] -> host name; tp must divide hosts.size(). Pure: no MPI.
RankPlacement place_ranks(const std::vector<std::string>& hosts, int tp);
// "h0: 0 (tp 0 pp 0), 2 (tp 1 pp 0); h1: ..." (world ranks, by host), for the log.
std::string placement_str(const RankPlacement& p, int tp);

// Communicators of one rank, two per group by purpose. Control channels (MPI, host memory) carry tokens, flags
// and small host data: the whole world, the tp group (ordered by tp rank) and the pp group (ordered by stage).
// Data channels carry activations and collectives on device tensors: tp_data (the all_reduces after o_proj and
// down_proj, the vocab-parallel embedding and head) and pp_data (activations between stages, the KV sync). They
// are MPI duplicates of tp and pp today; a CUDA run can put NCCL there. Null members when there is no MPI (a
// single rank without a communicator).
struct ParallelGroups {
  Topology topo;
  std::vector<std::string> hosts;  // [logical rank] -> host (one entry without a communicator)
  std::unique_ptr<Communicator> world, tp, pp;  // control
  std::unique_ptr<Communicator> tp_data, pp_data;  // data
  static ParallelGroups make(Communicator* world_comm, int tp, int pp);  // world_comm may be null (1 rank)
};

}  // namespace autodist::dist
