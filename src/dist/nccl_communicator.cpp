#include "dist/nccl_communicator.h"

#include "core/error.h"

#ifdef AUTODIST_HAVE_NCCL
#include <cuda_runtime.h>
#include <nccl.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "backend/cuda/cuda_backend.h"
#include "core/clock.h"
#include "core/log.h"
#include "dist/comm_wait.h"
#include "dist/nccl_lazy.h"
#include "dist/nccl_runtime.h"
#endif

namespace autodist::dist {

#ifdef AUTODIST_HAVE_NCCL
namespace {

using nccl_rt::CudaJoin;
using nccl_rt::cuda_ok;
using nccl_rt::describe;
using nccl_rt::watch;

ncclDataType_t nccl_type(DType t) {
  switch (t) {
    case DType::F32: return ncclFloat32;
    case DType::BF16: return ncclBfloat16;
    case DType::F16: return ncclFloat16;
    case DType::I32: return ncclInt32;
    case DType::I64: return ncclInt64;
  }
  AD_FAIL("nccl communicator: unsupported dtype {}", dtype_name(t));
}

ncclRedOp_t nccl_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum: return ncclSum;
    case ReduceOp::Max: return ncclMax;
    case ReduceOp::Min: return ncclMin;
  }
  return ncclSum;
}

char* at(void* p, int64_t elems, DType t) { return static_cast<char*>(p) + elems * int64_t(dtype_size(t)); }
size_t count(const Tensor& t) { return static_cast<size_t>(t.numel()); }

class NcclCommunicator final : public Communicator {
 public:
  // Joins over `mpi` (join_nccl: no rank enters the init alone, a failure anywhere ends it everywhere).
  NcclCommunicator(std::shared_ptr<Communicator> mpi, CudaBackend& be) : mpi_(std::move(mpi)), be_(be) {
    rank_ = mpi_->rank();
    size_ = mpi_->size();
    CudaJoin join(be_.device_index());
    join_nccl(*mpi_, join, comm_timeout());
    comm_ = join.release();
    watch(comm_, true);
    nccl_rt::install_device_waiter();
  }

