#include "dist/mpi_small.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace autodist::dist::small {
namespace {

size_t type_bytes(const Ctx& x, MPI_Datatype t) {
  int s = 0;
  x.c.check(MPI_Type_size(t, &s), "MPI_Type_size");
  return size_t(s);
}

constexpr size_t kPage = 4096;
size_t page_up(size_t bytes) { return (bytes + kPage - 1) / kPage * kPage; }

// Page-aligned (parts of it too, at page_up offsets): Open MPI's single-copy receives into a heap address 16 bytes
// past a page boundary ran 2-4x slower than into a page-aligned one (2 ranks, 1 MiB received into scratch and
// summed: ~400-800 us against ~200).
char* scratch(const Ctx& x, size_t bytes) {
  if (x.scratch.size() < bytes + kPage) x.scratch.resize(bytes + kPage);
  const auto p = reinterpret_cast<std::uintptr_t>(x.scratch.data());
  return x.scratch.data() + (kPage - p % kPage) % kPage;
}

// The requests of one round; waits for all of them through the communicator's bounded, backing-off wait.
class Round {
 public:
  Round(const Ctx& x, const char* op) : x_(x), op_(op) {}
  void send(const void* buf, int count, MPI_Datatype t, int peer) {
    x_.c.check(MPI_Isend(buf, count, t, peer, kTag, x_.comm, &r_[n_++]), "MPI_Isend");
  }
  void recv(void* buf, int count, MPI_Datatype t, int peer) {
    x_.c.check(MPI_Irecv(buf, count, t, peer, kTag, x_.comm, &r_[n_++]), "MPI_Irecv");
  }
  // A timeout names the collective and its ranks, as for MPI's own collectives.
  void wait() {
    if (n_ == 0) return;
    x_.c.wait_all(r_, n_, MpiCommunicator::Wait{op_});
    n_ = 0;
  }
  // Posts a receive and waits for it alone; the round's other requests stay pending.
  void recv_now(void* buf, int count, MPI_Datatype t, int peer) {
    MPI_Request r = MPI_REQUEST_NULL;
    x_.c.check(MPI_Irecv(buf, count, t, peer, kTag, x_.comm, &r), "MPI_Irecv");
    x_.c.wait_all(&r, 1, MpiCommunicator::Wait{op_});
  }
  // Up to kMax requests per round; a larger fan-out (gather on many ranks) waits every kMax / 2.
  bool full() const { return n_ + 2 > kMax; }
  static constexpr int kMax = 64;

 private:
  const Ctx& x_;
  const char* op_;
  MPI_Request r_[kMax];
  int n_ = 0;
};

void combine(const Ctx& x, const void* in, void* inout, int count, MPI_Datatype t, MPI_Op op) {
  x.c.check(MPI_Reduce_local(in, inout, count, t, op), "MPI_Reduce_local");
}

// A message in segments of about kSegmentBytes, at most kMaxSegments of them; the last one may be shorter.
struct Segments {
  Segments(int count, size_t type_bytes) : total(count), tb(type_bytes) {
    elems = std::max<int64_t>({1, int64_t(kSegmentBytes / tb), (total + kMaxSegments - 1) / kMaxSegments});
    n = total == 0 ? 1 : int((total + elems - 1) / elems);
  }
  size_t off(int j) const { return size_t(j) * size_t(elems) * tb; }
  int count(int j) const { return int(std::min<int64_t>(elems, total - int64_t(j) * elems)); }
  size_t max_bytes() const { return size_t(std::min<int64_t>(elems, total)) * tb; }
  int64_t total, elems = 1;
  size_t tb;
  int n = 1;
};
static_assert(2 * kMaxSegments <= Round::kMax, "a round holds one message's segments twice over");

}  // namespace

// Dissemination: round k sends to rank + 2^k and receives from rank - 2^k; after ceil(log2 n) rounds every rank has
// heard, directly or not, from every other.
void barrier(const Ctx& x) {
  Round rd(x, "barrier");
  for (int k = 1; k < x.size; k <<= 1) {
    rd.recv(nullptr, 0, MPI_BYTE, (x.rank - k + x.size) % x.size);
    rd.send(nullptr, 0, MPI_BYTE, (x.rank + k) % x.size);
    rd.wait();
  }
}

