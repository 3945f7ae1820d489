// The cuda backend's sample(): logits [R, V] to pinned memory, the reference sampler (backend/sampling.h) in a host
// function on the stream, the tokens back to the device and into slot_tokens. The same tokens as the cpu backend for
// the same logits; graph-capturable (a host node). Costs a copy of R*V floats each way of the PCIe bus per sampled
// step: a device kernel is the next step (issue 15).
#include <cuda_runtime.h>

#include <cstring>

#include "backend/cuda/cuda_args.h"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_kernels.h"
#include "backend/cuda/cuda_sample.h"
#include "core/error.h"

namespace autodist {

namespace {

void CUDART_CB run_job(void* p) { static_cast<CudaBackend::SampleJob*>(p)->run(); }

template <typename T>
void reserve_pinned(T*& p, size_t& cap, size_t n) {
  if (cap >= n && p) return;
  if (p) AD_CUDA_CHECK(cudaFreeHost(p));
  p = nullptr;
  cap = 0;
  AD_CUDA_CHECK(cudaMallocHost(reinterpret_cast<void**>(&p), std::max<size_t>(n, 1) * sizeof(T)));
  cap = n;
}

}  // namespace

CudaBackend::SampleJob::~SampleJob() {
  if (logits) cudaFreeHost(logits);
  if (banned) cudaFreeHost(banned);
  if (tokens) cudaFreeHost(tokens);
  if (done) cudaEventDestroy(done);
}

void CudaBackend::SampleJob::run() noexcept {
  try {
    for (int64_t r = 0; r < R; ++r) {
      const double u = sample_uniform(opt.seed, position[r]);
      tokens[r] = sampler.sample(logits + r * V, V, opt, u, banned, ban[r] ? n_banned : 0);
    }
  } catch (const std::exception& e) {
    std::lock_guard<std::mutex> lk(mu);
    error = e.what();
    for (int64_t r = 0; r < R; ++r) tokens[r] = 0;
  }
}

void CudaBackend::check_sample_errors() {
  for (auto& j : jobs_) {
    std::lock_guard<std::mutex> lk(j->mu);
    if (j->error.empty()) continue;
    std::string e = std::move(j->error);
    j->error.clear();
    AD_FAIL("cuda sample: {}", e);
  }
}

void CudaBackend::sample(Tensor logits, const Tensor& banned, const SamplingOptions& o, Tensor tokens,
                         Tensor slot_tokens) {
  enter();
  cuda::check_f32(logits, "sample logits");
  cuda::check_i32(banned, "sample banned");
  cuda::check_i32(tokens, "sample tokens");
  cuda::check_i32(slot_tokens, "sample slot_tokens");
  const StepPlan& p = plan();
  const int64_t R = p.outputs(), V = R ? logits.numel() / R : 0;
  AD_CHECK(tokens.numel() == R && logits.numel() == R * V, "sample: logits {} and tokens {} for {} output rows",
           logits.shape.str(), tokens.shape.str(), R);
  if (R == 0) return;
  int64_t slots = 0, positions = 0;
  plan_extent(slots, positions);
  AD_CHECK(slots <= slot_tokens.numel(), "sample: slots up to {} outside slot_tokens {}", slots,
           slot_tokens.shape.str());
  check_sample_errors();
  if (jobs_.empty())
    for (int i = 0; i < kSampleJobs; ++i) {
      jobs_.push_back(std::make_unique<SampleJob>());
      AD_CUDA_CHECK(cudaEventCreateWithFlags(&jobs_.back()->done, cudaEventDisableTiming));
    }
  SampleJob& j = *jobs_[next_job_++ % jobs_.size()];
  if (j.pending) {  // its host function and copies are done once its event is
    cuda::wait_event(j.done, "cudaEventSynchronize(j.done)");
    j.pending = false;
  }
  reserve_pinned(j.logits, j.logits_cap, static_cast<size_t>(R * V));
  reserve_pinned(j.banned, j.banned_cap, static_cast<size_t>(banned.numel()));
  reserve_pinned(j.tokens, j.tokens_cap, static_cast<size_t>(R));
  j.sampler.reserve(V);
  // A snapshot of what the host function needs: the host plan may change before it runs.
  j.opt = o;
  j.R = R;
  j.V = V;
  j.n_banned = banned.numel();
  j.position.resize(static_cast<size_t>(R));
  j.ban.resize(static_cast<size_t>(R));
  for (int64_t r = 0; r < R; ++r) {
    j.position[r] = int64_t{p.pos[p.out_rows[r]]} + 1;
    j.ban[r] = p.out_ban[r];
  }
  AD_CUDA_CHECK(cudaMemcpyAsync(j.logits, logits.data, static_cast<size_t>(R * V) * sizeof(float),
                                cudaMemcpyDeviceToHost, stream_));
  if (j.n_banned)
    AD_CUDA_CHECK(cudaMemcpyAsync(j.banned, banned.data, static_cast<size_t>(j.n_banned) * sizeof(int32_t),
                                  cudaMemcpyDeviceToHost, stream_));
  AD_CUDA_CHECK(cudaLaunchHostFunc(stream_, run_job, &j));
  AD_CUDA_CHECK(cudaMemcpyAsync(tokens.data, j.tokens, static_cast<size_t>(R) * sizeof(int32_t),
                                cudaMemcpyHostToDevice, stream_));
  cuda::launch_scatter_slots(tokens.ptr<int32_t>(), R, d_out_, d_slot_, slot_tokens.ptr<int32_t>(), stream_);
  AD_CUDA_CHECK(cudaEventRecord(j.done, stream_));
  j.pending = true;
}

}  // namespace autodist