  // Unchecked: a destructor cannot throw. Requests must not outlive their communicator (as with MPI).
  ~NcclCommunicator() override {
    if (!comm_) return;
    watch(comm_, false);
    cudaSetDevice(be_.device_index());
    pending_.clear();
    cudaStreamSynchronize(stream());
    nccl().destroy(comm_);
    cudaGetLastError();
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend_name() const override { return "nccl"; }

  std::unique_ptr<Communicator> split(int color, int key) override {
    issue_pending();
    std::shared_ptr<Communicator> sub = mpi_->split(color, key);
    if (!sub) return nullptr;
    return std::make_unique<NcclCommunicator>(std::move(sub), be_);
  }

  using Communicator::all_reduce;
  void all_reduce(const Tensor& send, Tensor recv, ReduceOp op) override {
    require(send, "all_reduce");
    require(recv, "all_reduce");
    same_dtype(send, recv, "all_reduce");
    AD_CHECK(send.numel() == recv.numel(), "all_reduce: send has {} elements, recv {}; they must match",
             send.numel(), recv.numel());
    issue_pending();
    check(nccl().all_reduce(send.data, recv.data, count(recv), nccl_type(recv.dtype), nccl_op(op), comm(), stream()),
          "ncclAllReduce");
  }

  void all_gather(const Tensor& send, Tensor recv) override {
    require(send, "all_gather");
    require(recv, "all_gather");
    same_dtype(send, recv, "all_gather");
    AD_CHECK(recv.numel() == send.numel() * size_, "all_gather: recv has {} elements, expected {} ranks x {} = {}",
             recv.numel(), size_, send.numel(), send.numel() * size_);
    issue_pending();
    check(nccl().all_gather(send.data, recv.data, count(send), nccl_type(send.dtype), comm(), stream()), "ncclAllGather");
  }

  void reduce_scatter(const Tensor& send, Tensor recv, ReduceOp op) override {
    require(send, "reduce_scatter");
    require(recv, "reduce_scatter");
    same_dtype(send, recv, "reduce_scatter");
    AD_CHECK(send.numel() == recv.numel() * size_, "reduce_scatter: send has {} elements, expected {} ranks x {} = {}",
             send.numel(), size_, recv.numel(), recv.numel() * size_);
    issue_pending();
    check(nccl().reduce_scatter(send.data, recv.data, count(recv), nccl_type(send.dtype), nccl_op(op), comm(), stream()),
          "ncclReduceScatter");
  }

  void broadcast(Tensor buf, int root) override {
    require(buf, "broadcast");
    root_ok(root, "broadcast");
    issue_pending();
    check(nccl().broadcast(buf.data, buf.data, count(buf), nccl_type(buf.dtype), root, comm(), stream()), "ncclBroadcast");
  }

  void reduce(const Tensor& send, Tensor recv, ReduceOp op, int root) override {
    require(send, "reduce");
    root_ok(root, "reduce");
    const bool is_root = rank_ == root;
    if (is_root) {
      require(recv, "reduce");
      same_dtype(send, recv, "reduce");
      AD_CHECK(recv.numel() == send.numel(), "reduce: recv has {} elements on the root, send has {}", recv.numel(),
               send.numel());
    }
    issue_pending();
    check(nccl().reduce(send.data, is_root ? recv.data : nullptr, count(send), nccl_type(send.dtype), nccl_op(op), root,
                     comm(), stream()),
          "ncclReduce");
  }

  void gather(const Tensor& send, Tensor recv, int root) override {
    require(send, "gather");
    root_ok(root, "gather");
    const bool is_root = rank_ == root;
    const int64_t n = send.numel();
    if (is_root) {
      require(recv, "gather");
      same_dtype(send, recv, "gather");
      AD_CHECK(recv.numel() == n * size_, "gather: recv has {} elements on the root, expected {} ranks x {}",
               recv.numel(), size_, n);
    }
    issue_pending();
    const ncclDataType_t t = nccl_type(send.dtype);
    ncclComm_t c = comm();
    if (is_root) copy_own_block(at(recv.data, n * rank_, recv.dtype), send.data, send.nbytes());
    group("ncclSend/ncclRecv (gather)", [&](ncclResult_t& first) {
      if (is_root) {
        for (int r = 0; r < size_; ++r)
          if (r != rank_) note(first, nccl().recv(at(recv.data, n * r, recv.dtype), count(send), t, r, c, stream()));
      } else {
        note(first, nccl().send(send.data, count(send), t, root, c, stream()));
      }
    });
  }

  void scatter(const Tensor& send, Tensor recv, int root) override {
    require(recv, "scatter");
    root_ok(root, "scatter");
    const bool is_root = rank_ == root;
    const int64_t n = recv.numel();
    if (is_root) {
      require(send, "scatter");
      same_dtype(send, recv, "scatter");
      AD_CHECK(send.numel() == n * size_, "scatter: send has {} elements on the root, expected {} ranks x {}",
               send.numel(), size_, n);
    }
    issue_pending();
    const ncclDataType_t t = nccl_type(recv.dtype);
    ncclComm_t c = comm();
    if (is_root) copy_own_block(recv.data, at(send.data, n * rank_, send.dtype), recv.nbytes());
    group("ncclSend/ncclRecv (scatter)", [&](ncclResult_t& first) {
      if (is_root) {
        for (int r = 0; r < size_; ++r)
          if (r != rank_) note(first, nccl().send(at(send.data, n * r, send.dtype), count(recv), t, r, c, stream()));
      } else {
        note(first, nccl().recv(recv.data, count(recv), t, root, c, stream()));
      }
    });
  }

  void send(const Tensor& buf, int peer, int /*tag*/) override {
    require(buf, "send");
    peer_ok(peer, "send");
    issue_pending();
    check(nccl().send(buf.data, count(buf), nccl_type(buf.dtype), peer, comm(), stream()), "ncclSend");
  }

  void recv(Tensor buf, int peer, int /*tag*/) override {
    require(buf, "recv");
    peer_ok(peer, "recv");
    issue_pending();
    check(nccl().recv(buf.data, count(buf), nccl_type(buf.dtype), peer, comm(), stream()), "ncclRecv");
  }

  void sendrecv(const Tensor& send, int dst, Tensor recv, int src, int /*tag*/) override {
    require(send, "sendrecv");
    require(recv, "sendrecv");
    peer_ok(dst, "sendrecv");
    peer_ok(src, "sendrecv");
    issue_pending();
    ncclComm_t c = comm();
    group("ncclSend/ncclRecv (sendrecv)", [&](ncclResult_t& first) {
      note(first, nccl().send(send.data, count(send), nccl_type(send.dtype), dst, c, stream()));
      note(first, nccl().recv(recv.data, count(recv), nccl_type(recv.dtype), src, c, stream()));
    });
  }

  std::unique_ptr<CommRequest> isend(const Tensor& buf, int peer, int /*tag*/) override;
  std::unique_ptr<CommRequest> irecv(Tensor buf, int peer, int /*tag*/) override;

  void flush() override { issue_pending(); }

  void barrier() override {
    issue_pending();
    wait_stream("barrier");
    mpi_->barrier();
  }

  bool all_gather_idle(const Tensor& send, Tensor recv, double timeout_s) override {
    return mpi_->all_gather_idle(send, recv, timeout_s);
  }

  // Makes the device current and issues the collected isend/irecv in one group (NcclRequest::wait).
  void issue_pending() {
    cuda_ok(cudaSetDevice(be_.device_index()), "cudaSetDevice");
    if (pending_.empty()) return;
    std::vector<P2P> ops;
    ops.swap(pending_);
    ncclComm_t c = comm();
    group("ncclSend/ncclRecv (isend/irecv)", [&](ncclResult_t& first) {
      for (const auto& p : ops)
        note(first, p.send ? nccl().send(p.buf, p.count, p.type, p.peer, c, stream())
                           : nccl().recv(p.buf, p.count, p.type, p.peer, c, stream()));
    });
  }

 private:
  struct P2P {
    bool send;
    void* buf;
    size_t count;
    ncclDataType_t type;
    int peer;
  };

  cudaStream_t stream() const { return be_.stream(); }

  ncclComm_t comm() const {
    AD_CHECK(comm_, "nccl communicator (rank {} of {}): aborted after an earlier error; no further calls", rank_,
             size_);
    return comm_;
  }

  // A failed call aborts the communicator, so that the peers blocked in it fail instead of hanging. The
  // communicator is non-blocking (CudaJoin): a call may return ncclInProgress, and then is complete once
  // ncclCommGetAsyncError stops saying so (bounded by --comm-timeout).
  void check(ncclResult_t r, const char* call) {
    const int64_t t0 = now_ns();
    while (r == ncclInProgress && comm_) {
      if ((now_ns() - t0) * 1e-9 > comm_timeout()) break;
      std::this_thread::yield();
      ncclResult_t state = ncclInProgress;
      const ncclResult_t q = nccl().get_async_error(comm_, &state);
      r = q != ncclSuccess ? q : state;
    }
    if (r == ncclSuccess) return;
    const std::string what = r == ncclInProgress
                                 ? fmt::format("still in progress after {} s (--comm-timeout)", comm_timeout())
                                 : describe(r, comm_);
    if (comm_) {
      watch(comm_, false);
      nccl().abort(comm_);
    }
    comm_ = nullptr;
    pending_.clear();
    AD_FAIL("{} failed on rank {} of {} (nccl): {}; the NCCL communicator is aborted", call, rank_, size_, what);
  }

  static void note(ncclResult_t& first, ncclResult_t r) {
    if (first == ncclSuccess && r != ncclInProgress) first = r;
  }

  // fn(first) issues calls and notes the first failure; the group is always closed, then the result checked.
  template <class F>
  void group(const char* call, F&& fn) {
    check(nccl().group_start(), "ncclGroupStart");
    ncclResult_t first = ncclSuccess;
    try {
      fn(first);
    } catch (...) {
      nccl().group_end();
      throw;
    }
    const ncclResult_t end = nccl().group_end();
    check(first != ncclSuccess ? first : end, call);
  }

  void copy_own_block(void* dst, const void* src, size_t bytes) {
    if (dst != src && bytes)
      cuda_ok(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream()), "cudaMemcpyAsync (own block)");
  }