// Recursive doubling over the largest power of two p2 <= n; ranks p2.. first fold their values into rank - p2 and get
// the result back at the end.
void all_reduce(const Ctx& x, const void* send, void* recv, int count, MPI_Datatype t, MPI_Op op) {
  const size_t bytes = size_t(count) * type_bytes(x, t);
  if (send != recv) std::memcpy(recv, send, bytes);
  if (x.size == 1) return;
  int p2 = 1;
  while (p2 * 2 <= x.size) p2 *= 2;
  char* tmp = scratch(x, bytes);
  Round rd(x, "all_reduce");
  if (x.rank >= p2) {
    rd.send(recv, count, t, x.rank - p2);
    rd.wait();
    rd.recv(recv, count, t, x.rank - p2);
    rd.wait();
    return;
  }
  if (x.rank < x.size - p2) {
    rd.recv(tmp, count, t, x.rank + p2);
    rd.wait();
    combine(x, tmp, recv, count, t, op);
  }
  for (int mask = 1; mask < p2; mask <<= 1) {
    const int peer = x.rank ^ mask;
    rd.recv(tmp, count, t, peer);
    rd.send(recv, count, t, peer);
    rd.wait();
    combine(x, tmp, recv, count, t, op);
  }
  if (x.rank < x.size - p2) {
    rd.send(recv, count, t, x.rank + p2);
    rd.wait();
  }
}

// Binomial tree from the root (ranks relative to it): receive from the parent, then send to each child.
void broadcast(const Ctx& x, void* buf, int count, MPI_Datatype t, int root) {
  const int n = x.size, vr = (x.rank - root + n) % n;
  Round rd(x, "broadcast");
  int mask = 1;
  for (; mask < n; mask <<= 1) {
    if (vr & mask) {
      rd.recv(buf, count, t, (vr - mask + root) % n);
      rd.wait();
      break;
    }
  }
  for (mask >>= 1; mask > 0; mask >>= 1)
    if (vr + mask < n) rd.send(buf, count, t, (vr + mask + root) % n);
  rd.wait();
}

// Binomial tree to the root, segment by segment: each rank adds its children's partial sums of a segment to its own,
// then sends the segment on to its parent while it receives the next (so a parent's sum overlaps its children's
// sending). The first child's partial sum arrives in the accumulator itself and a leaf sends from send: send is never
// copied (the ops are commutative: adding mine to the child's gives the same bits as the child's to mine).
void reduce(const Ctx& x, const void* send, void* recv, int count, MPI_Datatype t, MPI_Op op, int root) {
  const int n = x.size, vr = (x.rank - root + n) % n;
  const size_t bytes = size_t(count) * type_bytes(x, t);
  int parent = -1, top = n;  // the children are vr | mask for mask < top (vr's lowest set bit) while that is < n
  for (int mask = 1; mask < n; mask <<= 1)
    if (vr & mask) {
      parent = ((vr & ~mask) + root) % n;
      top = mask;
      break;
    }
  const char* mine = static_cast<const char*>(send);
  const Segments sg(count, type_bytes(x, t));
  Round rd(x, "reduce");
  if (top == 1 || vr + 1 >= n) {  // no children
    if (parent < 0 && recv != send) std::memcpy(recv, send, bytes);  // one rank
    for (int j = 0; parent >= 0 && j < sg.n; ++j) rd.send(mine + sg.off(j), sg.count(j), t, parent);
    rd.wait();
    return;
  }
  const size_t acc_bytes = parent >= 0 ? page_up(bytes) : 0;  // a non-root's sums, then one segment
  char* base = scratch(x, acc_bytes + sg.max_bytes());
  char* acc = parent >= 0 ? base : static_cast<char*>(recv);
  char* work = base + acc_bytes;
  for (int j = 0; j < sg.n; ++j) {
    const size_t o = sg.off(j);
    const int c = sg.count(j);
    for (int mask = 1; mask < top && (vr | mask) < n; mask <<= 1) {
      const bool direct = mask == 1 && acc != mine;  // the first child's sum lands in acc
      rd.recv_now(direct ? acc + o : work, c, t, ((vr | mask) + root) % n);
      combine(x, direct ? mine + o : work, acc + o, c, t, op);
    }
    if (parent >= 0) rd.send(acc + o, c, t, parent);
  }
  rd.wait();
}

