// defines: Topology (rank -> (pp stage, tp rank) for world = tp x pp), ParallelGroups
//
// Ranks of one tensor-parallel group are adjacent, as in Megatron and TensorRT-LLM:
//   tp_rank = rank % tp, pp_rank = rank / tp, rank = pp_rank * tp + tp_rank.
#pragma once
#include <memory>
#include <string>

#include "dist/communicator.h"

namespace autodist::dist {

struct Topology {
  int world = 1, rank = 0, tp = 1, pp = 1;

  // Throws naming what is wrong when world != tp * pp or a size is < 1.
  static Topology make(int world, int rank, int tp, int pp);
  constexpr int tp_rank() const { return rank % tp; }
  constexpr int pp_rank() const { return rank / tp; }
  constexpr int rank_of(int pp_rank, int tp_rank) const { return pp_rank * tp + tp_rank; }
  constexpr bool first_stage() const { return pp_rank() == 0; }
  constexpr bool last_stage() const { return pp_rank() == pp - 1; }
  std::string str() const;
};

// Communicators of one rank: the whole world, its tp group (ordered by tp rank) and its pp group
// (ordered by stage). Null members when there is no MPI (a single rank without a communicator).
struct ParallelGroups {
  Topology topo;
  std::unique_ptr<Communicator> world, tp, pp;
  static ParallelGroups make(Communicator* world_comm, int tp, int pp);  // world_comm may be null (1 rank)
};

}  // namespace autodist::dist