  // Waits for the stream while watching for asynchronous NCCL errors (a peer that failed), which abort.
  void wait_stream(const char* call) {
    ncclComm_t c = comm();
    for (;;) {
      const cudaError_t e = cudaStreamQuery(stream());
      if (e == cudaSuccess) return;
      if (e != cudaErrorNotReady) cuda_ok(e, call);
      ncclResult_t async = ncclSuccess;
      check(nccl().get_async_error(c, &async), "ncclCommGetAsyncError");
      check(async, call);
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  }

  void require(const Tensor& t, const char* call) const {
    AD_CHECK(t.device == Device::CUDA,
             "nccl communicator {}: got a host tensor; nccl moves device (Device::CUDA) tensors, use --comm mpi for "
             "host data",
             call);
  }
  void same_dtype(const Tensor& a, const Tensor& b, const char* call) const {
    AD_CHECK(a.dtype == b.dtype, "nccl communicator {}: send is {} but recv is {}; they must match", call,
             dtype_name(a.dtype), dtype_name(b.dtype));
  }
  void peer_ok(int peer, const char* call) const {
    AD_CHECK(peer >= 0 && peer < size_, "{}: peer {} is outside [0, {})", call, peer, size_);
  }
  void root_ok(int root, const char* call) const {
    AD_CHECK(root >= 0 && root < size_, "{}: root {} is outside [0, {})", call, root, size_);
  }

  std::shared_ptr<Communicator> mpi_;
  CudaBackend& be_;
  ncclComm_t comm_ = nullptr;
  int rank_ = 0, size_ = 1;
  std::vector<P2P> pending_;  // isend/irecv not yet issued
};

class NcclRequest final : public CommRequest {
 public:
  explicit NcclRequest(NcclCommunicator* comm) : comm_(comm) {}
  ~NcclRequest() override {
    if (done_) return;
    try {
      wait();
    } catch (const Error& e) {
      log::error("{}", e.what());  // a destructor must not throw
    }
  }
  // Issues the pending transfers (this one and any posted with it); the backend's stream is ordered after them.
  void wait() override {
    if (done_) return;
    done_ = true;
    comm_->issue_pending();
  }
  // Stream-ordered: once issued, later work on the stream sees the transfer.
  bool test() override {
    wait();
    return true;
  }
  void abandon() noexcept override { done_ = true; }

