#include "dist/staged_channel.h"

#include <cstring>
#include <utility>
#include <vector>

#include "backend/backend.h"
#include "core/error.h"
#include "core/log.h"

namespace autodist::dist {
namespace {

bool on_host(const Tensor& t) { return t.device == Device::CPU; }

// Host buffers that only grow, each lent to one call or request at a time. Slots given up by abandon() stay lent
// (the transfer may still write them) and are never freed.
class HostPool {
 public:
  explicit HostPool(std::shared_ptr<Stager> st) : st_(std::move(st)) {}
  ~HostPool() {
    for (auto& s : slots_)
      if (!s.leaked) st_->free_host(s.p);
  }
  // The smallest free slot of at least `bytes`, else a new one (sizes rounded up to a power of two from 4 KiB).
  size_t take(size_t bytes) {
    size_t best = slots_.size();
    for (size_t i = 0; i < slots_.size(); ++i)
      if (!slots_[i].busy && slots_[i].cap >= bytes && (best == slots_.size() || slots_[i].cap < slots_[best].cap))
        best = i;
    if (best == slots_.size()) {
      size_t cap = 4096;
      while (cap < bytes) cap *= 2;
      slots_.push_back({st_->alloc_host(cap), cap});
    }
    slots_[best].busy = true;
    return best;
  }
  void give(size_t i) { slots_[i].busy = false; }
  void leak(size_t i) { slots_[i].leaked = true; }
  void* ptr(size_t i) const { return slots_[i].p; }
  Stager& stager() { return *st_; }

 private:
  struct Slot {
    void* p = nullptr;
    size_t cap = 0;
    bool busy = false, leaked = false;
  };
  std::shared_ptr<Stager> st_;
  std::vector<Slot> slots_;
};

// One lent host buffer viewed with a tensor's dtype and shape; given back when it goes (unless leaked).
class Lease {
 public:
  Lease(HostPool& pool, const Tensor& like) : pool_(&pool), slot_(pool.take(like.nbytes())) {
    t_ = Tensor(pool.ptr(slot_), like.dtype, like.shape);
  }
  Lease(Lease&& o) noexcept : pool_(std::exchange(o.pool_, nullptr)), slot_(o.slot_), t_(o.t_) {}
  Lease(const Lease&) = delete;
  ~Lease() {
    if (pool_) pool_->give(slot_);
  }
  void leak() {
    pool_->leak(slot_);
    pool_ = nullptr;
  }
  const Tensor& t() const { return t_; }
  // Block b of `count` elements.
  Tensor block(int64_t b, int64_t count) const {
    return Tensor(static_cast<char*>(t_.data) + b * count * int64_t(dtype_size(t_.dtype)), t_.dtype, {count});
  }

 private:
  HostPool* pool_;
  size_t slot_;
  Tensor t_;
};

void copy_in(Stager& st, void* host, const Tensor& src) {
  if (on_host(src)) {
    if (host != src.data) std::memcpy(host, src.data, src.nbytes());
  } else {
    st.to_host(host, src);
  }
}
void copy_out(Stager& st, const Tensor& dst, const void* host) {
  if (on_host(dst)) {
    if (host != dst.data) std::memcpy(dst.data, host, dst.nbytes());
  } else {
    st.to_device(dst, host);
  }
}

class StagedRequest final : public CommRequest {
 public:
  // `into`: the device tensor a receive lands in (none for a send).
  StagedRequest(std::unique_ptr<CommRequest> inner, Lease lease, Tensor into, Stager& st)
      : lease_(std::move(lease)), inner_(std::move(inner)), into_(into), st_(st) {}
  ~StagedRequest() override {
    if (done_) return;
    try {
      wait();
    } catch (const Error& e) {
      log::error("{}", e.what());  // a destructor must not throw
      inner_->abandon();
      lease_.leak();
    }
  }
  void wait() override {
    if (done_) return;
    inner_->wait();
    finish();
  }
  bool test() override {
    if (done_) return true;
    if (!inner_->test()) return false;
    finish();
    return true;
  }
  void abandon() noexcept override {
    if (done_) return;
    done_ = true;
    inner_->abandon();
    lease_.leak();
  }

