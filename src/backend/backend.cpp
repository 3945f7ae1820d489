#include "backend/backend.h"

#include "core/error.h"

namespace autodist {

Buffer::Buffer(Backend* be, DType t, Shape s) : be_(be) {
  view_ = Tensor(nullptr, t, s, be->device());
  size_t n = view_.nbytes();
  view_.data = be->alloc(n ? n : 1);
}

Buffer::~Buffer() {
  if (be_ && view_.data) be_->free(view_.data);
}

Buffer& Buffer::operator=(Buffer&& o) noexcept {
  if (this != &o) {
    if (be_ && view_.data) be_->free(view_.data);
    be_ = o.be_;
    view_ = o.view_;
    o.be_ = nullptr;
    o.view_ = Tensor();
  }
  return *this;
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
