#include "dist/mpi_communicator.h"

#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <mutex>
#include <vector>

#include "core/error.h"
#include "core/log.h"
#include "dist/comm_wait.h"
#include "dist/mpi_env.h"
#include "dist/mpi_small.h"
#include "dist/mpi_types.h"

namespace autodist::dist {
using namespace mpi_types;
namespace {

int64_t g_chunk = INT_MAX;

void require_host(const Tensor& t, const char* call) {
  AD_CHECK(t.device == Device::CPU,
           "mpi communicator {}: got a Device::CUDA tensor; device buffers need the CUDA build "
           "(staging through pinned host memory), which this communicator does not have yet",
           call);
}

void require_same_dtype(const Tensor& a, const Tensor& b, const char* call) {
  AD_CHECK(a.dtype == b.dtype, "mpi communicator {}: send is {} but recv is {}; they must match", call,
           dtype_name(a.dtype), dtype_name(b.dtype));
}

// Per-rank block count of the gather/scatter family; these calls are not chunked.
int block_count(int64_t n, const char* call) {
  AD_CHECK(n <= g_chunk,
           "{}: {} elements per rank exceed the MPI count limit ({}); split the tensor and call it "
           "several times",
           call, n, g_chunk);
  return static_cast<int>(n);
}

char* at(void* p, int64_t elems, DType t) { return static_cast<char*>(p) + elems * int64_t(dtype_size(t)); }

// Calls f(offset, count) over chunks of at most g_chunk elements; once with count 0 for an empty
// tensor so that every rank still makes the matching MPI call.
template <typename F>
void for_chunks(int64_t n, F&& f) {
  int64_t off = 0;
  do {
    int64_t c = std::min(n - off, g_chunk);
    f(off, static_cast<int>(c));
    off += c;
  } while (off < n);
}

class MpiRequest final : public CommRequest {
 public:
  // what: the wait's description in a timeout message, e.g. {"recv from", peer}.
  MpiRequest(const MpiCommunicator* comm, MpiCommunicator::Wait what) : comm_(comm), what_(what) {}
  ~MpiRequest() override {
    if (done_) return;
    try {
      wait();
    } catch (const Error& e) {
      log::error("{}", e.what());  // a destructor must not throw
    }
  }
  void wait() override {
    if (done_) return;
    done_ = true;
    if (many_.empty()) comm_->wait_all(&one_, 1, what_);
    else comm_->wait_all(many_.data(), static_cast<int>(many_.size()), what_);
  }
  bool test() override {
    if (done_) return true;
    int flag = 0;
    if (many_.empty()) comm_->check(MPI_Test(&one_, &flag, MPI_STATUS_IGNORE), "MPI_Test");
    else comm_->check(MPI_Testall(static_cast<int>(many_.size()), many_.data(), &flag, MPI_STATUSES_IGNORE), "MPI_Testall");
    done_ = flag != 0;
    return done_;
  }
  // Receives are cancelled; every request is freed without waiting (MPI completes or drops it on its own).
  void abandon() noexcept override {
    if (done_) return;
    done_ = true;
    auto drop = [&](MPI_Request& r) {
      if (r == MPI_REQUEST_NULL) return;
      if (recv_) MPI_Cancel(&r);
      MPI_Request_free(&r);
    };
    if (many_.empty()) drop(one_);
    for (auto& r : many_) drop(r);
  }
  void set_recv() { recv_ = true; }

  // Requests come from a free list: a step's isend allocates nothing once the list has warmed up.
  static void* operator new(size_t n);
  static void operator delete(void* p) noexcept;
  // One request inline (the common case costs no extra allocation); chunked messages use many_.
  void add(MPI_Request r) {
    if (n_++ == 0) {
      one_ = r;
      return;
    }
    if (many_.empty()) many_.push_back(one_);
    many_.push_back(r);
  }