void gather(const Ctx& x, const void* send, void* recv, int count, MPI_Datatype t, int root) {
  const size_t bytes = size_t(count) * type_bytes(x, t);
  Round rd(x, "gather");
  if (x.rank != root) {
    rd.send(send, count, t, root);
    rd.wait();
    return;
  }
  char* out = static_cast<char*>(recv);
  if (out + size_t(root) * bytes != send) std::memcpy(out + size_t(root) * bytes, send, bytes);
  for (int r = 0; r < x.size; ++r) {
    if (r == root) continue;
    rd.recv(out + size_t(r) * bytes, count, t, r);
    if (rd.full()) rd.wait();
  }
  rd.wait();
}

void scatter(const Ctx& x, const void* send, void* recv, int count, MPI_Datatype t, int root) {
  const size_t bytes = size_t(count) * type_bytes(x, t);
  Round rd(x, "scatter");
  if (x.rank != root) {
    rd.recv(recv, count, t, root);
    rd.wait();
    return;
  }
  const char* in = static_cast<const char*>(send);
  if (in + size_t(root) * bytes != recv) std::memcpy(recv, in + size_t(root) * bytes, bytes);
  for (int r = 0; r < x.size; ++r) {
    if (r == root) continue;
    rd.send(in + size_t(r) * bytes, count, t, r);
    if (rd.full()) rd.wait();
  }
  rd.wait();
}

// One round: every rank sends its block to every other and receives theirs.
void all_gather(const Ctx& x, const void* send, void* recv, int count, MPI_Datatype t) {
  const size_t bytes = size_t(count) * type_bytes(x, t);
  char* out = static_cast<char*>(recv);
  char* mine = out + size_t(x.rank) * bytes;
  if (mine != send) std::memcpy(mine, send, bytes);
  Round rd(x, "all_gather");
  for (int k = 1; k < x.size; ++k) {
    const int to = (x.rank + k) % x.size, from = (x.rank - k + x.size) % x.size;
    rd.recv(out + size_t(from) * bytes, count, t, from);
    rd.send(mine, count, t, to);
    if (rd.full()) rd.wait();
  }
  rd.wait();
}

// One round: block r of every rank goes to rank r, which combines them in rank order.
void reduce_scatter(const Ctx& x, const void* send, void* recv, int count, MPI_Datatype t, MPI_Op op) {
  const size_t bytes = size_t(count) * type_bytes(x, t);
  const char* in = static_cast<const char*>(send);
  char* got = scratch(x, size_t(x.size) * bytes);  // got[r]: rank r's block for this rank
  Round rd(x, "reduce_scatter");
  for (int k = 1; k < x.size; ++k) {
    const int to = (x.rank + k) % x.size, from = (x.rank - k + x.size) % x.size;
    rd.recv(got + size_t(from) * bytes, count, t, from);
    rd.send(in + size_t(to) * bytes, count, t, to);
    if (rd.full()) rd.wait();
  }
  rd.wait();
  // recv may be send's own block (in place): take it first, then add the others.
  std::memmove(recv, in + size_t(x.rank) * bytes, bytes);
  for (int r = 0; r < x.size; ++r)
    if (r != x.rank) combine(x, got + size_t(r) * bytes, recv, count, t, op);
}

