#include "backend/backend.h"

#include "core/error.h"

namespace autodist {

GemmDims gemm_dims(const Tensor& x, const Tensor& w, const Tensor* bias, const Tensor& y) {
  AD_CHECK(x.ndim() >= 1 && w.ndim() >= 1, "gemm: x {} and w {} need a leading dimension", x.shape.str(),
           w.shape.str());
  GemmDims d;
  d.M = x.dim(0);
  d.N = w.dim(0);
  d.K = d.M > 0 ? x.numel() / d.M : (d.N > 0 ? w.numel() / d.N : 0);
  AD_CHECK(x.numel() == d.M * d.K && w.numel() == d.N * d.K && y.numel() == d.M * d.N,
           "gemm: x {} w {} y {} do not fit (y[M,N] = x[M,K] . w[N,K]^T)", x.shape.str(), w.shape.str(), y.shape.str());
  AD_CHECK(!bias || bias->numel() == d.N, "gemm: bias {} does not fit w {} (needs {} values)", bias->shape.str(),
           w.shape.str(), d.N);
  return d;
}

Buffer::Buffer(Backend* be, DType t, Shape s) : be_(be) {
  view_ = Tensor(nullptr, t, s, be->device());
  size_t n = view_.nbytes();
  view_.data = be->alloc(n ? n : 1);
}

Buffer Buffer::borrowed(const Tensor& view, std::shared_ptr<const void> keep) {
  Buffer b;
  b.view_ = view;
  b.keep_ = std::move(keep);
  return b;
}

Buffer::~Buffer() {
  if (be_ && view_.data) be_->free(view_.data);
}

Buffer& Buffer::operator=(Buffer&& o) noexcept {
  if (this != &o) {
    if (be_ && view_.data) be_->free(view_.data);
    be_ = o.be_;
    view_ = o.view_;
    keep_ = std::move(o.keep_);
    o.be_ = nullptr;
    o.view_ = Tensor();
  }
  return *this;
}

HostBuffer::HostBuffer(Backend* be, size_t bytes) : be_(be), bytes_(bytes) { p_ = be->alloc_host(bytes ? bytes : 1); }

HostBuffer::~HostBuffer() {
  if (be_ && p_) be_->free_host(p_);
}

HostBuffer& HostBuffer::operator=(HostBuffer&& o) noexcept {
  if (this != &o) {
    if (be_ && p_) be_->free_host(p_);
    be_ = o.be_;
    p_ = o.p_;
    bytes_ = o.bytes_;
    o.be_ = nullptr;
    o.p_ = nullptr;
    o.bytes_ = 0;
  }
  return *this;
}

void Backend::prepare(const StepLimits& lim) {
  AD_CHECK(lim.max_tokens >= 1 && lim.max_context >= 1 && lim.slots >= 1 && lim.max_outputs >= 1 && lim.vocab >= 1,
           "prepare: every limit must be >= 1 (tokens {}, context {}, slots {}, outputs {}, vocab {})", lim.max_tokens,
           lim.max_context, lim.slots, lim.max_outputs, lim.vocab);
  plan_ = nullptr;
  on_prepare(lim);
  limits_ = lim;
}

void Backend::begin_step(const StepPlan& plan) {
  check_plan(plan, limits_);
  on_begin_step(plan);
  plan_ = &plan;
}

const StepPlan& Backend::plan() const {
  AD_CHECK(plan_, "{} backend: a kernel that reads the step plan ran outside a step (call begin_step first)", name());
  return *plan_;
}

#ifndef AUTODIST_HAVE_CUDA
// Built without CUDA: the CUDA backend (backend/cuda) is not compiled; these keep callers free of #if.
std::unique_ptr<Backend> make_cuda_backend(int device) {
  AD_FAIL("cuda backend (device {}): this build has no CUDA (configure with -DAUTODIST_CUDA=ON where nvcc is "
          "installed); run with --device cpu",
          device);
}

int cuda_device_count() noexcept { return 0; }
#endif

}  // namespace autodist
