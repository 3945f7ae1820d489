#include "backend/backend.h"

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

}  // namespace autodist
