// defines: cuda_ok, describe, CudaJoin (the real steps of join_nccl), watch + install_device_waiter (the live NCCL
//          communicators a backend's device waits watch), for the nccl communicator only (includes nccl.h)
#pragma once
#ifdef AUTODIST_HAVE_NCCL
#include <cuda_runtime.h>
#include <nccl.h>

#include <string>

#include "dist/nccl_join.h"

namespace autodist::dist::nccl_rt {

// Throws "nccl communicator: CALL failed: ..." unless e is cudaSuccess.
void cuda_ok(cudaError_t e, const char* call);
// "ncclSystemError: <NCCL's last message>" for a failed call or init.
std::string describe(ncclResult_t r, ncclComm_t comm);

// cudaSetDevice, ncclGetUniqueId, a non-blocking ncclCommInitRankConfig polled with ncclCommGetAsyncError. The
// communicator is aborted unless release() takes it.
class CudaJoin final : public NcclJoin {
 public:
  explicit CudaJoin(int device) : device_(device) {}
  ~CudaJoin() override { abort(); }
  ncclComm_t release();
  void unique_id(char* id) override;
  void prepare() override;
  void start(const char* id, int nranks, int rank) override;
  State poll(std::string& why) override;
  void abort() noexcept override;

 private:
  int device_;
  ncclComm_t comm_ = nullptr;
};

// Adds (on) or removes a live communicator, which the device waiter checks for asynchronous errors.
void watch(ncclComm_t c, bool on);
// Once per process: every wait of a backend for its device polls its work and the live communicators, paced and
// bounded by --comm-timeout as a wait on a peer is (comm_wait.h, core/device_wait.h).
void install_device_waiter();

}  // namespace autodist::dist::nccl_rt
#endif
