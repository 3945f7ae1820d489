#include "runtime/kv_sync.h"

#include <chrono>

#include "core/error.h"
#include "dist/comm_wait.h"

namespace autodist {

namespace {
int layer_tag(int64_t layer, int kv) { return static_cast<int>(16 + layer * 2 + kv); }
}  // namespace

KvSync::KvSync(KvSyncKind kind, std::unique_ptr<dist::Communicator> comm, KVCache& cache,
               std::vector<StageRange> parts, Timeline& tl)
    : kind_(kind), comm_(std::move(comm)), cache_(cache), parts_(std::move(parts)), tl_(tl) {
  AD_CHECK(kind_ != KvSyncKind::None && comm_ && comm_->size() == static_cast<int>(parts_.size()),
           "KvSync: needs a sync kind and a communicator over the {} pipeline stages", parts_.size());
}

KvSync::~KvSync() { abort(); }

// The KV of one layer for positions [0, L) of a slot: a contiguous block of the cache.
Tensor KvSync::block(int64_t layer, int kv, int32_t slot, int64_t L) const {
  const Tensor& c = (kv ? cache_.v : cache_.k)[static_cast<size_t>(layer)].t();
  const int64_t row = c.dim(2) * c.dim(3);
  Tensor t = c;
  t.data = c.ptr<float>() + static_cast<int64_t>(slot) * c.dim(1) * row;
  t.shape = Shape{L * row};
  return t;
}

int64_t KvSync::block_bytes(int q, int64_t L) const {
  return (parts_[q].last - parts_[q].first) * 2 * static_cast<int64_t>(block(0, 0, 0, L).nbytes());
}

void KvSync::post(int q, int peer, bool send, int32_t slot, int64_t L) {
  for (int64_t l = parts_[q].first; l < parts_[q].last; ++l)
    for (int kv = 0; kv < 2; ++kv) {
      Tensor b = block(l, kv, slot, L);
      reqs_.push_back(send ? comm_->isend(b, peer, layer_tag(l, kv)) : comm_->irecv(b, peer, layer_tag(l, kv)));
      posted_.push_back({peer, send, l, kv});
    }
}

// Polls instead of blocking in MPI_Wait, so that abort() can stop the thread; sleeps between polls from the start,
// so the sync thread leaves the cores to the prefill; bounded by --comm-timeout like every wait.
void KvSync::wait_range(size_t first, size_t end) {
  for (size_t i = first; i < end; ++i) {
    dist::wait_for_peer(
        [&] {
          if (abort_) throw Aborted{};
          return reqs_[i]->test();
        },
        [&] {
          const Posted& p = posted_[i];
          return fmt::format("{} pipeline rank {} (layer {} {})", p.send ? "send to" : "recv from", p.peer, p.layer,
                             p.kv ? "V" : "K");
        },
        dist::kSleepAtOnce);
  }
}

void KvSync::start(int32_t slot, int64_t L) {
  AD_CHECK(!thread_.joinable(), "KvSync: a sync is already running");
  own_ready_ = false;
  abort_ = false;
  error_ = nullptr;
  reqs_.clear();
  posted_.clear();
  thread_ = std::thread([this, slot, L] {
    dist::CommScope scope("KV-cache sync");
    try {
      run(slot, L);
    } catch (const Aborted&) {
      for (auto& r : reqs_) r->abandon();
    } catch (...) {
      error_ = std::current_exception();
      for (auto& r : reqs_) r->abandon();
    }
  });
}

void KvSync::run(int32_t slot, int64_t L) {
  const int N = comm_->size(), me = comm_->rank();
  auto wait_own = [&] {
    std::unique_lock<std::mutex> lk(mu_);
    cv_.wait(lk, [&] { return own_ready_ || abort_; });
    if (abort_) throw Aborted{};
  };
  const int64_t t0 = tl_.mark();
  if (kind_ == KvSyncKind::Pairwise) {
    for (int q = 0; q < N; ++q)
      if (q != me) post(q, q, false, slot, L);
    const size_t n_recv = reqs_.size();
    wait_own();
    const int64_t s0 = tl_.mark();
    for (int q = 0; q < N; ++q)
      if (q != me) post(me, q, true, slot, L);
    wait_range(n_recv, reqs_.size());
    tl_.add({"sync_send", s0, tl_.mark(), block_bytes(me, L) * (N - 1)});
    size_t i = 0;
    for (int q = 0; q < N; ++q) {
      if (q == me) continue;
      const size_t n = static_cast<size_t>(2 * (parts_[q].last - parts_[q].first));
      wait_range(i, i + n);
      i += n;
      tl_.add({"sync_recv", t0, tl_.mark(), block_bytes(q, L), -1, static_cast<int>(parts_[q].first)});
    }
  } else {  // ring
    const int next = (me + 1) % N, prev = (me + N - 1) % N;
    wait_own();
    for (int r = 0; r < N - 1; ++r) {
      const int send_q = (me - r + N) % N, recv_q = (me - r - 1 + 2 * N) % N;
      const int64_t r0 = tl_.mark();
      const size_t first = reqs_.size();
      post(recv_q, prev, false, slot, L);
      post(send_q, next, true, slot, L);
      wait_range(first, reqs_.size());
      tl_.add({"sync_round", r0, tl_.mark(), block_bytes(send_q, L), -1, static_cast<int>(parts_[recv_q].first), r});
    }
  }
  tl_.add({"sync", t0, tl_.mark()});
}

void KvSync::ready() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    own_ready_ = true;
  }
  cv_.notify_all();
}

void KvSync::finish() {
  if (thread_.joinable()) thread_.join();
  reqs_.clear();
  if (error_) {
    std::exception_ptr e = error_;
    error_ = nullptr;
    std::rethrow_exception(e);
  }
}

void KvSync::abort() noexcept {
  if (!thread_.joinable()) return;
  abort_ = true;
  cv_.notify_all();
  thread_.join();
  reqs_.clear();
}

}  // namespace autodist
