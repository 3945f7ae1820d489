#include "dist/mpi_data_channel.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "dist/mpi_communicator.h"

namespace autodist::dist {
namespace {

constexpr int kReduceTag = 0x7a11;  // the ring's messages; no other message of this communicator uses it

template <ReduceOp Op>
void combine(float* acc, const float* in, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    if constexpr (Op == ReduceOp::Sum) acc[i] += in[i];
    else if constexpr (Op == ReduceOp::Max) acc[i] = std::max(acc[i], in[i]);
    else acc[i] = std::min(acc[i], in[i]);
  }
}

class MpiDataChannel final : public Communicator {
 public:
  explicit MpiDataChannel(std::unique_ptr<Communicator> mpi) : mpi_(std::move(mpi)) {
    AD_CHECK(mpi_ && mpi_->backend_name() == "mpi", "make_mpi_data_channel: needs a communicator of the mpi backend");
  }
  int rank() const override { return mpi_->rank(); }
  int size() const override { return mpi_->size(); }
  std::string backend_name() const override { return "mpi"; }
  std::unique_ptr<Communicator> split(int color, int key) override { return mpi_->split(color, key); }

  // Ring reduce-scatter: chunk c (of cs elements, the last ones padded) is summed along the ring starting at rank
  // c + 1, so after n - 1 steps rank r holds the reduced chunk r; then every rank gathers every chunk.
  using Communicator::all_reduce;
  void all_reduce(const Tensor& send, Tensor recv, ReduceOp op) override {
    const int n = size(), me = rank();
    if (n == 1 || send.dtype != DType::F32 || recv.dtype != DType::F32 || send.numel() != recv.numel() ||
        recv.nbytes() <= kSmallMessageBytes)
      return mpi_->all_reduce(send, recv, op);  // recursive doubling when small; also names what is wrong
    AD_CHECK(send.device == Device::CPU && recv.device == Device::CPU,
             "mpi data channel all_reduce: device buffers are not staged yet");
    const int64_t count = recv.numel(), cs = (count + n - 1) / n;
    grow(static_cast<size_t>((n + 1) * cs));
    float* work = scratch_.data();            // [n, cs] this rank's values, reduced in place
    float* incoming = work + n * cs;          // [cs]
    std::memcpy(work, send.data, static_cast<size_t>(count) * sizeof(float));
    std::fill(work + count, work + n * cs, 0.0f);
    const int next = (me + 1) % n, prev = (me + n - 1) % n;
    for (int s = 0; s < n - 1; ++s) {
      // send the chunk this rank has accumulated so far, receive the one it adds to next
      const int send_c = (me - s + n) % n, recv_c = (me - s - 1 + 2 * n) % n;
      auto rq = mpi_->irecv(Tensor(incoming, DType::F32, {cs}), prev, kReduceTag);
      auto sq = mpi_->isend(Tensor(work + send_c * cs, DType::F32, {cs}), next, kReduceTag);
      rq->wait();
      sq->wait();
      float* acc = work + recv_c * cs;
      if (op == ReduceOp::Sum) combine<ReduceOp::Sum>(acc, incoming, cs);
      else if (op == ReduceOp::Max) combine<ReduceOp::Max>(acc, incoming, cs);
      else combine<ReduceOp::Min>(acc, incoming, cs);
    }
    // rank r now holds the full reduction of chunk (r + 1) mod n
    ring_gather(work, DType::F32, cs, 1);
    std::memcpy(recv.data, work, static_cast<size_t>(count) * sizeof(float));
  }

  // The communicator's all_gather is a ring on point-to-point messages above 16 KiB, allocating nothing either.
  void all_gather(const Tensor& send, Tensor recv) override { mpi_->all_gather(send, recv); }
  void reduce_scatter(const Tensor& send, Tensor recv, ReduceOp op) override { mpi_->reduce_scatter(send, recv, op); }
  void broadcast(Tensor buf, int root) override { mpi_->broadcast(buf, root); }
  void reduce(const Tensor& send, Tensor recv, ReduceOp op, int root) override { mpi_->reduce(send, recv, op, root); }
  void gather(const Tensor& send, Tensor recv, int root) override { mpi_->gather(send, recv, root); }
  void scatter(const Tensor& send, Tensor recv, int root) override { mpi_->scatter(send, recv, root); }
  void send(const Tensor& buf, int peer, int tag) override { mpi_->send(buf, peer, tag); }
  void recv(Tensor buf, int peer, int tag) override { mpi_->recv(buf, peer, tag); }
  void sendrecv(const Tensor& send, int dst, Tensor recv, int src, int tag) override {
    mpi_->sendrecv(send, dst, recv, src, tag);
  }
  std::unique_ptr<CommRequest> isend(const Tensor& buf, int peer, int tag) override {
    return mpi_->isend(buf, peer, tag);
  }
  std::unique_ptr<CommRequest> irecv(Tensor buf, int peer, int tag) override { return mpi_->irecv(buf, peer, tag); }
  void barrier() override { mpi_->barrier(); }
  bool all_gather_idle(const Tensor& send, Tensor recv, double timeout_s) override {
    return mpi_->all_gather_idle(send, recv, timeout_s);
  }

 private:
  // Ring all-gather on point-to-point messages (MPI's non-blocking all_gather allocates its schedule on every
  // call: a decode step would allocate): blocks[n, block] with rank r holding block (r + shift) mod n passes each
  // block on to the next rank, so after n - 1 steps every rank holds every block.
  void ring_gather(void* blocks, DType dt, int64_t block, int shift) {
    const int n = size(), me = rank(), next = (me + 1) % n, prev = (me + n - 1) % n;
    char* b = static_cast<char*>(blocks);
    const size_t bytes = static_cast<size_t>(block) * dtype_size(dt);
    for (int s = 0; s < n - 1; ++s) {
      const int send_c = (me + shift - s + 2 * n) % n, recv_c = (me + shift - s - 1 + 2 * n) % n;
      auto rq = mpi_->irecv(Tensor(b + recv_c * bytes, dt, {block}), prev, kReduceTag);
      auto sq = mpi_->isend(Tensor(b + send_c * bytes, dt, {block}), next, kReduceTag);
      rq->wait();
      sq->wait();
    }
  }

  void grow(size_t n) {
    if (scratch_.size() < n) scratch_.resize(std::max(n, scratch_.size() * 2));
  }
  std::unique_ptr<Communicator> mpi_;
  std::vector<float> scratch_;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_data_channel(std::unique_ptr<Communicator> mpi) {
  return std::make_unique<MpiDataChannel>(std::move(mpi));
}

}  // namespace autodist::dist
