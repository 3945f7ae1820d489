#include "dist/topology.h"

#include <fmt/format.h>

#include "core/error.h"
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

ParallelGroups ParallelGroups::make(Communicator* world_comm, int tp, int pp) {
  ParallelGroups g;
  int world = world_comm ? world_comm->size() : 1, rank = world_comm ? world_comm->rank() : 0;
  g.topo = Topology::make(world, rank, tp, pp);
  if (world_comm) {
    g.world = world_comm->split(0, rank);
    g.tp = world_comm->split(g.topo.pp_rank(), g.topo.tp_rank());
    g.pp = world_comm->split(g.topo.tp_rank(), g.topo.pp_rank());
    g.tp_data = make_mpi_data_channel(g.tp->split(0, g.topo.tp_rank()));
    g.pp_data = make_mpi_data_channel(g.pp->split(0, g.topo.pp_rank()));
  }
  return g;
}

}  // namespace autodist::dist