 private:
  const MpiCommunicator* comm_;  // must outlive the request, as MPI requires of the MPI_Comm
  MpiCommunicator::Wait what_;
  bool done_ = false, recv_ = false;
  int n_ = 0;
  MPI_Request one_ = MPI_REQUEST_NULL;
  std::vector<MPI_Request> many_;
};

std::mutex g_free_mu;
std::vector<void*> g_free_requests;

void* MpiRequest::operator new(size_t n) {
  {
    std::lock_guard<std::mutex> lk(g_free_mu);
    if (!g_free_requests.empty() && n == sizeof(MpiRequest)) {
      void* p = g_free_requests.back();
      g_free_requests.pop_back();
      return p;
    }
  }
  return ::operator new(n);
}

void MpiRequest::operator delete(void* p) noexcept {
  std::lock_guard<std::mutex> lk(g_free_mu);
  try {
    if (g_free_requests.size() < 1024) {
      g_free_requests.push_back(p);
      return;
    }
  } catch (...) {
  }
  ::operator delete(p);
}

// Posts one non-blocking call (post(&request) returns its code) and completes it through wait_all.
template <typename Post>
void post_wait(const MpiCommunicator& c, const char* call, MpiCommunicator::Wait what, Post&& post) {
  MPI_Request r = MPI_REQUEST_NULL;
  c.check(post(&r), call);
  c.wait_all(&r, 1, what);
}
}  // namespace

void set_mpi_chunk_elements(int64_t n) {
  AD_CHECK(n >= 1 && n <= INT_MAX, "set_mpi_chunk_elements: {} is outside [1, INT_MAX]", n);
  g_chunk = n;
}
int64_t mpi_chunk_elements() { return g_chunk; }

std::unique_ptr<Communicator> make_mpi_world_communicator() {
  AD_CHECK(MpiEnv::initialized(), "make_mpi_world_communicator: call dist::MpiEnv::init() first");
  // A duplicate of the world keeps our traffic apart from any other MPI user in the process.
  // MPI_Comm_dup blocks until every rank calls it: meet in a barrier bounded by --comm-timeout first.
  MPI_Request br = MPI_REQUEST_NULL;
  int rc = MPI_Ibarrier(MPI_COMM_WORLD, &br);
  AD_CHECK(rc == MPI_SUCCESS, "MPI_Ibarrier(MPI_COMM_WORLD) failed: {}", error_string(rc));
  wait_for_peer([&] {
    int flag = 0;
    rc = MPI_Test(&br, &flag, MPI_STATUS_IGNORE);
    return rc != MPI_SUCCESS || flag;
  }, [] { return std::string("barrier over MPI_COMM_WORLD before MPI_Comm_dup"); });
  AD_CHECK(rc == MPI_SUCCESS, "MPI_Test of the barrier over MPI_COMM_WORLD failed: {}", error_string(rc));
  MPI_Comm dup;
  rc = MPI_Comm_dup(MPI_COMM_WORLD, &dup);
  AD_CHECK(rc == MPI_SUCCESS, "MPI_Comm_dup(MPI_COMM_WORLD) failed on rank {}: {}", MpiEnv::init().rank(),
           error_string(rc));
  return std::unique_ptr<Communicator>(new MpiCommunicator(as_handle(dup)));
}

MpiCommunicator::MpiCommunicator(std::intptr_t comm) : comm_(comm) {
  MPI_Comm c = as_comm(comm_);
  check(MPI_Comm_rank(MPI_COMM_WORLD, &world_rank_), "MPI_Comm_rank(MPI_COMM_WORLD)");
  // Errors come back as codes on every communicator, split ones included.
  check(MPI_Comm_set_errhandler(c, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  check(MPI_Comm_rank(c, &rank_), "MPI_Comm_rank");
  check(MPI_Comm_size(c, &size_), "MPI_Comm_size");
}

MpiCommunicator::~MpiCommunicator() {
  int fin = 0;
  MPI_Finalized(&fin);
  MPI_Comm c = as_comm(comm_);
  // Unchecked: a destructor cannot throw, and after MPI_Finalize the handle is gone anyway.
  if (!fin && c != MPI_COMM_NULL) MPI_Comm_free(&c);
}

void MpiCommunicator::check(int rc, const char* call) const {
  if (rc == MPI_SUCCESS) return;
  AD_FAIL("{} failed on rank {} (rank {} of {} in this communicator): {}", call, world_rank_, rank_, size_,
          error_string(rc));
}

std::unique_ptr<Communicator> MpiCommunicator::split(int color, int key) {
  // MPI_Comm_split has no non-blocking form: a bounded barrier first, so a missing rank times out there.
  post_wait(*this, "MPI_Ibarrier", {"barrier before MPI_Comm_split"},
            [&](MPI_Request* r) { return MPI_Ibarrier(as_comm(comm_), r); });
  MPI_Comm nc = MPI_COMM_NULL;
  check(MPI_Comm_split(as_comm(comm_), color < 0 ? MPI_UNDEFINED : color, key, &nc), "MPI_Comm_split");
  if (nc == MPI_COMM_NULL) return nullptr;
  return std::unique_ptr<Communicator>(new MpiCommunicator(as_handle(nc)));
}

void MpiCommunicator::wait_all(void* requests, int n, Wait what) const {
  auto* r = static_cast<MPI_Request*>(requests);
  int rc = MPI_SUCCESS;
  wait_for_peer(
      [&] {
        int flag = 0;
        rc = n == 1 ? MPI_Test(r, &flag, MPI_STATUS_IGNORE) : MPI_Testall(n, r, &flag, MPI_STATUSES_IGNORE);
        return rc != MPI_SUCCESS || flag != 0;
      },
      [&] { return describe(what); });
  check(rc, n == 1 ? "MPI_Test" : "MPI_Testall");
}

std::string MpiCommunicator::describe(Wait what) const {
  MPI_Group mine = MPI_GROUP_NULL, world = MPI_GROUP_NULL;
  MPI_Comm_group(as_comm(comm_), &mine);
  MPI_Comm_group(MPI_COMM_WORLD, &world);
  auto world_rank = [&](int r) {
    int w = r;
    if (MPI_Group_translate_ranks(mine, 1, &r, world, &w) != MPI_SUCCESS || w == MPI_UNDEFINED) w = r;
    return w;
  };
  std::string s;
  if (what.peer2 >= 0) {
    s = fmt::format("{} (send to rank {}, recv from rank {})", what.op, world_rank(what.peer), world_rank(what.peer2));
  } else if (what.peer >= 0) {
    s = fmt::format("{} rank {}", what.op, world_rank(what.peer));
  } else {
    std::string ranks;
    for (int r = 0; r < std::min(size_, 8); ++r) ranks += fmt::format("{}{}", r ? ", " : "", world_rank(r));
    s = fmt::format("{} over world ranks {}{}", what.op, ranks, size_ > 8 ? fmt::format(", ... ({} ranks)", size_) : "");
  }
  MPI_Group_free(&mine);
  MPI_Group_free(&world);
  return s;
}

// ---- checked, chunked primitives ----

void MpiCommunicator::all_reduce(const Tensor& send, Tensor recv, ReduceOp op) {
  require_host(send, "all_reduce");
  require_host(recv, "all_reduce");
  require_same_dtype(send, recv, "all_reduce");
  AD_CHECK(send.numel() == recv.numel(), "all_reduce: send has {} elements, recv {}; they must match", send.numel(),
           recv.numel());
  MPI_Datatype t = mpi_type(recv.dtype);
  MPI_Op o = mpi_op(recv.dtype, op);
  small::Ctx x{*this, as_comm(comm_), rank_, size_, small_scratch_};
  if (recv.nbytes() <= kSmallMessageBytes) return small::all_reduce(x, send.data, recv.data, int(recv.numel()), t, o);
  // Rings on point-to-point messages at every larger size too. Against the blocking MPI_Allreduce in the same process
  // (comm-bench --baseline, 2 ranks, 64 KiB-16 MiB), libnbc's MPI_Iallreduce took 1.5-2.2x in place and 0.9-1.6x out
  // of place; the rings take 1.0-1.3x in place and 0.6-1.0x out of place.
  for_chunks(recv.numel(), [&](int64_t off, int c) {
    small::all_reduce_ring(x, at(send.data, off, send.dtype), at(recv.data, off, recv.dtype), c, t, o);
  });
}

void MpiCommunicator::all_gather(const Tensor& send, Tensor recv) {
  require_host(send, "all_gather");
  require_host(recv, "all_gather");
  require_same_dtype(send, recv, "all_gather");
  AD_CHECK(recv.numel() == send.numel() * size_,
           "all_gather: recv has {} elements, expected {} ranks x {} = {}", recv.numel(), size_, send.numel(),
           send.numel() * size_);
  int n = block_count(send.numel(), "MPI_Allgather");
  MPI_Datatype t = mpi_type(send.dtype);
  small::Ctx x{*this, as_comm(comm_), rank_, size_, small_scratch_};
  if (recv.nbytes() <= kSmallMessageBytes) return small::all_gather(x, send.data, recv.data, n, t);
  // A ring on point-to-point messages at every larger size too: libnbc's MPI_Iallgather (its own block copied before
  // the messages start, advancing only inside MPI_Test) took 1.3-1.5x the ring at 64 KiB blocks on 2 ranks (20-23 us
  // against 14-16), alike at 1 MiB.
  small::all_gather_ring(x, send.data, recv.data, n, t);
}

void MpiCommunicator::reduce_scatter(const Tensor& send, Tensor recv, ReduceOp op) {
  require_host(send, "reduce_scatter");
  require_host(recv, "reduce_scatter");
  require_same_dtype(send, recv, "reduce_scatter");
  AD_CHECK(send.numel() == recv.numel() * size_,
           "reduce_scatter: send has {} elements, expected {} ranks x {} = {}", send.numel(), size_,
           recv.numel(), recv.numel() * size_);
  int n = block_count(recv.numel(), "MPI_Reduce_scatter_block");
  small::Ctx x{*this, as_comm(comm_), rank_, size_, small_scratch_};
  MPI_Datatype t = mpi_type(send.dtype);
  MPI_Op o = mpi_op(send.dtype, op);
  if (send.nbytes() <= kSmallMessageBytes) return small::reduce_scatter(x, send.data, recv.data, n, t, o);
  // A segmented ring on point-to-point messages at every larger size too: libnbc's MPI_Ireduce_scatter_block (the
  // whole buffer reduced to one rank, then scattered) took 4.0 ms at 1 MiB blocks on 2 ranks, the ring 0.2 ms.
  small::reduce_scatter_ring(x, send.data, recv.data, n, t, o);
}

void MpiCommunicator::broadcast(Tensor buf, int root) {
  require_host(buf, "broadcast");
  AD_CHECK(root >= 0 && root < size_, "broadcast: root {} is outside [0, {})", root, size_);
  MPI_Datatype t = mpi_type(buf.dtype);
  if (buf.nbytes() <= kSmallMessageBytes) {
    small::Ctx x{*this, as_comm(comm_), rank_, size_, small_scratch_};
    return small::broadcast(x, buf.data, int(buf.numel()), t, root);
  }
  for_chunks(buf.numel(), [&](int64_t off, int c) {
    post_wait(*this, "MPI_Ibcast", {"broadcast"},
              [&](MPI_Request* r) { return MPI_Ibcast(at(buf.data, off, buf.dtype), c, t, root, as_comm(comm_), r); });
  });
}

void MpiCommunicator::reduce(const Tensor& send, Tensor recv, ReduceOp op, int root) {
  require_host(send, "reduce");
  AD_CHECK(root >= 0 && root < size_, "reduce: root {} is outside [0, {})", root, size_);
  bool is_root = rank_ == root;
  if (is_root) {
    require_host(recv, "reduce");
    require_same_dtype(send, recv, "reduce");
    AD_CHECK(recv.numel() == send.numel(), "reduce: recv has {} elements on the root, send has {}", recv.numel(),
             send.numel());
  }
  MPI_Datatype t = mpi_type(send.dtype);
  MPI_Op o = mpi_op(send.dtype, op);
  // Every size on point-to-point messages (a binomial tree in segments, mpi_small.h): libnbc's MPI_Ireduce took 2.5x
  // the blocking call at 1 MiB and, its segments advancing only inside MPI_Test, 100x at 16 MiB once waits slept.
  small::Ctx x{*this, as_comm(comm_), rank_, size_, small_scratch_};
  for_chunks(send.numel(), [&](int64_t off, int c) {
    small::reduce(x, at(send.data, off, send.dtype), is_root ? at(recv.data, off, recv.dtype) : nullptr, c, t, o,
                  root);
  });
}

void MpiCommunicator::gather(const Tensor& send, Tensor recv, int root) {
  require_host(send, "gather");
  AD_CHECK(root >= 0 && root < size_, "gather: root {} is outside [0, {})", root, size_);
  int n = block_count(send.numel(), "MPI_Gather");
  bool is_root = rank_ == root;
  const void* sb = send.data;
  if (is_root) {
    require_host(recv, "gather");
    require_same_dtype(send, recv, "gather");
    AD_CHECK(recv.numel() == send.numel() * size_, "gather: recv has {} elements on the root, expected {} ranks x {}",
             recv.numel(), size_, send.numel());
    if (send.data == at(recv.data, int64_t(n) * rank_, recv.dtype)) sb = MPI_IN_PLACE;
  }
  MPI_Datatype t = mpi_type(send.dtype);
  if (send.nbytes() * size_ <= kSmallMessageBytes) {
    small::Ctx x{*this, as_comm(comm_), rank_, size_, small_scratch_};
    return small::gather(x, send.data, is_root ? recv.data : nullptr, n, t, root);
  }
  post_wait(*this, "MPI_Igather", {"gather"}, [&](MPI_Request* r) {
    return MPI_Igather(sb, n, t, is_root ? recv.data : nullptr, n, t, root, as_comm(comm_), r);
  });
}

void MpiCommunicator::scatter(const Tensor& send, Tensor recv, int root) {
  require_host(recv, "scatter");
  AD_CHECK(root >= 0 && root < size_, "scatter: root {} is outside [0, {})", root, size_);
  int n = block_count(recv.numel(), "MPI_Scatter");
  bool is_root = rank_ == root;
  void* rb = recv.data;
  if (is_root) {
    require_host(send, "scatter");
    require_same_dtype(send, recv, "scatter");
    AD_CHECK(send.numel() == recv.numel() * size_, "scatter: send has {} elements on the root, expected {} ranks x {}",
             send.numel(), size_, recv.numel());
    if (recv.data == at(send.data, int64_t(n) * rank_, send.dtype)) rb = MPI_IN_PLACE;
  }
  MPI_Datatype t = mpi_type(recv.dtype);
  if (recv.nbytes() * size_ <= kSmallMessageBytes) {
    small::Ctx x{*this, as_comm(comm_), rank_, size_, small_scratch_};
    return small::scatter(x, is_root ? send.data : nullptr, recv.data, n, t, root);
  }
  post_wait(*this, "MPI_Iscatter", {"scatter"}, [&](MPI_Request* r) {
    return MPI_Iscatter(is_root ? send.data : nullptr, n, t, rb, n, t, root, as_comm(comm_), r);
  });
}

// Tags are not pre-checked: MPI reports a bad one (MPI_ERR_TAG) through check().
void MpiCommunicator::send(const Tensor& buf, int peer, int tag) {
  require_host(buf, "send");
  AD_CHECK(peer >= 0 && peer < size_, "send: peer {} is outside [0, {})", peer, size_);
  MPI_Datatype t = mpi_type(buf.dtype);
  for_chunks(buf.numel(), [&](int64_t off, int c) {
    post_wait(*this, "MPI_Isend", {"send to", peer}, [&](MPI_Request* r) {
      return MPI_Isend(at(buf.data, off, buf.dtype), c, t, peer, tag, as_comm(comm_), r);
    });
  });
}

void MpiCommunicator::recv(Tensor buf, int peer, int tag) {
  require_host(buf, "recv");
  AD_CHECK(peer >= 0 && peer < size_, "recv: peer {} is outside [0, {})", peer, size_);
  MPI_Datatype t = mpi_type(buf.dtype);
  for_chunks(buf.numel(), [&](int64_t off, int c) {
    post_wait(*this, "MPI_Irecv", {"recv from", peer}, [&](MPI_Request* r) {
      return MPI_Irecv(at(buf.data, off, buf.dtype), c, t, peer, tag, as_comm(comm_), r);
    });
  });
}

void MpiCommunicator::sendrecv(const Tensor& send, int dst, Tensor recv, int src, int tag) {
  require_host(send, "sendrecv");
  require_host(recv, "sendrecv");
  AD_CHECK(dst >= 0 && dst < size_ && src >= 0 && src < size_, "sendrecv: dst {} or src {} is outside [0, {})", dst,
           src, size_);
  AD_CHECK(send.numel() <= g_chunk && recv.numel() <= g_chunk,
           "sendrecv: {} / {} elements exceed the MPI count limit ({}); split the tensors", send.numel(),
           recv.numel(), g_chunk);
  MPI_Request r[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
  check(MPI_Irecv(recv.data, int(recv.numel()), mpi_type(recv.dtype), src, tag, as_comm(comm_), &r[0]), "MPI_Irecv");
  check(MPI_Isend(send.data, int(send.numel()), mpi_type(send.dtype), dst, tag, as_comm(comm_), &r[1]), "MPI_Isend");
  wait_all(r, 2, {"sendrecv", dst, src});
}

std::unique_ptr<CommRequest> MpiCommunicator::isend(const Tensor& buf, int peer, int tag) {
  require_host(buf, "isend");
  AD_CHECK(peer >= 0 && peer < size_, "isend: peer {} is outside [0, {})", peer, size_);
  auto req = std::make_unique<MpiRequest>(this, Wait{"send to", peer});
  MPI_Datatype t = mpi_type(buf.dtype);
  // Chunks of one message keep their order: MPI does not let messages on one (peer, tag) overtake.
  for_chunks(buf.numel(), [&](int64_t off, int c) {
    MPI_Request r;
    check(MPI_Isend(at(buf.data, off, buf.dtype), c, t, peer, tag, as_comm(comm_), &r), "MPI_Isend");
    req->add(r);
  });
  return req;
}

std::unique_ptr<CommRequest> MpiCommunicator::irecv(Tensor buf, int peer, int tag) {
  require_host(buf, "irecv");
  AD_CHECK(peer >= 0 && peer < size_, "irecv: peer {} is outside [0, {})", peer, size_);
  auto req = std::make_unique<MpiRequest>(this, Wait{"recv from", peer});
  req->set_recv();
  MPI_Datatype t = mpi_type(buf.dtype);
  for_chunks(buf.numel(), [&](int64_t off, int c) {
    MPI_Request r;
    check(MPI_Irecv(at(buf.data, off, buf.dtype), c, t, peer, tag, as_comm(comm_), &r), "MPI_Irecv");
    req->add(r);
  });
  return req;
}

void MpiCommunicator::barrier() {
  small::Ctx x{*this, as_comm(comm_), rank_, size_, small_scratch_};
  small::barrier(x);
}

bool MpiCommunicator::all_gather_idle(const Tensor& send, Tensor recv, double timeout_s) {
  require_host(send, "all_gather_idle");
  require_host(recv, "all_gather_idle");
  AD_CHECK(recv.numel() == send.numel() * size_ && send.dtype == recv.dtype,
           "all_gather_idle: recv must hold {} blocks of send", size_);
  MPI_Request req = MPI_REQUEST_NULL;
  check(MPI_Iallgather(send.data, block_count(send.numel(), "all_gather_idle"), mpi_type(send.dtype), recv.data,
                       block_count(send.numel(), "all_gather_idle"), mpi_type(send.dtype), as_comm(comm_), &req),
        "MPI_Iallgather");
  // Its own limit, not --comm-timeout: idle ranks wait as long as a sweep's point may run. No spin: the wait is long.
  Backoff b(kSleepAtOnce);
  for (int done = 0;;) {
    check(MPI_Test(&req, &done, MPI_STATUS_IGNORE), "MPI_Test");
    if (done) return true;
    if (b.pause() > timeout_s) return false;
  }
}

// ---- raw calls for comm-bench --baseline ----

void MpiCommunicator::raw_all_reduce(const void* send, void* recv, int64_t count, DType t, ReduceOp op) {
  check(MPI_Allreduce(send == recv ? MPI_IN_PLACE : send, recv, int(count), mpi_type(t), mpi_op(t, op),
                      as_comm(comm_)),
        "MPI_Allreduce");
}
void MpiCommunicator::raw_all_gather(const void* send, void* recv, int64_t count, DType t) {
  const void* sb = send == at(recv, count * rank_, t) ? MPI_IN_PLACE : send;
  check(MPI_Allgather(sb, int(count), mpi_type(t), recv, int(count), mpi_type(t), as_comm(comm_)), "MPI_Allgather");
}
// In place (recv = send's block rank): MPI_IN_PLACE leaves the result at the front of send, from
// where it moves to this rank's block.
void MpiCommunicator::raw_reduce_scatter(void* send, void* recv, int64_t count, DType t, ReduceOp op) {
  const bool in_place = recv == at(send, count * rank_, t);
  check(MPI_Reduce_scatter_block(in_place ? MPI_IN_PLACE : send, in_place ? send : recv, int(count), mpi_type(t),
                                 mpi_op(t, op), as_comm(comm_)),
        "MPI_Reduce_scatter_block");
  if (in_place && recv != send) std::memmove(recv, send, size_t(count) * dtype_size(t));
}
void MpiCommunicator::raw_broadcast(void* buf, int64_t count, DType t, int root) {
  check(MPI_Bcast(buf, int(count), mpi_type(t), root, as_comm(comm_)), "MPI_Bcast");
}
void MpiCommunicator::raw_reduce(const void* send, void* recv, int64_t count, DType t, ReduceOp op, int root) {
  const void* sb = rank_ == root && send == recv ? MPI_IN_PLACE : send;
  check(MPI_Reduce(sb, recv, int(count), mpi_type(t), mpi_op(t, op), root, as_comm(comm_)), "MPI_Reduce");
}
void MpiCommunicator::raw_gather(const void* send, void* recv, int64_t count, DType t, int root) {
  const void* sb = rank_ == root && send == at(recv, count * root, t) ? MPI_IN_PLACE : send;
  check(MPI_Gather(sb, int(count), mpi_type(t), recv, int(count), mpi_type(t), root, as_comm(comm_)), "MPI_Gather");
}
void MpiCommunicator::raw_scatter(const void* send, void* recv, int64_t count, DType t, int root) {
  void* rb = rank_ == root && recv == at(const_cast<void*>(send), count * root, t) ? MPI_IN_PLACE : recv;
  check(MPI_Scatter(send, int(count), mpi_type(t), rb, int(count), mpi_type(t), root, as_comm(comm_)),
        "MPI_Scatter");
}
void MpiCommunicator::raw_sendrecv(const void* send, int dst, void* recv, int src, int64_t count, DType t) {
  check(MPI_Sendrecv(send, int(count), mpi_type(t), dst, 0, recv, int(count), mpi_type(t), src, 0, as_comm(comm_),
                     MPI_STATUS_IGNORE),
        "MPI_Sendrecv");
}
void MpiCommunicator::raw_isend_irecv(const void* send, void* recv, int64_t count, DType t, int peer) {
  MPI_Comm c = as_comm(comm_);
  MPI_Request rr, sr;
  check(MPI_Irecv(recv, int(count), mpi_type(t), peer, 0, c, &rr), "MPI_Irecv");
  check(MPI_Isend(send, int(count), mpi_type(t), peer, 0, c, &sr), "MPI_Isend");
  check(MPI_Wait(&rr, MPI_STATUS_IGNORE), "MPI_Wait");
  check(MPI_Wait(&sr, MPI_STATUS_IGNORE), "MPI_Wait");
}
void MpiCommunicator::raw_barrier() { check(MPI_Barrier(as_comm(comm_)), "MPI_Barrier"); }

}  // namespace autodist::dist
