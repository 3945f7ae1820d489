// defines: Buffer (owned memory), HostBuffer (pinned host memory), Backend (the kernel interface), make_backend
//
// A step is: begin_step(plan) once, then kernels that read the plan's rows (ids, positions, slots, output rows)
// from where begin_step put them. No kernel takes a host pointer or a container, allocates, frees or waits for
// the device; prepare() sizes what the steps need beforehand. Shapes in comments: T = rows of the step, D = hidden,
// H = heads, Hk = kv heads, hd = head dim, V = vocab rows held locally, R = output rows of the plan, G = parts.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "backend/sampling.h"
#include "backend/step_plan.h"
#include "core/activation.h"
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
  // A view of host memory the buffer does not own (a tensor of a mapped shard-cache file), alive as long as `keep`
  // is; the memory is read-only (kernels only read weights).
  static Buffer borrowed(const Tensor& view, std::shared_ptr<const void> keep);

 private:
  Backend* be_ = nullptr;
  Tensor view_;
  std::shared_ptr<const void> keep_;
};

// Host memory the backend copies into without waiting (pinned on cuda): the target of to_host_async.
class HostBuffer {
 public:
  HostBuffer() = default;
  HostBuffer(Backend* be, size_t bytes);
  ~HostBuffer();
  HostBuffer(HostBuffer&& o) noexcept { *this = std::move(o); }
  HostBuffer& operator=(HostBuffer&& o) noexcept;
  HostBuffer(const HostBuffer&) = delete;
  HostBuffer& operator=(const HostBuffer&) = delete;
  template <typename T>
  T* as() const { return static_cast<T*>(p_); }
  size_t bytes() const { return bytes_; }

 private:
  Backend* be_ = nullptr;
  void* p_ = nullptr;
  size_t bytes_ = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;
  virtual std::string name() const = 0;
  // The GPU this backend runs on: its ordinal in this process and its UUID ("GPU-" and 32 hex digits, as
  // nvidia-smi -L prints it), which tells two ranks on one GPU apart from two GPUs; -1 and "" on the cpu.
  virtual int device_ordinal() const { return -1; }
  virtual std::string device_uuid() const { return ""; }

  // ---- memory (setup and readback; not inside a step unless noted) ----
  virtual void* alloc(size_t bytes) = 0;
  virtual void free(void* p) = 0;
  virtual void* alloc_host(size_t bytes) = 0;  // pinned on cuda
  virtual void free_host(void* p) = 0;
  // Host <-> backend memory (same-sized views); both wait until the copy is done.
  virtual void to_device(Tensor dst, const void* host_src) = 0;
  virtual void to_host(void* host_dst, const Tensor& src) = 0;
  // Inside a step: copies src into host memory from alloc_host in stream order; complete after wait_host().
  virtual void to_host_async(void* host_dst, const Tensor& src) = 0;
  // Waits for every to_host_async issued so far (and the work before it).
  virtual void wait_host() = 0;
  virtual void synchronize() {}

  // ---- steps ----
  // Sizes every per-step buffer of the backend (plan upload, sampling scratch) for plans within `lim`. Outside a
  // step; again whenever the limits grow.
  void prepare(const StepLimits& lim);
  // Checks the plan against the prepared limits (check_plan) and hands it to the backend: one upload on cuda,
  // nothing on the cpu. The plan must stay unchanged until the next begin_step.
  void begin_step(const StepPlan& plan);
  const StepLimits& limits() const { return limits_; }
  const StepPlan& plan() const;

  // ---- timers: marks in the order of the work, read after synchronize() ----
  // A mark at this point of the backend's work (cpu: the steady clock now; cuda: an event on the stream).
  virtual int64_t timer_mark() = 0;
  // Steady-clock ns (the host's now_ns() timeline) at which the work reached `mark`. Waits for it.
  virtual int64_t timer_ns(int64_t mark) = 0;
  // Forgets every mark (between runs).
  virtual void timer_reset() = 0;

