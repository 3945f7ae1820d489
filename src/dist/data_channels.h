// defines: DataChannels (what each data channel of a run is, and why), open_data_channels
//
// Once the backend exists, each group's data channel is chosen from every rank's device (choose_data_channel, by
// --comm): nccl (make_nccl_communicator over a duplicate of the group's control channel) or mpi, which stages
// device buffers through the backend's pinned host memory when the backend is not the cpu (make_staged_channel).
// On the cpu with mpi, the data channels ParallelGroups::make opened stay as they are.
#pragma once
#include <string>

#include "dist/device_choice.h"
#include "dist/topology.h"

namespace autodist {
class Backend;
}

namespace autodist::dist {

struct DataChannels {
  ChannelChoice tp, pp;  // empty channel: no MPI (one rank without mpirun), nothing to choose
  // "tp nccl (every rank ...); pp mpi (ranks 0 and 1 ...)", for the log.
  std::string summary() const;
  // For the trace: "none" without MPI, "mpi" or "nccl" when both agree, else "tp:nccl,pp:mpi".
  std::string name() const;
};

// Collective over the world (every rank calls it, after ParallelGroups::make and with its own backend). Throws,
// naming the ranks, when --comm nccl cannot run (a rank on the cpu, two ranks on one GPU, no libnccl).
DataChannels open_data_channels(ParallelGroups& g, const std::string& comm, Backend& be);

}  // namespace autodist::dist
