// The CUDA backend's step: the plan upload, the kernels that read it (rope, embed, kv_append, attention, the head
// kernels) and the timers. Compiled by g++; the kernels are in *.cu.
#include <algorithm>
#include <cstring>

#include "backend/cuda/cuda_args.h"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_kernels.h"
#include "core/clock.h"
#include "core/error.h"

namespace autodist {

using cuda::check_f32;
using cuda::check_float;
using cuda::check_i32;
using cuda::round_up;

// The epoch: an event recorded on an idle stream, read against the host clock around its completion.
int64_t CudaBackend::timer_mark() {
  std::lock_guard<std::mutex> lk(marks_mu_);
  enter();
  if (epoch_ns_ < 0) {
    cuda::wait_stream(stream_, "cudaStreamSynchronize(stream_)");
    const int64_t h0 = now_ns();
    AD_CUDA_CHECK(cudaEventRecord(epoch_, stream_));
    cuda::wait_event(epoch_, "cudaEventSynchronize(epoch_)");
    epoch_ns_ = (h0 + now_ns()) / 2;
  }
  if (used_marks_ == marks_.size()) {
    CUevent_st* e = nullptr;
    AD_CUDA_CHECK(cudaEventCreate(&e));
    marks_.push_back(e);
  }
  AD_CUDA_CHECK(cudaEventRecord(marks_[used_marks_], stream_));
  return static_cast<int64_t>(used_marks_++);
}

int64_t CudaBackend::timer_ns(int64_t mark) {
  std::lock_guard<std::mutex> lk(marks_mu_);
  enter();
  AD_CHECK(mark >= 0 && static_cast<size_t>(mark) < used_marks_, "cuda backend: no timer mark {}", mark);
  CUevent_st* e = marks_[static_cast<size_t>(mark)];
  cuda::wait_event(e, "cudaEventSynchronize(e)");
  float ms = 0;
  AD_CUDA_CHECK(cudaEventElapsedTime(&ms, epoch_, e));
  return epoch_ns_ + static_cast<int64_t>(static_cast<double>(ms) * 1e6);
}

void CudaBackend::timer_reset() {
  std::lock_guard<std::mutex> lk(marks_mu_);
  used_marks_ = 0;
  epoch_ns_ = -1;
}

void CudaBackend::on_prepare(const StepLimits& lim) {
  enter();
  const size_t bytes = static_cast<size_t>(3 * lim.max_tokens + 2 * lim.max_outputs) * sizeof(int32_t);
  grow(plan_dev_, bytes);
  for (auto& st : staging_) {
    if (st.bytes >= bytes) continue;
    if (st.pending) cuda::wait_event(st.done, "cudaEventSynchronize(st.done)");
    st.pending = false;
    if (st.host) AD_CUDA_CHECK(cudaFreeHost(st.host));
    st.host = nullptr;
    st.bytes = 0;
    AD_CUDA_CHECK(cudaMallocHost(&st.host, round_up(bytes, 4096)));
    st.bytes = round_up(bytes, 4096);
  }
}

// One pinned slot of kStagingSlots per step, used round robin (a slot whose copy has not run yet is waited for:
// the device would have to be kStagingSlots steps behind), one copy into the device plan.
void CudaBackend::on_begin_step(const StepPlan& p) {
  enter();
  const int64_t T = p.rows(), R = p.outputs();
  const size_t n = static_cast<size_t>(3 * T + 2 * R);
  Staging& st = staging_[next_slot_++ % staging_.size()];
  if (st.pending) {
    cuda::wait_event(st.done, "cudaEventSynchronize(st.done)");
    st.pending = false;
  }
  AD_CHECK(st.host && st.bytes >= n * sizeof(int32_t) && plan_dev_.bytes >= n * sizeof(int32_t),
           "cuda backend: a plan of {} rows and {} outputs exceeds the prepared buffers", T, R);
  auto* h = static_cast<int32_t*>(st.host);
  std::memcpy(h, p.ids.data(), T * sizeof(int32_t));
  std::memcpy(h + T, p.pos.data(), T * sizeof(int32_t));
  std::memcpy(h + 2 * T, p.slot.data(), T * sizeof(int32_t));
  std::memcpy(h + 3 * T, p.out_rows.data(), R * sizeof(int32_t));
  for (int64_t r = 0; r < R; ++r) h[3 * T + R + r] = p.out_ban[r];
  auto* d = static_cast<int32_t*>(plan_dev_.p);
  if (n) AD_CUDA_CHECK(cudaMemcpyAsync(d, h, n * sizeof(int32_t), cudaMemcpyHostToDevice, stream_));
  AD_CUDA_CHECK(cudaEventRecord(st.done, stream_));
  st.pending = true;
  d_ids_ = d;
  d_pos_ = d + T;
  d_slot_ = d + 2 * T;
  d_out_ = d + 3 * T;
  plan_slots_ = plan_positions_ = 0;
  for (const AttnSegment& s : p.segs) {
    plan_slots_ = std::max<int64_t>(plan_slots_, s.slot + 1);
    plan_positions_ = std::max<int64_t>(plan_positions_, int64_t{s.start_pos} + s.len);
  }
}

void CudaBackend::plan_extent(int64_t& slots, int64_t& positions) const {
  plan();  // refuses a call outside a step
  slots = plan_slots_;
  positions = plan_positions_;
}

void CudaBackend::add_positions(Tensor x, const Tensor& table, int64_t offset) {
  enter();
  check_f32(x, "add_positions x");
  check_float(table, "add_positions table");
  const int64_t T = plan().rows(), D = table.ndim() == 2 ? table.dim(1) : 0;
  AD_CHECK(x.numel() == T * D, "add_positions: x {} is not {} rows of the {} values of the table {}", x.shape.str(), T,
           D, table.shape.str());
  int64_t slots = 0, positions = 0;
  plan_extent(slots, positions);
  AD_CHECK(positions + offset <= table.dim(0), "add_positions: positions up to {} (+{}) beyond the {} rows of the table",
           positions, offset, table.dim(0));
  cuda::launch_add_positions(x.f32(), table.data, table.dtype, d_pos_, offset, D, T, stream_);
}

void CudaBackend::rope(Tensor x, const Tensor& cs) {
  enter();
  check_f32(x, "rope x");
  check_f32(cs, "rope cos_sin");
  AD_CHECK(x.ndim() == 3 && x.dim(0) == plan().rows() && cs.ndim() == 2 && cs.dim(1) == x.dim(2),
           "rope: x {} must be [T={}, H, hd] and cos_sin {} [positions, hd]", x.shape.str(), plan().rows(),
           cs.shape.str());
  int64_t slots = 0, positions = 0;
  plan_extent(slots, positions);
  AD_CHECK(positions <= cs.dim(0), "rope: positions up to {} beyond the {} of the table", positions, cs.dim(0));
  cuda::launch_rope(x.f32(), d_pos_, cs.f32(), x.dim(0), x.dim(1), x.dim(2), stream_);
}

void CudaBackend::embed(const Tensor& table, int64_t vocab_start, const Tensor& slot_tokens, Tensor out) {
  enter();
  check_float(table, "embed table");
  check_i32(slot_tokens, "embed slot_tokens");
  check_f32(out, "embed out");
  const int64_t T = plan().rows();
  AD_CHECK(table.ndim() == 2 && out.ndim() >= 1 && out.dim(0) == T, "embed: table {} must be [V, D] and out {} [T={}, D]",
           table.shape.str(), out.shape.str(), T);
  const int64_t V = table.dim(0), D = table.dim(1);
  AD_CHECK(out.numel() == T * D, "embed: out {} does not fit table {} (rows of {} values)", out.shape.str(),
           table.shape.str(), D);
  int64_t slots = 0, positions = 0;
  plan_extent(slots, positions);
  AD_CHECK(slots <= slot_tokens.numel(), "embed: slots up to {} outside slot_tokens {}", slots, slot_tokens.shape.str());
  cuda::launch_embed(table.data, table.dtype, d_ids_, d_slot_, slot_tokens.ptr<int32_t>(), vocab_start, V, D, out.f32(),
                     T, stream_);
}

namespace {
// The caches of kv_append / attention: [slots, S, Hk, hd], large enough for every row of the plan.
void check_caches(const Tensor& kc, const Tensor& vc, int64_t slots, int64_t positions, const char* call) {
  AD_CHECK(kc.ndim() == 4 && vc.shape == kc.shape, "{}: caches {} and {} must both be [slots, S, Hk, hd]", call,
           kc.shape.str(), vc.shape.str());
  AD_CHECK(slots <= kc.dim(0) && positions <= kc.dim(1),
           "kv cache overflow in {}: the step reaches slot {} position {} but the cache {} holds {} slots of {}", call,
           slots - 1, positions, kc.shape.str(), kc.dim(0), kc.dim(1));
}
}  // namespace

void CudaBackend::kv_append(const Tensor& k, const Tensor& v, Tensor kc, Tensor vc) {
  enter();
  check_f32(k, "kv_append k");
  check_f32(v, "kv_append v");
  check_f32(kc, "kv_append kcache");
  check_f32(vc, "kv_append vcache");
  int64_t slots = 0, positions = 0;
  plan_extent(slots, positions);
  check_caches(kc, vc, slots, positions, "kv_append");
  const int64_t T = plan().rows(), row = kc.dim(2) * kc.dim(3);
  AD_CHECK(k.numel() == T * row && v.numel() == k.numel(),
           "kv_append: k {} and v {} must be {} rows of the {} values per position of the cache {}", k.shape.str(),
           v.shape.str(), T, row, kc.shape.str());
  cuda::launch_kv_append(k.f32(), v.f32(), kc.f32(), vc.f32(), d_pos_, d_slot_, T, kc.dim(1), row, stream_);
}

// FLOPs 4 * keys * hd per row and head (attention_kernel in cuda_attention.cu).
void CudaBackend::attention(const Tensor& q, const Tensor& kc, const Tensor& vc, float scale, int64_t window,
                            Tensor out) {
  enter();
  check_f32(q, "attention q");
  check_f32(kc, "attention kcache");
  check_f32(vc, "attention vcache");
  check_f32(out, "attention out");
  AD_CHECK(q.ndim() == 3 && out.numel() == q.numel() && q.dim(0) == plan().rows(),
           "attention: q {} must be [T={}, H, hd] and out {} the same size", q.shape.str(), plan().rows(),
           out.shape.str());
  const int64_t T = q.dim(0), H = q.dim(1), hd = q.dim(2);
  AD_CHECK(hd <= cuda::kMaxAttentionHeadDim && H <= 65535,
           "cuda attention: head dim {} (max {}) or heads {} (max 65535) too large", hd, cuda::kMaxAttentionHeadDim, H);
  int64_t slots = 0, positions = 0;
  plan_extent(slots, positions);
  check_caches(kc, vc, slots, positions, "attention");
  const int64_t S = kc.dim(1), Hk = kc.dim(2);
  AD_CHECK(Hk > 0 && H % Hk == 0 && kc.dim(3) == hd,
           "attention: q {} does not fit the cache {} (heads must be a multiple of kv heads, head dims equal)",
           q.shape.str(), kc.shape.str());
  cuda::launch_attention(q.f32(), kc.f32(), vc.f32(), d_pos_, d_slot_, T, H, Hk, hd, S, scale, window, out.f32(),
                         stream_);
}

void CudaBackend::gather_rows(const Tensor& x, Tensor out) {
  enter();
  check_f32(x, "gather_rows x");
  check_f32(out, "gather_rows out");
  const int64_t R = plan().outputs(), D = x.ndim() && x.dim(0) ? x.numel() / x.dim(0) : 0;
  AD_CHECK(out.numel() == R * D && x.dim(0) >= plan().rows(), "gather_rows: x {} and out {} do not fit {} rows of {}",
           x.shape.str(), out.shape.str(), R, D);
  cuda::launch_gather_rows(x.f32(), d_out_, R, D, out.f32(), stream_);
}

void CudaBackend::argmax(const Tensor& x, int64_t valid, int64_t vocab_start, Tensor pairs) {
  enter();
  check_f32(x, "argmax x");
  check_f32(pairs, "argmax pairs");
  const int64_t M = x.ndim() ? x.dim(0) : 0, V = M ? x.numel() / M : 0;
  AD_CHECK(pairs.numel() == 2 * M && valid <= V && vocab_start + V <= (int64_t{1} << 24),
           "argmax: pairs {} for x {} (valid {}, vocab start {}: indices must stay below 2^24)", pairs.shape.str(),
           x.shape.str(), valid, vocab_start);
  cuda::launch_argmax(x.f32(), M, V, std::max<int64_t>(valid, 0), vocab_start, pairs.f32(), stream_);
}

void CudaBackend::pick(const Tensor& pairs, Tensor tokens, Tensor slot_tokens) {
  enter();
  check_f32(pairs, "pick pairs");
  check_i32(tokens, "pick tokens");
  check_i32(slot_tokens, "pick slot_tokens");
  const int64_t R = plan().outputs(), G = R ? pairs.numel() / (2 * R) : 0;
  AD_CHECK(tokens.numel() == R && pairs.numel() == G * 2 * R, "pick: pairs {} and tokens {} for {} output rows",
           pairs.shape.str(), tokens.shape.str(), R);
  int64_t slots = 0, positions = 0;
  plan_extent(slots, positions);
  AD_CHECK(slots <= slot_tokens.numel(), "pick: slots up to {} outside slot_tokens {}", slots, slot_tokens.shape.str());
  cuda::launch_pick(pairs.f32(), G, R, d_out_, d_slot_, tokens.ptr<int32_t>(), slot_tokens.ptr<int32_t>(), stream_);
}

void CudaBackend::gather_vocab(const Tensor& parts, Tensor out) {
  enter();
  check_f32(parts, "gather_vocab parts");
  check_f32(out, "gather_vocab out");
  const int64_t G = parts.ndim() == 3 ? parts.dim(0) : 0, R = G ? parts.dim(1) : 0, Vl = G ? parts.dim(2) : 0;
  const int64_t V = R ? out.numel() / R : 0;
  AD_CHECK(parts.ndim() == 3 && out.numel() == R * V && V <= G * Vl,
           "gather_vocab: parts {} must be [G, R, Vl] and out {} [R, V <= G Vl]", parts.shape.str(), out.shape.str());
  cuda::launch_gather_vocab(parts.f32(), R, Vl, V, out.f32(), stream_);
}

}  // namespace autodist
