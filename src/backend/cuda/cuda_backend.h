// defines: CudaBackend (the Backend on one NVIDIA GPU: cuBLAS for gemm, own kernels for the rest)
//
// Same contract as the cpu backend, method by method (backend.h): activations f32 in device memory; gemm weights
// and the embedding table f32, bf16 or f16, widened to f32 exactly; every product and sum f32 (no TF32).
// All work goes to one stream of the backend in call order. to_device, to_host and argmax wait for it (their host
// side must be complete on return); the kernel calls do not: their host inputs (positions, ids, segments) are
// copied into pinned staging and uploaded to reused device buffers, stream-ordered. No allocation per call once the
// scratch buffers have grown to the largest call.
// No CUDA header here (handles are forward-declared), so code outside backend/cuda may include it. Built only with
// AUTODIST_CUDA; make_cuda_backend() and cuda_device_count() in backend.h work in every build.
#pragma once
#include <cstddef>
#include <cstdint>
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
  void to_device(Tensor dst, const void* host_src) override;
  void to_host(void* host_dst, const Tensor& src) override;
  void copy(Tensor dst, const Tensor& src) override;
  void fill_zero(Tensor t) override;
  void synchronize() override;

  void gemm(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor y) override;
  void rmsnorm(const Tensor& x, const Tensor& w, float eps, Tensor y) override;
  void rope(Tensor x, const int32_t* pos, const RopeTable& rt) override;
  void silu_mul(const Tensor& gu, Tensor out) override;
  void split_qkv(const Tensor& qkv, Tensor q, Tensor k, Tensor v) override;
  void add(Tensor y, const Tensor& x) override;
  void embed(const Tensor& table, const int32_t* ids, int64_t vocab_start, Tensor out) override;
  void kv_append(const Tensor& k, const Tensor& v, Tensor kcache, Tensor vcache,
                 const std::vector<AttnSegment>& segs) override;
  void attention(const Tensor& q, const Tensor& kcache, const Tensor& vcache, const std::vector<AttnSegment>& segs,
                 float scale, int64_t window, Tensor out) override;
  void argmax(const Tensor& x, int64_t valid, float* max_out, int32_t* idx_out) override;

  int device_index() const { return device_; }
  // The stream every call of this backend runs on (cudaStream_t), for stream-ordered communication.
  CUstream_st* stream() const { return stream_; }

 private:
  struct Scratch {  // device memory that only grows
    void* p = nullptr;
    size_t bytes = 0;
  };
  struct Staging {  // pinned host memory for one upload; `done` marks the end of the copy that reads it
    void* host = nullptr;
    size_t bytes = 0;
    CUevent_st* done = nullptr;
    bool pending = false;
  };
  struct RopeEntry {  // a RopeTable already on the device
    std::vector<double> inv_freq;
    double* dev = nullptr;
  };
  static constexpr int kStagingSlots = 32;
  static constexpr size_t kMaxRopeTables = 16;

  void release() noexcept;               // frees everything this backend holds (destructor, failed constructor)
  void enter() const;                    // makes device_ current on the calling thread
  void* grow(Scratch& s, size_t bytes);  // at least `bytes` of device scratch (waits for the stream to regrow)
  const void* upload(const void* host, size_t bytes, Scratch& dst);  // host -> staging -> dst on the stream
  const double* rope_table(const RopeTable& rt);

  int device_ = 0;
  CUstream_st* stream_ = nullptr;
  cublasContext* blas_ = nullptr;
  Scratch widened_, pos_, ids_, segs_, rows_, argmax_, bounce_;
  std::vector<Staging> staging_;
  size_t next_slot_ = 0;
  std::vector<RopeEntry> ropes_;
  std::vector<int32_t> rows_host_;  // attention's per-row table {row, pos, slot, 0}, reused
};

}  // namespace autodist
