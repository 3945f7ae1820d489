// --device parsing, the GPU of a rank and the data channel of a group (src/dist/device_choice.h).
#include <doctest/doctest.h>
#include <fmt/format.h>


#include "core/error.h"
#include "dist/device_choice.h"

using namespace autodist;
using namespace autodist::dist;

namespace {

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

RankDevice gpu(const std::string& machine, int ordinal, bool nccl = true) {
  return {machine, "host-" + machine, fmt::format("GPU-{}-{}", machine, ordinal), ordinal, nccl};
}
RankDevice cpu(const std::string& machine) { return {machine, "host-" + machine, "", -1, true}; }

}  // namespace

TEST_CASE("parse_device: auto, cpu, cuda, cuda:N and nothing else") {
  CHECK(parse_device("auto").kind == DeviceRequest::Kind::Auto);
  CHECK(parse_device("cpu").kind == DeviceRequest::Kind::Cpu);
  CHECK(parse_device("cuda").cuda());
  CHECK(parse_device("cuda").index == -1);
  CHECK(parse_device("cuda:0").index == 0);
  CHECK(parse_device("cuda:7").index == 7);
  CHECK(parse_device("cuda:12").index == 12);
  for (const char* bad : {"gpu", "cuda:", "cuda:-1", "cuda:x", "cuda:1.5", "CUDA", "cuda0", "cuda:99999", ""})
    CHECK_THROWS_WITH_AS_MESSAGE(parse_device(bad), doctest::Contains("cuda:N"), Error, bad);
}

TEST_CASE("pick_cuda_device: local rank modulo the visible GPUs, or the one asked for") {
  CHECK(pick_cuda_device(0, 8, -1) == 0);
  CHECK(pick_cuda_device(5, 8, -1) == 5);
  CHECK(pick_cuda_device(9, 8, -1) == 1);
  CHECK(pick_cuda_device(3, 1, -1) == 0);  // every rank on the one GPU (the mpi channel then)
  CHECK(pick_cuda_device(3, 4, 2) == 2);   // --device cuda:2 wins over the local rank
  CHECK_THROWS_WITH_AS(pick_cuda_device(0, 2, 2), doctest::Contains("sees 2 GPUs (ordinals 0 to 1)"), Error);
  CHECK_THROWS_WITH_AS(pick_cuda_device(0, 1, 1), doctest::Contains("sees 1 GPU "), Error);
  CHECK_THROWS_WITH_AS(pick_cuda_device(0, 0, -1), doctest::Contains("no CUDA device is visible"), Error);
}

TEST_CASE("choose_data_channel: nccl when every rank has a GPU of its own") {
  CHECK(choose_data_channel("auto", {gpu("a", 0), gpu("a", 1)}).channel == "nccl");
  CHECK(choose_data_channel("nccl", {gpu("a", 0), gpu("a", 1), gpu("b", 0), gpu("b", 1)}).channel == "nccl");
  // the same ordinal on two machines is two GPUs
  CHECK(choose_data_channel("auto", {gpu("a", 0), gpu("b", 0)}).channel == "nccl");
  const ChannelChoice m = choose_data_channel("mpi", {gpu("a", 0), gpu("a", 1)});
  CHECK(m.channel == "mpi");
  CHECK(m.reason == "--comm mpi");
}

TEST_CASE("choose_data_channel: two ranks on one GPU take the mpi channel, or fail naming them under --comm nccl") {
  const std::vector<RankDevice> shared = {gpu("a", 0), gpu("a", 1), gpu("a", 0)};
  const ChannelChoice c = choose_data_channel("auto", shared);
  CHECK(c.channel == "mpi");
  CHECK(has(c.reason, "ranks 0 and 2 of this group both use GPU 0 of host host-a"));
  CHECK_THROWS_WITH_AS(choose_data_channel("nccl", shared),
                       doctest::Contains("NCCL refuses two ranks on one GPU, and ranks 0 and 2 of this group"), Error);
  CHECK_THROWS_WITH_AS(choose_data_channel("nccl", shared), doctest::Contains("or use --comm mpi"), Error);
}

TEST_CASE("choose_data_channel: a rank on the cpu or without NCCL") {
  const std::vector<RankDevice> mixed = {gpu("a", 0), cpu("a"), cpu("b")};
  CHECK(choose_data_channel("auto", mixed).channel == "mpi");
  CHECK(has(choose_data_channel("auto", mixed).reason, "ranks 1, 2 on the cpu"));
  CHECK_THROWS_WITH_AS(choose_data_channel("nccl", mixed), doctest::Contains("ranks 1, 2 of this group run on the cpu"), Error);
  CHECK_THROWS_WITH_AS(choose_data_channel("nccl", {cpu("a")}), doctest::Contains("rank 0 of this group runs on the cpu"), Error);
  const std::vector<RankDevice> lib = {gpu("a", 0), gpu("a", 1, false)};
  CHECK(choose_data_channel("auto", lib).channel == "mpi");
  CHECK(has(choose_data_channel("auto", lib).reason, "NCCL could not be loaded on rank 1"));
  CHECK_THROWS_WITH_AS(choose_data_channel("nccl", lib), doctest::Contains("LD_LIBRARY_PATH"), Error);
}

TEST_CASE("choose_data_channel: a group of one rank, and bad input") {
  CHECK(choose_data_channel("auto", {gpu("a", 0)}).channel == "mpi");
  CHECK(choose_data_channel("nccl", {gpu("a", 0)}).channel == "nccl");  // asked for: comm-bench at world 1
  CHECK_THROWS_WITH_AS(choose_data_channel("gloo", {gpu("a", 0)}), doctest::Contains("auto, mpi or nccl"), Error);
  CHECK_THROWS_WITH_AS(choose_data_channel("auto", {}), doctest::Contains("empty group"), Error);
}