 private:
  NcclCommunicator* comm_;
  bool done_ = false;
};

std::unique_ptr<CommRequest> NcclCommunicator::isend(const Tensor& buf, int peer, int) {
  require(buf, "isend");
  peer_ok(peer, "isend");
  comm();  // refuses after an abort
  pending_.push_back({true, buf.data, count(buf), nccl_type(buf.dtype), peer});
  return std::make_unique<NcclRequest>(this);
}

std::unique_ptr<CommRequest> NcclCommunicator::irecv(Tensor buf, int peer, int) {
  require(buf, "irecv");
  peer_ok(peer, "irecv");
  comm();
  pending_.push_back({false, buf.data, count(buf), nccl_type(buf.dtype), peer});
  return std::make_unique<NcclRequest>(this);
}

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(std::shared_ptr<Communicator> mpi, Backend& backend) {
  AD_CHECK(mpi != nullptr, "make_nccl_communicator: no MPI communicator given");
  auto* cuda = dynamic_cast<CudaBackend*>(&backend);
  AD_CHECK(cuda, "make_nccl_communicator: the backend is '{}'; nccl needs the cuda backend (--device cuda)",
           backend.name());
  return std::make_unique<NcclCommunicator>(std::move(mpi), *cuda);
}

bool nccl_loadable(std::string* why) {
  try {
    nccl();
    return true;
  } catch (const Error& e) {
    if (why) *why = e.what();
    return false;
  }
}

#else

bool nccl_loadable(std::string* why) {
  if (why) *why = "this build has no NCCL (a CUDA build finds nccl.h next to the toolkit)";
  return false;
}

std::unique_ptr<Communicator> make_nccl_communicator(std::shared_ptr<Communicator>, Backend&) {
  AD_FAIL(
      "the nccl communicator needs a CUDA build with NCCL (cmake -DAUTODIST_CUDA=ON, libnccl installed); use "
      "--comm mpi");
}

#endif

}  // namespace autodist::dist