 private:
  void finish() {
    done_ = true;
    if (into_.data) copy_out(st_, into_, lease_.t().data);
  }
  Lease lease_;                         // declared first: the inner request goes before its buffer
  std::unique_ptr<CommRequest> inner_;
  Tensor into_;
  Stager& st_;
  bool done_ = false;
};

class StagedChannel final : public Communicator {
 public:
  StagedChannel(std::unique_ptr<Communicator> host, std::shared_ptr<Stager> st)
      : host_(std::move(host)), stager_(st), pool_(std::move(st)) {
    AD_CHECK(host_ && stager_, "make_staged_channel: needs a host communicator and a stager");
  }
  int rank() const override { return host_->rank(); }
  int size() const override { return host_->size(); }
  std::string backend_name() const override { return host_->backend_name(); }
  std::unique_ptr<Communicator> split(int color, int key) override {
    auto sub = host_->split(color, key);
    return sub ? std::make_unique<StagedChannel>(std::move(sub), stager_) : nullptr;
  }

  using Communicator::all_reduce;
  void all_reduce(const Tensor& send, Tensor recv, ReduceOp op) override {
    if (on_host(send) && on_host(recv)) return host_->all_reduce(send, recv, op);
    check_like(send.numel(), send, recv, "all_reduce");
    Lease b(pool_, recv);
    copy_in(st(), b.t().data, send);
    host_->all_reduce(b.t(), b.t(), op);
    copy_out(st(), recv, b.t().data);
  }
  void all_gather(const Tensor& send, Tensor recv) override {
    if (on_host(send) && on_host(recv)) return host_->all_gather(send, recv);
    check_like(send.numel() * size(), send, recv, "all_gather");
    Lease b(pool_, recv);
    const Tensor mine = b.block(rank(), send.numel());
    copy_in(st(), mine.data, send);
    host_->all_gather(mine, b.t());  // in place
    copy_out(st(), recv, b.t().data);
  }
  void reduce_scatter(const Tensor& send, Tensor recv, ReduceOp op) override {
    if (on_host(send) && on_host(recv)) return host_->reduce_scatter(send, recv, op);
    check_like(recv.numel() * size(), recv, send, "reduce_scatter");
    Lease b(pool_, send);
    copy_in(st(), b.t().data, send);
    const Tensor mine = b.block(rank(), recv.numel());
    host_->reduce_scatter(b.t(), mine, op);  // in place
    copy_out(st(), recv, mine.data);
  }
  void broadcast(Tensor buf, int root) override {
    if (on_host(buf)) return host_->broadcast(buf, root);
    Lease b(pool_, buf);
    if (rank() == root) copy_in(st(), b.t().data, buf);
    host_->broadcast(b.t(), root);
    if (rank() != root) copy_out(st(), buf, b.t().data);
  }
  void reduce(const Tensor& send, Tensor recv, ReduceOp op, int root) override {
    const bool is_root = rank() == root;
    if (on_host(send) && (!is_root || on_host(recv))) return host_->reduce(send, recv, op, root);
    if (is_root) check_like(send.numel(), send, recv, "reduce");
    Lease b(pool_, send);
    copy_in(st(), b.t().data, send);
    host_->reduce(b.t(), is_root ? b.t() : Tensor(), op, root);  // in place on the root
    if (is_root) copy_out(st(), recv, b.t().data);
  }
  void gather(const Tensor& send, Tensor recv, int root) override {
    const bool is_root = rank() == root;
    if (on_host(send) && (!is_root || on_host(recv))) return host_->gather(send, recv, root);
    if (!is_root) {
      Lease b(pool_, send);
      copy_in(st(), b.t().data, send);
      return host_->gather(b.t(), Tensor(), root);
    }
    check_like(send.numel() * size(), send, recv, "gather");
    Lease b(pool_, recv);
    const Tensor mine = b.block(root, send.numel());
    copy_in(st(), mine.data, send);
    host_->gather(mine, b.t(), root);  // in place
    copy_out(st(), recv, b.t().data);
  }
  void scatter(const Tensor& send, Tensor recv, int root) override {
    const bool is_root = rank() == root;
    if (on_host(recv) && (!is_root || on_host(send))) return host_->scatter(send, recv, root);
    if (!is_root) {
      Lease b(pool_, recv);
      host_->scatter(Tensor(), b.t(), root);
      return copy_out(st(), recv, b.t().data);
    }
    check_like(recv.numel() * size(), recv, send, "scatter");
    Lease b(pool_, send);
    copy_in(st(), b.t().data, send);
    const Tensor mine = b.block(root, recv.numel());
    host_->scatter(b.t(), mine, root);  // in place
    copy_out(st(), recv, mine.data);
  }
  void send(const Tensor& buf, int peer, int tag) override {
    if (on_host(buf)) return host_->send(buf, peer, tag);
    Lease b(pool_, buf);
    copy_in(st(), b.t().data, buf);
    host_->send(b.t(), peer, tag);
  }
  void recv(Tensor buf, int peer, int tag) override {
    if (on_host(buf)) return host_->recv(buf, peer, tag);
    Lease b(pool_, buf);
    host_->recv(b.t(), peer, tag);
    copy_out(st(), buf, b.t().data);
  }
  void sendrecv(const Tensor& send, int dst, Tensor recv, int src, int tag) override {
    if (on_host(send) && on_host(recv)) return host_->sendrecv(send, dst, recv, src, tag);
    Lease s(pool_, send), r(pool_, recv);
    copy_in(st(), s.t().data, send);
    host_->sendrecv(s.t(), dst, r.t(), src, tag);
    copy_out(st(), recv, r.t().data);
  }
  std::unique_ptr<CommRequest> isend(const Tensor& buf, int peer, int tag) override {
    if (on_host(buf)) return host_->isend(buf, peer, tag);
    Lease b(pool_, buf);
    copy_in(st(), b.t().data, buf);
    auto inner = host_->isend(b.t(), peer, tag);
    return std::make_unique<StagedRequest>(std::move(inner), std::move(b), Tensor(), st());
  }
  std::unique_ptr<CommRequest> irecv(Tensor buf, int peer, int tag) override {
    if (on_host(buf)) return host_->irecv(buf, peer, tag);
    Lease b(pool_, buf);
    auto inner = host_->irecv(b.t(), peer, tag);
    return std::make_unique<StagedRequest>(std::move(inner), std::move(b), buf, st());
  }
  void flush() override { host_->flush(); }
  void barrier() override { host_->barrier(); }
  bool all_gather_idle(const Tensor& send, Tensor recv, double timeout_s) override {
    return host_->all_gather_idle(send, recv, timeout_s);
  }