  // ---- kernels ----
  virtual void copy(Tensor dst, const Tensor& src) = 0;
  virtual void fill_zero(Tensor t) = 0;
  // y[M,N] = x[M,K] . w[N,K]^T (+ bias[N]). x, y, bias: f32. w: f32, or bf16 / f16 to hold weights in half the
  // memory (cpu: widened to f32 on the fly, exactly; every product and sum is f32).
  virtual void gemm(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor y) = 0;
  // y[M,C] = x[M,C] / rms(x) * w[C]  (rows of any count; also per-head q/k norm with C = hd)
  virtual void rmsnorm(const Tensor& x, const Tensor& w, float eps, Tensor y) = 0;
  // y[M,C] = (x - mean) / sqrt(var + eps) * w[C] + b[C] per row (var over C, biased; b may be null: no bias)
  virtual void layernorm(const Tensor& x, const Tensor& w, const Tensor* b, float eps, Tensor y) = 0;
  // y = act(x) elementwise (y may be x): silu, gelu_new (tanh form, as HF), exact gelu (erf), relu.
  virtual void activation(const Tensor& x, Activation act, Tensor y) = 0;
  // y[M,N] += bias[N] on every row (the bias of a row-parallel linear, after its all_reduce).
  virtual void add_bias(Tensor y, const Tensor& bias) = 0;
  // x[T,D] += table[pos_t + offset] for the plan's position of each row (learned absolute positions); table
  // [P, D] f32, bf16 or f16 (widened exactly).
  virtual void add_positions(Tensor x, const Tensor& table, int64_t offset) = 0;
  // x[T, H, hd] rotated in place (HF rotate_half layout) at the plan's positions; cos_sin[P, hd] holds
  // cos(p f_i) * a in columns [0, hd/2) and sin(p f_i) * a in [hd/2, hd) for positions p < P.
  virtual void rope(Tensor x, const Tensor& cos_sin) = 0;
  // out[M,I] = silu(gu[M, 0:I]) * gu[M, I:2I]
  virtual void silu_mul(const Tensor& gu, Tensor out) = 0;
  // qkv[T, (H + 2 Hk) hd] -> q[T, H, hd], k[T, Hk, hd], v[T, Hk, hd]
  virtual void split_qkv(const Tensor& qkv, Tensor q, Tensor k, Tensor v) = 0;
  // y += x
  virtual void add(Tensor y, const Tensor& x) = 0;
  // out[T,D] = table[id_t - vocab_start] for ids in [vocab_start, vocab_start+V), else 0, where id_t is the plan's
  // id of row t, or slot_tokens[slot of row t] for kTokenFromDevice. out: f32; table[V,D]: f32, bf16 or f16 (rows
  // widened exactly); slot_tokens: i32 [slots].
  virtual void embed(const Tensor& table, int64_t vocab_start, const Tensor& slot_tokens, Tensor out) = 0;
  // Writes k,v [T, Hk, hd] into cache [slots, S, Hk, hd] at each row's (slot, position).
  virtual void kv_append(const Tensor& k, const Tensor& v, Tensor kcache, Tensor vcache) = 0;
  // out[T, H, hd]: causal attention of q[T, H, hd] over the cache of each row's slot (positions <= own, and
  // > own - window when window > 0), GQA group = H / Hk.
  virtual void attention(const Tensor& q, const Tensor& kcache, const Tensor& vcache, float scale, int64_t window,
                         Tensor out) = 0;
  // out[R, D] = the plan's output rows of x[T, D].
  virtual void gather_rows(const Tensor& x, Tensor out) = 0;
  // pairs[R, 2] (f32) = (max, vocab_start + index of its first occurrence) of each row of x[R, V] over the first
  // `valid` columns; (-inf, vocab_start) when valid is 0, (NaN, ..) when one of them is NaN or infinite. Indices must
  // stay below 2^24 (exact in f32).
  virtual void argmax(const Tensor& x, int64_t valid, int64_t vocab_start, Tensor pairs) = 0;
  // tokens[R] (i32) = index of the best of the G candidate pairs[G, R, 2] of each row (the first part wins ties;
  // kBadLogits when a part's max is NaN), and slot_tokens[slot of output row r] = tokens[r].
  virtual void pick(const Tensor& pairs, Tensor tokens, Tensor slot_tokens) = 0;
  // out[R, V] = parts[G, R, Vl] side by side, the first V of the G*Vl columns (vocab-parallel logits, padded).
  virtual void gather_vocab(const Tensor& parts, Tensor out) = 0;
  // tokens[R] (i32) = one sample of each row of logits[R, V] under o (sampling.h), with the draw of the position
  // after the output row's; rows whose plan ban flag is set exclude the ids in banned (i32 [n]). logits are
  // overwritten. slot_tokens[slot of output row r] = tokens[r].
  virtual void sample(Tensor logits, const Tensor& banned, const SamplingOptions& o, Tensor tokens,
                      Tensor slot_tokens) = 0;

 protected:
  virtual void on_prepare(const StepLimits&) {}
  virtual void on_begin_step(const StepPlan&) {}

 private:
  StepLimits limits_;
  const StepPlan* plan_ = nullptr;
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
