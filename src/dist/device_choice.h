// defines: DeviceRequest + parse_device (--device), pick_cuda_device (local rank -> GPU), RankDevice, ChannelChoice +
//          choose_data_channel (--comm for one group), gather_rank_devices
//
// Pure rules (no CUDA, no MPI) except gather_rank_devices, so that every case is tested on a host without a GPU:
// - A rank's GPU is --device cuda:N when given, else its local rank (order among the ranks of its machine) modulo the
//   GPUs it sees, as vLLM and torchrun do.
// - A group's data channel under --comm auto is nccl when every rank of it has a GPU of its own (no two ranks on one
//   machine with the same GPU UUID; NCCL refuses that) and NCCL loaded on every rank, else mpi (which stages device
//   buffers through pinned host memory). --comm nccl where that does not hold is an error naming the ranks.
#pragma once
#include <string>
#include <vector>

namespace autodist::dist {

class Communicator;

struct DeviceRequest {
  enum class Kind { Auto, Cpu, Cuda };
  Kind kind = Kind::Auto;
  int index = -1;  // cuda:N; -1: chosen by local rank
  bool cuda() const { return kind == Kind::Cuda; }
};
// auto | cpu | cuda | cuda:N (N a GPU ordinal); throws naming the accepted forms.
DeviceRequest parse_device(const std::string& s);

// The GPU ordinal a rank uses: `requested` when >= 0 (it must be < visible), else local_rank % visible. Throws when
// no GPU is visible.
int pick_cuda_device(int local_rank, int visible, int requested);

// What one rank of a group runs on, gathered over the group's control channel.
struct RankDevice {
  std::string machine;  // one id per kernel: ranks with the same machine share its GPUs
  std::string host;     // host name, for messages
  std::string gpu;      // the GPU's UUID; empty on the cpu
  int ordinal = -1;     // the GPU's ordinal in its rank's process (for messages); -1 on the cpu
  bool nccl = false;    // NCCL loaded on this rank
};

struct ChannelChoice {
  std::string channel;  // "mpi" or "nccl"
  std::string reason;   // why, for the log and the trace
};
// comm: auto | mpi | nccl; group: by rank of the group. Throws, naming the ranks, when nccl is asked for and cannot
// run. A group of one rank moves nothing: mpi unless nccl is asked for (then the same checks apply).
ChannelChoice choose_data_channel(const std::string& comm, const std::vector<RankDevice>& group);

// Collective over `ctrl` (host memory): every rank's RankDevice, by rank. Strings are cut to fixed widths.
std::vector<RankDevice> gather_rank_devices(Communicator& ctrl, const RankDevice& me);

// This machine's id (the kernel's boot id, else the host name) and host name, for RankDevice.
std::string machine_id();
std::string host_name();

}  // namespace autodist::dist