 private:
  Stager& st() { return *stager_; }
  // The staged buffer is sized from `t`: it must have `other`'s dtype and `want` elements before anything is copied.
  static void check_like(int64_t want, const Tensor& other, const Tensor& t, const char* call) {
    AD_CHECK(t.dtype == other.dtype, "{}: the buffers are {} and {}; they must match", call, dtype_name(other.dtype),
             dtype_name(t.dtype));
    AD_CHECK(t.numel() == want, "{}: a buffer has {} elements, expected {}", call, t.numel(), want);
  }
  std::unique_ptr<Communicator> host_;
  std::shared_ptr<Stager> stager_;
  HostPool pool_;
};

class BackendStager final : public Stager {
 public:
  explicit BackendStager(Backend& be) : be_(be) {}
  void* alloc_host(size_t bytes) override { return be_.alloc_host(bytes); }
  void free_host(void* p) override { be_.free_host(p); }
  void to_host(void* host, const Tensor& dev) override { be_.to_host(host, dev); }
  void to_device(Tensor dev, const void* host) override { be_.to_device(dev, host); }

 private:
  Backend& be_;
};

}  // namespace

std::unique_ptr<Communicator> make_staged_channel(std::unique_ptr<Communicator> host, std::shared_ptr<Stager> stager) {
  return std::make_unique<StagedChannel>(std::move(host), std::move(stager));
}

std::shared_ptr<Stager> backend_stager(Backend& be) { return std::make_shared<BackendStager>(be); }

}  // namespace autodist::dist
