// defines: make_nccl_communicator (the nccl Communicator: device tensors, stream-ordered)
//
// One NCCL communicator per group, made collectively over the group's MPI communicator: its rank 0 creates the
// ncclUniqueId and broadcasts it through `mpi`, then every rank joins with ncclCommInitRank on the CudaBackend's
// device. Ranks and sizes are those of `mpi`.
// Tensors must be Device::CUDA. Every call is enqueued on the backend's stream, ordered with its kernels, and
// returns without waiting for the GPU (as NCCL does): read results on the host through the backend (to_host waits).
// - send/recv: NCCL has no tags (the argument is ignored); messages between two ranks match in call order.
// - isend/irecv are collected and issued together in one ncclGroupStart/End at the first wait() (or at the next
//   other call), so an MPI-style "post sends and receives, then wait" exchange cannot deadlock; the buffers must
//   stay valid until then, as with MPI. wait() orders the backend's stream after the transfer.
// - gather/scatter: grouped ncclSend/ncclRecv. barrier: waits for the stream, then an MPI barrier.
// - all_gather_idle works on host tensors, through `mpi`.
// - A failed NCCL call aborts the NCCL communicator (ncclCommAbort) and throws; later calls are refused.
// No CUDA or NCCL header here. Without AUTODIST_CUDA, make_nccl_communicator throws.
#pragma once
#include <memory>

#include "backend/backend.h"
#include "dist/communicator.h"

namespace autodist::dist {

// Collective over `mpi` (every rank of it calls). `backend` must be a cuda backend and outlive the result; the
// result keeps `mpi` alive (it splits it and broadcasts through it).
std::unique_ptr<Communicator> make_nccl_communicator(std::shared_ptr<Communicator> mpi, Backend& backend);

}  // namespace autodist::dist
