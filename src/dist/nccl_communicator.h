// defines: make_nccl_communicator (the nccl Communicator: device tensors, stream-ordered)
//
// One NCCL communicator per group, made collectively over the group's MPI communicator by join_nccl (nccl_join.h):
// rank 0's ncclUniqueId broadcast through `mpi`, a ready exchange, then a non-blocking ncclCommInitRankConfig on the
// CudaBackend's device on every rank, bounded by --comm-timeout; a failure on any rank throws on all of them.
// Ranks and sizes are those of `mpi`. libnccl is opened with dlopen on first use (nccl_lazy.h).
// Tensors must be Device::CUDA. Every call is enqueued on the backend's stream, ordered with its kernels, and
// returns without waiting for the GPU (as NCCL does): read results on the host through the backend (to_host waits).
// - send/recv: NCCL has no tags (the argument is ignored); messages between two ranks match in call order.
// - isend/irecv are collected and issued together in one ncclGroupStart/End at the first wait() (or at the next
//   other call), so an MPI-style "post sends and receives, then wait" exchange cannot deadlock; the buffers must
//   stay valid until then, as with MPI. wait() orders the backend's stream after the transfer.
// - gather/scatter: grouped ncclSend/ncclRecv. barrier: waits for the stream, then an MPI barrier.
// - all_gather_idle works on host tensors, through `mpi`.
// - A failed NCCL call aborts the NCCL communicator (ncclCommAbort) and throws; later calls are refused. A call that
//   returns ncclInProgress (the communicator is non-blocking) is waited for, bounded by --comm-timeout.
// No CUDA or NCCL header here. Without AUTODIST_CUDA, make_nccl_communicator throws.
#pragma once
#include <memory>
#include <string>

#include "backend/backend.h"
#include "dist/communicator.h"

namespace autodist::dist {

// Collective over `mpi` (every rank of it calls). `backend` must be a cuda backend and outlive the result; the
// result keeps `mpi` alive (it splits it and broadcasts through it).
std::unique_ptr<Communicator> make_nccl_communicator(std::shared_ptr<Communicator> mpi, Backend& backend);

// Whether libnccl can be opened in this process (false in a build without NCCL); `why` says why not.
bool nccl_loadable(std::string* why = nullptr);

}  // namespace autodist::dist
