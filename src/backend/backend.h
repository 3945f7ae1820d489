// defines: Buffer (owned memory), AttnSegment, Backend (the kernel interface), make_backend
//
// Kernels take Tensor views. Shapes in comments: T = tokens in the step, D = hidden, H = heads,
// Hk = kv heads, hd = head dim, V = vocab rows held locally.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace autodist {

class Backend;

// Memory owned through a backend's allocator (host for cpu, device for cuda).
class Buffer {
 public:
  Buffer() = default;
  Buffer(Backend* be, DType t, Shape s);
  ~Buffer();
  Buffer(Buffer&& o) noexcept { *this = std::move(o); }
  Buffer& operator=(Buffer&& o) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  const Tensor& t() const { return view_; }
  bool empty() const { return view_.data == nullptr; }

 private:
  Backend* be_ = nullptr;
  Tensor view_;
};

// One sequence's slice of the rows of a step: rows [row, row+len) are positions
// [start_pos, start_pos+len) of the sequence in KV-cache slot `slot`.
struct AttnSegment {
  int32_t slot = 0;
  int32_t start_pos = 0;
  int32_t len = 0;
  int32_t row = 0;
};

// Rotary tables: inverse frequencies per pair and the attention factor (yarn) that scales cos/sin.
struct RopeTable {
  std::vector<double> inv_freq;  // [hd/2]
  double attention_factor = 1.0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;
  virtual std::string name() const = 0;
  virtual void* alloc(size_t bytes) = 0;
  virtual void free(void* p) = 0;
  // Host <-> backend memory (same-sized views).
  virtual void to_device(Tensor dst, const void* host_src) = 0;
  virtual void to_host(void* host_dst, const Tensor& src) = 0;
  virtual void copy(Tensor dst, const Tensor& src) = 0;
  virtual void fill_zero(Tensor t) = 0;
  virtual void synchronize() {}

  // y[M,N] = x[M,K] . w[N,K]^T (+ bias[N]). x, y, bias: f32. w: f32, or bf16 / f16 to hold weights in half the
  // memory (cpu: widened to f32 on the fly, exactly; every product and sum is f32).
  virtual void gemm(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor y) = 0;
  // y[M,C] = x[M,C] / rms(x) * w[C]  (rows of any count; also per-head q/k norm with C = hd)
  virtual void rmsnorm(const Tensor& x, const Tensor& w, float eps, Tensor y) = 0;
  // x[T, H, hd] rotated in place (HF rotate_half layout) at positions pos[T] (i32, host)
  virtual void rope(Tensor x, const int32_t* pos, const RopeTable& rt) = 0;
  // out[M,I] = silu(gu[M, 0:I]) * gu[M, I:2I]
  virtual void silu_mul(const Tensor& gu, Tensor out) = 0;
  // qkv[T, (H + 2 Hk) hd] -> q[T, H, hd], k[T, Hk, hd], v[T, Hk, hd]
  virtual void split_qkv(const Tensor& qkv, Tensor q, Tensor k, Tensor v) = 0;
  // y += x
  virtual void add(Tensor y, const Tensor& x) = 0;
  // out[T,D] = table[ids[t] - vocab_start] for ids in [vocab_start, vocab_start+V), else 0. out: f32. table[V,D]:
  // f32, bf16 or f16 (rows widened to f32 exactly).
  virtual void embed(const Tensor& table, const int32_t* ids, int64_t vocab_start, Tensor out) = 0;
  // Writes k,v [T, Hk, hd] into cache [slots, S, Hk, hd] at each segment's positions.
  virtual void kv_append(const Tensor& k, const Tensor& v, Tensor kcache, Tensor vcache,
                         const std::vector<AttnSegment>& segs) = 0;
  // out[T, H, hd]: causal attention of q[T, H, hd] over the cache (positions <= own, and
  // > own - window when window > 0), GQA group = H / Hk.
  virtual void attention(const Tensor& q, const Tensor& kcache, const Tensor& vcache,
                         const std::vector<AttnSegment>& segs, float scale, int64_t window, Tensor out) = 0;
  // Per row: (max value, index) of x[M, V] over the first `valid` columns.
  virtual void argmax(const Tensor& x, int64_t valid, float* max_out, int32_t* idx_out) = 0;
};

// M, N, K of y[M,N] = x[M,K] . w[N,K]^T (+ bias[N]), checked: the shape contract every backend's gemm shares
// (dtypes and devices are each backend's to check).
struct GemmDims {
  int64_t M = 0, N = 0, K = 0;
};
GemmDims gemm_dims(const Tensor& x, const Tensor& w, const Tensor* bias, const Tensor& y);

std::unique_ptr<Backend> make_cpu_backend();
// The CUDA backend on `device` (backend/cuda/cuda_backend.h). Throws autodist::Error when the build has no CUDA
// or the device does not exist.
std::unique_ptr<Backend> make_cuda_backend(int device = 0);
// CUDA devices usable by this process: 0 when built without CUDA, without a driver or without a GPU. Never throws.
int cuda_device_count() noexcept;

}  // namespace autodist