// Ring: n-1 steps; at step k rank r sends the block it got at step k-1 (its own at step 0) to r+1 and receives block
// r-k-1 from r-1. Its own block is copied into recv while the first messages are in flight.
void all_gather_ring(const Ctx& x, const void* send, void* recv, int count, MPI_Datatype t) {
  const int n = x.size, r = x.rank;
  const size_t bytes = size_t(count) * type_bytes(x, t);
  char* out = static_cast<char*>(recv);
  auto slot = [&](int b) { return out + size_t((b % n + n) % n) * bytes; };
  const bool copy = slot(r) != send;
  if (n == 1 && copy) std::memcpy(out, send, bytes);
  Round rd(x, "all_gather");
  for (int k = 0; k < n - 1; ++k) {
    rd.recv(slot(r - k - 1), count, t, (r - 1 + n) % n);
    rd.send(k == 0 ? send : slot(r - k), count, t, (r + 1) % n);
    if (k == 0 && copy) std::memcpy(slot(r), send, bytes);
    rd.wait();
  }
}

// Ring: n-1 steps; at step k rank r receives from r-1 the partial sum of block r-k-2, adds its own block to it and,
// but at the last step (block r, the result), sends it on to r+1 at step k+1. Segment by segment: each one goes on
// as soon as it is summed, so the successor's receive overlaps this rank's sum, and a sum reads a segment that has
// just arrived (still in cache).
void reduce_scatter_ring(const Ctx& x, const void* send, void* recv, int count, MPI_Datatype t, MPI_Op op) {
  const int n = x.size, r = x.rank;
  const size_t bytes = size_t(count) * type_bytes(x, t);
  const char* in = static_cast<const char*>(send);
  auto block = [&](int b) { return in + size_t((b % n + n) % n) * bytes; };
  char* out = static_cast<char*>(recv);
  const bool in_place = out == block(r);
  if (n == 1 && !in_place) std::memcpy(out, in, bytes);
  if (n == 1) return;
  const Segments sg(count, type_bytes(x, t));
  // buf[k % 2]: the partial sums that arrive at step k (n > 2); at the last step recv itself, or (in place) a scratch
  // block from which they are added to recv, which holds this rank's own block.
  char* b0 = scratch(x, n > 2 ? 2 * page_up(bytes) : in_place ? bytes : 0);
  char* buf[2] = {b0, n > 2 ? b0 + page_up(bytes) : b0};
  const int next = (r + 1) % n, prev = (r - 1 + n) % n;
  Round rd[2] = {{x, "reduce_scatter"}, {x, "reduce_scatter"}};  // the sends of steps k and k+1
  for (int j = 0; j < sg.n; ++j) rd[0].send(block(r - 1) + sg.off(j), sg.count(j), t, next);
  for (int k = 0; k < n - 1; ++k) {
    const bool last = k == n - 2;
    const char* own = block(r - k - 2);
    char* dst = last && !in_place ? out : buf[k % 2];
    for (int j = 0; j < sg.n; ++j) {
      const size_t o = sg.off(j);
      const int c = sg.count(j);
      rd[k % 2].recv_now(dst + o, c, t, prev);
      if (last && in_place) combine(x, dst + o, out + o, c, t, op);
      else combine(x, own + o, dst + o, c, t, op);
      if (!last) rd[(k + 1) % 2].send(dst + o, c, t, next);
    }
    rd[k % 2].wait();  // these sends read buf[(k + 1) % 2], where step k+1's sums arrive
  }
}

// reduce_scatter_ring of size blocks into this rank's block of recv, then all_gather_ring of the blocks in place: each
// block is summed on one rank only, so every rank gets the same bits. The count % size elements past the blocks go
// by recursive doubling.
void all_reduce_ring(const Ctx& x, const void* send, void* recv, int count, MPI_Datatype t, MPI_Op op) {
  const int n = x.size, block = count / n, tail = count - block * n;
  const size_t tb = type_bytes(x, t), body = size_t(n) * size_t(block) * tb;
  char* out = static_cast<char*>(recv);
  char* own = out + size_t(x.rank) * size_t(block) * tb;
  if (block > 0) {
    reduce_scatter_ring(x, send, own, block, t, op);
    all_gather_ring(x, own, recv, block, t);
  }
  if (tail > 0) all_reduce(x, static_cast<const char*>(send) + body, out + body, tail, t, op);
}

}  // namespace autodist::dist::small
