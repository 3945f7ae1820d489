// defines: Nccl (the NCCL entry points the nccl communicator uses), nccl() (loads libnccl on first use)
//
// NCCL is opened with dlopen, not linked: a binary built with CUDA then starts, and runs on the cpu or the mpi
// channel, on a machine without libnccl (a CPU-only CI machine, a GPU machine whose NCCL is elsewhere). Only
// src/dist/nccl_*.cpp include this (it includes nccl.h); it exists in builds with AUTODIST_HAVE_NCCL.
#pragma once
#include <nccl.h>

namespace autodist::dist {

struct Nccl {
  decltype(&ncclGetVersion) get_version = nullptr;
  decltype(&ncclGetUniqueId) get_unique_id = nullptr;
  decltype(&ncclCommInitRankConfig) init_rank_config = nullptr;
  decltype(&ncclCommGetAsyncError) get_async_error = nullptr;
  decltype(&ncclCommAbort) abort = nullptr;
  decltype(&ncclCommDestroy) destroy = nullptr;
  decltype(&ncclGetErrorString) error_string = nullptr;
  decltype(&ncclGetLastError) last_error = nullptr;
  decltype(&ncclAllReduce) all_reduce = nullptr;
  decltype(&ncclAllGather) all_gather = nullptr;
  decltype(&ncclReduceScatter) reduce_scatter = nullptr;
  decltype(&ncclBroadcast) broadcast = nullptr;
  decltype(&ncclReduce) reduce = nullptr;
  decltype(&ncclSend) send = nullptr;
  decltype(&ncclRecv) recv = nullptr;
  decltype(&ncclGroupStart) group_start = nullptr;
  decltype(&ncclGroupEnd) group_end = nullptr;
  int version = 0;  // ncclGetVersion: 22803 for 2.28.3
};

// Loaded once per process (thread-safe) and kept loaded. Throws autodist::Error naming the library and the loader's
// message when libnccl cannot be opened or lacks an entry point.
const Nccl& nccl();

}  // namespace autodist::dist
