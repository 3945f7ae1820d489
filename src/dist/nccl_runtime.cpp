#ifdef AUTODIST_HAVE_NCCL
#include "dist/nccl_runtime.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <mutex>
#include <utility>
#include <vector>

#include "core/device_wait.h"
#include "core/error.h"
#include "dist/comm_wait.h"
#include "dist/nccl_lazy.h"

namespace autodist::dist::nccl_rt {

void cuda_ok(cudaError_t e, const char* call) {
  if (e == cudaSuccess) return;
  cudaGetLastError();
  AD_FAIL("nccl communicator: {} failed: {} ({})", call, cudaGetErrorString(e), cudaGetErrorName(e));
}

std::string describe(ncclResult_t r, ncclComm_t comm) {
  const std::string detail = nccl().last_error(comm);
  return std::string(nccl().error_string(r)) + (detail.empty() ? "" : ": " + detail);
}

ncclComm_t CudaJoin::release() { return std::exchange(comm_, nullptr); }

void CudaJoin::unique_id(char* id) {
  static_assert(sizeof(ncclUniqueId) == kIdBytes);
  ncclUniqueId u;
  const ncclResult_t r = nccl().get_unique_id(&u);
  AD_CHECK(r == ncclSuccess, "ncclGetUniqueId failed: {}", describe(r, nullptr));
  std::memcpy(id, u.internal, kIdBytes);
}

void CudaJoin::prepare() {
  nccl();  // loads libnccl (throws naming it)
  cuda_ok(cudaSetDevice(device_), "cudaSetDevice");
}

void CudaJoin::start(const char* id, int nranks, int rank) {
  ncclUniqueId u;
  std::memcpy(u.internal, id, kIdBytes);
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;  // returns at once; poll() watches it, so a peer that never joins cannot hold this rank
  const ncclResult_t r = nccl().init_rank_config(&comm_, nranks, u, rank, &config);
  AD_CHECK(r == ncclSuccess || r == ncclInProgress, "ncclCommInitRankConfig failed on GPU {}: {}", device_,
           describe(r, comm_));
}

NcclJoin::State CudaJoin::poll(std::string& why) {
  ncclResult_t state = ncclInProgress;
  const ncclResult_t r = nccl().get_async_error(comm_, &state);
  if (r != ncclSuccess) state = r;
  if (state == ncclInProgress) return State::Pending;
  if (state == ncclSuccess) return State::Ready;
  why = "ncclCommInitRankConfig on GPU " + std::to_string(device_) + ": " + describe(state, comm_);
  return State::Failed;
}

void CudaJoin::abort() noexcept {
  if (comm_) nccl().abort(comm_);
  comm_ = nullptr;
}

namespace {

// The live NCCL communicators of the process: a GPU waiting in a NCCL kernel for a peer that failed would otherwise
// wait for ever (the asynchronous error is reported only to whoever asks).
std::mutex g_live_mu;
std::vector<ncclComm_t> g_live;

// Throws naming the error when a live communicator reports one (ncclInProgress is none: an operation being enqueued
// on a non-blocking communicator).
void check_live() {
  std::lock_guard<std::mutex> lock(g_live_mu);
  for (ncclComm_t c : g_live) {
    ncclResult_t state = ncclSuccess;
    const ncclResult_t r = nccl().get_async_error(c, &state);
    const ncclResult_t bad = r != ncclSuccess ? r : state;
    if (bad != ncclSuccess && bad != ncclInProgress)
      AD_FAIL("nccl: a communicator reports {} while this rank waits for its GPU: a peer failed or the network broke",
              describe(bad, c));
  }
}

}  // namespace

void watch(ncclComm_t c, bool on) {
  std::lock_guard<std::mutex> lock(g_live_mu);
  if (on) g_live.push_back(c);
  else g_live.erase(std::remove(g_live.begin(), g_live.end(), c), g_live.end());
}

void install_device_waiter() {
  static std::once_flag once;
  std::call_once(once, [] {
    set_device_waiter([](const std::function<bool()>& done, const char* what) {
      wait_for_peer(
          [&] {
            if (done()) return true;
            check_live();
            return false;
          },
          [&] { return fmt::format("device work ({}) with nccl communicators live", what); });
    });
  });
}

}  // namespace autodist::dist::nccl_rt
#endif
