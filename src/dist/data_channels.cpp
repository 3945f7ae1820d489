#include "dist/data_channels.h"

#include <fmt/format.h>

#include <memory>

#include "backend/backend.h"
#include "core/error.h"
#include "dist/mpi_data_channel.h"
#include "dist/nccl_communicator.h"
#include "dist/staged_channel.h"

namespace autodist::dist {

std::string DataChannels::summary() const {
  if (tp.channel.empty()) return "none (one rank)";
  return fmt::format("tp {} ({}); pp {} ({})", tp.channel, tp.reason, pp.channel, pp.reason);
}

std::string DataChannels::name() const {
  if (tp.channel.empty()) return "none";
  if (tp.channel == pp.channel) return tp.channel;
  return fmt::format("tp:{},pp:{}", tp.channel, pp.channel);
}

DataChannels open_data_channels(ParallelGroups& g, const std::string& comm, Backend& be) {
  const bool cpu = be.device() == Device::CPU;
  AD_CHECK(!(cpu && comm == "nccl"), "--comm nccl moves device buffers between GPUs: use it with --device cuda, or "
                                     "--comm mpi on the cpu");
  DataChannels out;
  if (!g.world) return out;  // one rank: no data channel
  RankDevice me{machine_id(), host_name(), be.device_uuid(), be.device_ordinal(), false};
  if (!cpu) me.nccl = nccl_loadable();  // the cpu never opens libnccl
  auto open = [&](Communicator& ctrl, int key, std::unique_ptr<Communicator>& data, ChannelChoice& choice) {
    choice = choose_data_channel(comm, gather_rank_devices(ctrl, me));
    if (choice.channel == "nccl") {
      data = make_nccl_communicator(std::shared_ptr<Communicator>(ctrl.split(0, key)), be);
    } else if (!cpu) {
      data = make_staged_channel(make_mpi_data_channel(ctrl.split(0, key)), backend_stager(be));
    }
  };
  open(*g.tp, g.topo.tp_rank(), g.tp_data, out.tp);
  open(*g.pp, g.topo.pp_rank(), g.pp_data, out.pp);
  return out;
}

}  // namespace autodist::dist
