#include "dist/device_choice.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "core/error.h"
#include "core/tensor.h"
#include "dist/communicator.h"

namespace autodist::dist {

DeviceRequest parse_device(const std::string& s) {
  DeviceRequest r;
  if (s == "auto") return r;
  if (s == "cpu") {
    r.kind = DeviceRequest::Kind::Cpu;
    return r;
  }
  r.kind = DeviceRequest::Kind::Cuda;
  if (s == "cuda") return r;
  const std::string digits = s.rfind("cuda:", 0) == 0 ? s.substr(5) : std::string();
  bool ok = !digits.empty() && digits.size() <= 4;
  for (char c : digits) ok = ok && c >= '0' && c <= '9';
  AD_CHECK(ok, "--device must be auto, cpu, cuda or cuda:N (N a GPU ordinal), got '{}'", s);
  r.index = std::stoi(digits);
  return r;
}

int pick_cuda_device(int local_rank, int visible, int requested) {
  AD_CHECK(visible > 0, "--device cuda: no CUDA device is visible to this process (driver missing, or "
                        "CUDA_VISIBLE_DEVICES empty)");
  if (requested >= 0) {
    AD_CHECK(requested < visible, "--device cuda:{}: this process sees {} GPU{} (ordinals 0 to {})", requested, visible,
             visible == 1 ? "" : "s", visible - 1);
    return requested;
  }
  AD_CHECK(local_rank >= 0, "pick_cuda_device: local rank {} is negative", local_rank);
  return local_rank % visible;
}

namespace {

std::string rank_list(const std::vector<int>& ranks) {
  std::string s = ranks.size() == 1 ? "rank " : "ranks ";
  for (size_t i = 0; i < ranks.size(); ++i) s += fmt::format("{}{}", i ? ", " : "", ranks[i]);
  return s;
}

// "ranks I and J of this group both use GPU ..." for the first two ranks on one GPU of one machine, else "".
std::string first_shared_gpu(const std::vector<RankDevice>& group) {
  for (size_t i = 0; i < group.size(); ++i)
    for (size_t j = i + 1; j < group.size(); ++j)
      if (group[i].machine == group[j].machine && group[i].gpu == group[j].gpu)
        return fmt::format("ranks {} and {} of this group both use GPU {} of host {} (UUID {})", i, j,
                           group[i].ordinal, group[i].host, group[i].gpu);
  return "";
}

}  // namespace

ChannelChoice choose_data_channel(const std::string& comm, const std::vector<RankDevice>& group) {
  AD_CHECK(comm == "auto" || comm == "mpi" || comm == "nccl", "--comm must be auto, mpi or nccl, got '{}'", comm);
  AD_CHECK(!group.empty(), "choose_data_channel: an empty group");
  if (comm == "mpi") return {"mpi", "--comm mpi"};
  const bool asked = comm == "nccl";
  const int n = static_cast<int>(group.size());
  std::vector<int> on_cpu, no_nccl;
  for (int r = 0; r < n; ++r) {
    if (group[r].gpu.empty()) on_cpu.push_back(r);
    else if (!group[r].nccl) no_nccl.push_back(r);
  }
  if (!on_cpu.empty()) {
    AD_CHECK(!asked, "--comm nccl moves device buffers between GPUs, but {} of this group run{} on the cpu: use "
             "--device cuda, or --comm mpi", rank_list(on_cpu), on_cpu.size() == 1 ? "s" : "");
    return {"mpi", fmt::format("{} on the cpu", rank_list(on_cpu))};
  }
  const std::string shared = first_shared_gpu(group);
  if (!shared.empty()) {
    AD_CHECK(!asked, "--comm nccl: NCCL refuses two ranks on one GPU, and {}. Give every rank its own GPU "
             "(--device cuda:N, CUDA_VISIBLE_DEVICES, fewer ranks per host), or use --comm mpi, which stages device "
             "buffers through pinned host memory", shared);
    return {"mpi", shared};
  }
  if (!no_nccl.empty()) {
    AD_CHECK(!asked, "--comm nccl: NCCL (libnccl.so.2) could not be loaded on {} of this group; add its directory "
             "to LD_LIBRARY_PATH, or use --comm mpi", rank_list(no_nccl));
    return {"mpi", fmt::format("NCCL could not be loaded on {}", rank_list(no_nccl))};
  }
  if (n == 1 && !asked) return {"mpi", "one rank: nothing to move"};
  return {"nccl", n == 1 ? "--comm nccl" : "every rank of the group has a GPU of its own"};
}

namespace {

// One rank's RankDevice as fixed-width fields, moved as int32 words.
struct Wire {
  char machine[48] = {0};
  char host[64] = {0};
  char gpu[48] = {0};
  int32_t ordinal = -1;
  int32_t nccl = 0;
};
static_assert(sizeof(Wire) % 4 == 0);

void put(char* dst, size_t cap, const std::string& s) { std::strncpy(dst, s.c_str(), cap - 1); }

}  // namespace

std::vector<RankDevice> gather_rank_devices(Communicator& ctrl, const RankDevice& me) {
  constexpr int64_t kWords = sizeof(Wire) / 4;
  Wire w;
  put(w.machine, sizeof(w.machine), me.machine);
  put(w.host, sizeof(w.host), me.host);
  put(w.gpu, sizeof(w.gpu), me.gpu);
  w.ordinal = me.ordinal;
  w.nccl = me.nccl;
  std::vector<Wire> all(static_cast<size_t>(ctrl.size()));
  ctrl.all_gather(Tensor(&w, DType::I32, {kWords}), Tensor(all.data(), DType::I32, {kWords * ctrl.size()}));
  std::vector<RankDevice> out;
  for (const Wire& a : all) out.push_back({a.machine, a.host, a.gpu, a.ordinal, a.nccl != 0});
  return out;
}

std::string host_name() {
  char host[64] = {0};
  gethostname(host, sizeof(host) - 1);
  return host;
}

std::string machine_id() {
  char boot[48] = {0};
  if (FILE* f = std::fopen("/proc/sys/kernel/random/boot_id", "r")) {
    if (!std::fgets(boot, sizeof(boot), f)) boot[0] = 0;
    std::fclose(f);
  }
  std::string s = boot;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s.empty() ? host_name() : s;
}

}  // namespace autodist::dist
