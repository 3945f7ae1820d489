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

// Communicators of one rank, two per group by purpose. Control channels (MPI, host memory) carry tokens, flags
// and small host data: the whole world, the tp group (ordered by tp rank) and the pp group (ordered by stage).
// Data channels carry activations and collectives on device tensors: tp_data (the all_reduces after o_proj and
// down_proj, the vocab-parallel embedding and head) and pp_data (activations between stages, the KV sync). They
// are MPI duplicates of tp and pp today; a CUDA run can put NCCL there. Null members when there is no MPI (a
// single rank without a communicator).
struct ParallelGroups {
  Topology topo;
  std::unique_ptr<Communicator> world, tp, pp;  // control
  std::unique_ptr<Communicator> tp_data, pp_data;  // data
  static ParallelGroups make(Communicator* world_comm, int tp, int pp);  // world_comm may be null (1 rank)
};

}  // namespace autodist::dist
