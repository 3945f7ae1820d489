// defines: MpiCommunicator (the mpi Communicator over host memory), set_mpi_chunk_elements
//
// Every operation posts the non-blocking MPI call (MPI_Iallreduce, MPI_Irecv, MPI_Ibarrier, ...) and completes it
// in wait_all, through dist::wait_for_peer: a spin, then backing off to sleeping, and the end of the job past
// --comm-timeout, naming this rank, the operation and the peer (comm_wait.h).
// Every MPI return code is checked (the communicators use MPI_ERRORS_RETURN) and turned into an
// autodist::Error naming the call, the rank and MPI_Error_string.
// dtypes: f32, i32, i64 move and reduce natively. bf16 and f16 move as 16-bit words and reduce
// through user-defined MPI ops that widen to float32, apply sum/max/min, and round back to nearest
// even, so a sum over n ranks is rounded at every step of MPI's reduction tree (exact for integers
// up to 256 in bf16 and 2048 in f16).
// Counts: MPI counts are int. all_reduce, broadcast, reduce, send/recv and isend/irecv split a
// larger tensor into chunks of at most INT_MAX elements; all_gather, reduce_scatter, gather and
// scatter refuse a per-rank block above INT_MAX elements with a clear error.
// Device::CUDA tensors are refused until the CUDA build stages them through pinned host memory.
// mpi.h stays out of this header: the MPI_Comm is held as an opaque integer.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dist/communicator.h"

namespace autodist::dist {

// Collectives whose larger buffer holds at most this many bytes run as point-to-point messages (mpi_small.h), larger
// ones as MPI's non-blocking collectives, but for reduce, all_gather and reduce_scatter, point-to-point at every size;
// every rank of a call takes the same path.
constexpr int64_t kSmallMessageBytes = 16384;

class MpiCommunicator final : public Communicator {
 public:
  ~MpiCommunicator() override;
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend_name() const override { return "mpi"; }
  std::unique_ptr<Communicator> split(int color, int key) override;

  using Communicator::all_reduce;
  void all_reduce(const Tensor& send, Tensor recv, ReduceOp op) override;
  void all_gather(const Tensor& send, Tensor recv) override;
  void reduce_scatter(const Tensor& send, Tensor recv, ReduceOp op = ReduceOp::Sum) override;
  void broadcast(Tensor buf, int root) override;
  void reduce(const Tensor& send, Tensor recv, ReduceOp op, int root) override;
  void gather(const Tensor& send, Tensor recv, int root) override;
  void scatter(const Tensor& send, Tensor recv, int root) override;
  void send(const Tensor& buf, int peer, int tag = 0) override;
  void recv(Tensor buf, int peer, int tag = 0) override;
  void sendrecv(const Tensor& send, int dst, Tensor recv, int src, int tag = 0) override;
  std::unique_ptr<CommRequest> isend(const Tensor& buf, int peer, int tag = 0) override;
  std::unique_ptr<CommRequest> irecv(Tensor buf, int peer, int tag = 0) override;
  void barrier() override;
  bool all_gather_idle(const Tensor& send, Tensor recv, double timeout_s) override;

  // The bare MPI calls behind each comm-bench op, on this communicator's MPI_Comm: no argument
  // checks, no chunking (count must fit an int), only the return code checked. comm-bench
  // --baseline times them beside the wrapper to measure its overhead. Buffers that alias in the
  // layouts of communicator.h pass MPI_IN_PLACE, as the wrapper does.
  void raw_all_reduce(const void* send, void* recv, int64_t count, DType t, ReduceOp op);
  void raw_all_gather(const void* send, void* recv, int64_t count, DType t);
  void raw_reduce_scatter(void* send, void* recv, int64_t count, DType t, ReduceOp op);
  void raw_broadcast(void* buf, int64_t count, DType t, int root);
  void raw_reduce(const void* send, void* recv, int64_t count, DType t, ReduceOp op, int root);
  void raw_gather(const void* send, void* recv, int64_t count, DType t, int root);
  void raw_scatter(const void* send, void* recv, int64_t count, DType t, int root);
  // MPI_Sendrecv: send to dst, receive from src.
  void raw_sendrecv(const void* send, int dst, void* recv, int src, int64_t count, DType t);
  // MPI_Irecv, MPI_Isend, MPI_Wait on both.
  void raw_isend_irecv(const void* send, void* recv, int64_t count, DType t, int peer);
  void raw_barrier();

  // Throws autodist::Error when rc is not MPI_SUCCESS: "<call> failed on rank ...: <MPI error>".
  void check(int rc, const char* call) const;

  // What a wait is for, in a timeout message: op ("all_reduce", "recv from") and, for point-to-point, the peer's
  // rank in this communicator (-1: none; peer2: the receive side of a sendrecv).
  struct Wait {
    const char* op;
    int peer = -1, peer2 = -1;
  };
  // Completes n requests through wait_for_peer (each return code checked).
  void wait_all(void* requests, int n, Wait what) const;
  // "recv from rank 3" (the peer as a world rank) or "all_reduce over world ranks 0, 1".
  std::string describe(Wait what) const;

 private:
  friend std::unique_ptr<Communicator> make_mpi_world_communicator();
  explicit MpiCommunicator(std::intptr_t comm);  // takes ownership of the MPI_Comm
  std::intptr_t comm_;                           // MPI_Comm, opaque here
  int rank_ = 0, size_ = 1, world_rank_ = 0;
  std::vector<char> small_scratch_;  // incoming blocks of the small-message collectives; grows only
};

// Largest element count per MPI call (default and maximum INT_MAX). Tests lower it to exercise the
// chunking and the refusal paths without multi-GiB buffers; every rank must set the same value.
void set_mpi_chunk_elements(int64_t n);
int64_t mpi_chunk_elements();

}  // namespace autodist::dist
