// defines: ReduceOp, CommRequest, Communicator (the interface every parallel layer talks to)
//
// One Communicator per group (world, tp, pp, sp). All collectives are explicit calls; buffers are
// Tensor views. The mpi implementation works on host memory; the nccl one (CUDA builds) on device
// memory, stream-ordered. Element counts and dtypes must agree across ranks, as in MPI/NCCL.
#pragma once
#include <memory>
#include <string>

#include "core/tensor.h"

namespace autodist::dist {

enum class ReduceOp { Sum, Max, Min };
const char* reduce_op_name(ReduceOp op);       // "sum", "max", "min"
ReduceOp parse_reduce_op(const std::string& s);  // sum|max|min; throws on anything else

// A pending non-blocking send or receive; wait() completes it (destruction without wait() waits).
class CommRequest {
 public:
  virtual ~CommRequest() = default;
  virtual void wait() = 0;
  // True once the operation is complete (then wait() returns at once); never blocks.
  virtual bool test() = 0;
  // Gives up on the operation without waiting, for a run that failed and must not hang: later wait() calls and the
  // destructor return at once. The buffer must stay valid until the process ends.
  virtual void abandon() noexcept = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string backend_name() const = 0;  // "mpi", "nccl"

  // New communicator over the ranks with the same color, ordered by key (MPI_Comm_split semantics).
  // Collective over this communicator. A negative color joins no group and returns nullptr.
  virtual std::unique_ptr<Communicator> split(int color, int key) = 0;

  // In place over buf.
  void all_reduce(Tensor buf, ReduceOp op = ReduceOp::Sum) { all_reduce(buf, buf, op); }
  // recv = the reduction over ranks of send (same count and dtype); recv == send is in place.
  // In-place layouts below are nccl-tests': the two buffers alias, no copy is made.
  virtual void all_reduce(const Tensor& send, Tensor recv, ReduceOp op) = 0;
  // recv holds size() blocks of send.numel() elements, rank-major. In place: send is recv's block rank().
  virtual void all_gather(const Tensor& send, Tensor recv) = 0;
  // send holds size() blocks of recv.numel() elements; block r reduced lands on rank r.
  // In place: recv is send's block rank() (send is overwritten).
  virtual void reduce_scatter(const Tensor& send, Tensor recv, ReduceOp op = ReduceOp::Sum) = 0;
  virtual void broadcast(Tensor buf, int root) = 0;
  // recv significant on root only. In place: send == recv.
  virtual void reduce(const Tensor& send, Tensor recv, ReduceOp op, int root) = 0;
  // recv (size() blocks) significant on root only. In place: send is recv's block root.
  virtual void gather(const Tensor& send, Tensor recv, int root) = 0;
  // send (size() blocks) significant on root only. In place: recv is send's block root.
  virtual void scatter(const Tensor& send, Tensor recv, int root) = 0;
  // Sends `send` to dst while receiving `recv` from src (MPI_Sendrecv; with dst = rank + 1 and
  // src = rank - 1 around a ring no rank waits for another to finish first).
  virtual void sendrecv(const Tensor& send, int dst, Tensor recv, int src, int tag = 0) = 0;
  virtual void send(const Tensor& buf, int peer, int tag = 0) = 0;
  virtual void recv(Tensor buf, int peer, int tag = 0) = 0;
  virtual std::unique_ptr<CommRequest> isend(const Tensor& buf, int peer, int tag = 0) = 0;
  virtual std::unique_ptr<CommRequest> irecv(Tensor buf, int peer, int tag = 0) = 0;
  // Starts the isend/irecv posted so far without waiting for them. MPI starts each when it is posted (a no-op here);
  // nccl collects them until a wait, a test or the next other call, so that a posted exchange is issued as one group
  // (ncclGroupStart/End) and cannot deadlock: a sender that posts and then blocks elsewhere (a pipeline stage waiting
  // for tokens on the control channel) must flush, or its peer waits for a send that was never issued.
  virtual void flush() {}
  virtual void barrier() = 0;
  // all_gather for ranks that may wait a long time (a sweep's idle ranks, a status exchange after
  // work that may have failed): sleeps between polls instead of spinning, and returns false if
  // the others have not all arrived within timeout_s.
  virtual bool all_gather_idle(const Tensor& send, Tensor recv, double timeout_s) = 0;
};

// The world communicator through MPI (MpiEnv must be initialised). Collective over MPI_COMM_WORLD:
// every rank calls it. Works on host tensors; f32, i32, i64 reduce natively, bf16 and f16 reduce
// through float32 (see mpi_communicator.h).
std::unique_ptr<Communicator> make_mpi_world_communicator();

}  // namespace autodist::dist
