// defines: CudaBackend (the Backend on one NVIDIA GPU: cuBLAS for gemm, own kernels for the rest)
//
// Same contract as the cpu backend, method by method (backend.h): activations f32 in device memory; gemm weights
// and the embedding table f32, bf16 or f16, widened to f32 exactly; every product and sum f32 (no TF32).
// All work goes to one stream of the backend in call order. begin_step packs the plan (ids, positions, slots,
// output rows, ban flags) into pinned staging and uploads it with one copy into a device buffer sized by prepare();
// the kernels read it there. No call inside a step allocates or waits for the device, except sample() the first
// time it sees a larger batch (pinned staging grows) and timer_ns (a readback). to_device, to_host and copies
// touching host memory wait for their copy; to_host_async completes at wait_host().
// sample() copies the logits to pinned memory and runs the reference sampler (backend/sampling.h) in a host
// function on the stream (cudaLaunchHostFunc, graph-capturable), then copies the tokens back: exact cpu semantics,
// not yet a device kernel.
// Timers are events on the stream, converted to the host's steady clock through an epoch event recorded on an idle
// stream when the first mark after a reset is taken.
// No CUDA header here (handles are forward-declared), so code outside backend/cuda may include it. Built only with
// AUTODIST_CUDA; make_cuda_backend() and cuda_device_count() in backend.h work in every build.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backend/backend.h"

struct CUstream_st;
struct CUevent_st;
struct cublasContext;

namespace autodist {

class CudaBackend final : public Backend {
 public:
  // Makes `device` current, creates the stream and the cuBLAS handle. Throws if the device does not exist.
  explicit CudaBackend(int device);
  ~CudaBackend() override;
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  Device device() const override { return Device::CUDA; }
  std::string name() const override;
  void* alloc(size_t bytes) override;
  void free(void* p) override;
  void* alloc_host(size_t bytes) override;
  void free_host(void* p) override;
  void to_device(Tensor dst, const void* host_src) override;
  void to_host(void* host_dst, const Tensor& src) override;
  void to_host_async(void* host_dst, const Tensor& src) override;
  void wait_host() override;
  void synchronize() override;

  int64_t timer_mark() override;
  int64_t timer_ns(int64_t mark) override;
  void timer_reset() override;

  void copy(Tensor dst, const Tensor& src) override;
  void fill_zero(Tensor t) override;
  void gemm(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor y) override;
  void rmsnorm(const Tensor& x, const Tensor& w, float eps, Tensor y) override;
  void layernorm(const Tensor& x, const Tensor& w, const Tensor* b, float eps, Tensor y) override;
  void activation(const Tensor& x, Activation act, Tensor y) override;
  void add_bias(Tensor y, const Tensor& bias) override;
  void add_positions(Tensor x, const Tensor& table, int64_t offset) override;
  void rope(Tensor x, const Tensor& cos_sin) override;
  void silu_mul(const Tensor& gu, Tensor out) override;
  void split_qkv(const Tensor& qkv, Tensor q, Tensor k, Tensor v) override;
  void add(Tensor y, const Tensor& x) override;
  void embed(const Tensor& table, int64_t vocab_start, const Tensor& slot_tokens, Tensor out) override;
  void kv_append(const Tensor& k, const Tensor& v, Tensor kcache, Tensor vcache) override;
  void attention(const Tensor& q, const Tensor& kcache, const Tensor& vcache, float scale, int64_t window,
                 Tensor out) override;
  void gather_rows(const Tensor& x, Tensor out) override;
  void argmax(const Tensor& x, int64_t valid, int64_t vocab_start, Tensor pairs) override;
  void pick(const Tensor& pairs, Tensor tokens, Tensor slot_tokens) override;
  void gather_vocab(const Tensor& parts, Tensor out) override;
  void sample(Tensor logits, const Tensor& banned, const SamplingOptions& o, Tensor tokens,
              Tensor slot_tokens) override;

  int device_index() const { return device_; }
  int device_ordinal() const override { return device_; }
  std::string device_uuid() const override;
  // The stream every call of this backend runs on (cudaStream_t), for stream-ordered communication.
  CUstream_st* stream() const { return stream_; }
  struct SampleJob;  // cuda_sample.cpp

 protected:
  void on_prepare(const StepLimits& lim) override;
  void on_begin_step(const StepPlan& plan) override;

 private:
  struct Scratch {  // device memory that only grows
    void* p = nullptr;
    size_t bytes = 0;
  };
  struct Staging {  // pinned host memory for one plan upload; `done` marks the end of the copy that reads it
    void* host = nullptr;
    size_t bytes = 0;
    CUevent_st* done = nullptr;
    bool pending = false;
  };
  static constexpr int kStagingSlots = 4;
  static constexpr int kSampleJobs = 2;

  void release() noexcept;               // frees everything this backend holds (destructor, failed constructor)
  void enter() const;                    // makes device_ current on the calling thread
  void* grow(Scratch& s, size_t bytes);  // at least `bytes` of device scratch (waits for the stream to regrow)
  void check_sample_errors();            // rethrows what a sampling host function reported
  // The largest slot + 1 and position + 1 of the step's rows (found once in on_begin_step), for the bounds of the
  // caches and tables a kernel touches.
  void plan_extent(int64_t& slots, int64_t& positions) const;

  int device_ = 0;
  CUstream_st* stream_ = nullptr;
  cublasContext* blas_ = nullptr;
  Scratch widened_, bounce_, plan_dev_;
  std::vector<Staging> staging_;
  size_t next_slot_ = 0;
  // The current step's plan on the device: ids, pos, slot [T], out_rows, out_ban [R] (int32).
  const int32_t *d_ids_ = nullptr, *d_pos_ = nullptr, *d_slot_ = nullptr, *d_out_ = nullptr;
  int64_t plan_slots_ = 0, plan_positions_ = 0;
  CUevent_st* host_copy_ = nullptr;  // recorded after every to_host_async
  std::mutex marks_mu_;
  std::vector<CUevent_st*> marks_;
  size_t used_marks_ = 0;
  CUevent_st* epoch_ = nullptr;
  int64_t epoch_ns_ = -1;
  std::vector<std::unique_ptr<SampleJob>> jobs_;
  size_t next_job_ = 0;
};

}  // namespace autodist
