// defines: Sim (a discrete-event replay of the per-rank programs of a schedule: compute, point-to-point messages,
//          signals between a rank's threads), Sim::Op
//
// Each actor (a rank's main thread, or its KV-sync thread) runs its ops in order. A message of b bytes is on the wire
// from the later of its send and its receive being posted (rendezvous; eager, from the send, when each of its parts is
// at most 4 KiB) for link.alpha + b share / link.bw (link.time). A receive ends when its message has arrived, a send's
// wait when it has left. The replay is exact for the program given; the programs are built in perf/predict.cpp to
// mirror the runtime's loops.
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "dist/comm_wait.h"
#include "perf/comm_model.h"

namespace autodist::perf {

// How a waiting rank behaves (dist/comm_wait.h's Backoff): it spins for spin_s (holding its core), yields until
// sleep_after_s (a yield gives the core to any other runnable rank), then sleeps in steps up to max_sleep, so a wait
// longer than that ends on average wake_s late. The defaults are dist::BackoffPolicy's.
struct WaitModel {
  double spin_s = std::chrono::duration<double>(dist::BackoffPolicy{}.spin).count();
  double sleep_after_s = std::chrono::duration<double>(dist::BackoffPolicy{}.sleep_after(false)).count();
  double wake_s = std::chrono::duration<double>(dist::BackoffPolicy{}.longest_sleep(false)).count() / 2;
};

class Sim {
 public:
  explicit Sim(WaitModel w = {}) : wait_(w) {}
  const WaitModel& wait_model() const { return wait_; }
  using Key = std::tuple<int, int, int64_t>;  // src actor, dst actor, message id
  enum class Kind { Compute, Isend, Irecv, WaitSend, WaitRecv, Signal, WaitSignal, Mark };
  struct Op {
    Kind kind;
    double seconds = 0;  // Compute
    int peer = -1;       // messages: the other actor
    int64_t id = 0;      // messages: id (unique per pair); signals and marks: their id
    double bytes = 0, share = 1;
    Link link;
    int parts = 1;  // messages: sent as this many back-to-back messages of bytes / parts
  };

  int add_actor();  // returns its index
  // tag: which phase the work belongs to (the intervals below keep it).
  void compute(int a, double s, int tag = 0) { push(a, Kind::Compute, s, -1, tag); }
  // Non-blocking send / receive; wait_* block until done. send() is isend + wait (a blocking MPI_Send of a small
  // message: eager, done at once). parts > 1: the bytes go as that many messages of bytes / parts posted together
  // (the KV sync's K and V of each layer), one after another on the link: parts x link.time(bytes / parts).
  void isend(int a, int to, int64_t id, double bytes, const Link& l, double share = 1, int parts = 1);
  void irecv(int a, int from, int64_t id);
  void wait_send(int a, int to, int64_t id) { push(a, Kind::WaitSend, 0, to, id); }
  void wait_recv(int a, int from, int64_t id) { push(a, Kind::WaitRecv, 0, from, id); }
  void recv(int a, int from, int64_t id) { irecv(a, from, id), wait_recv(a, from, id); }
  void send(int a, int to, int64_t id, double bytes, const Link& l, double share = 1) {
    isend(a, to, id, bytes, l, share), wait_send(a, to, id);
  }
  void signal(int a, int64_t id) { push(a, Kind::Signal, 0, -1, id); }
  void wait_signal(int a, int64_t id) { push(a, Kind::WaitSignal, 0, -1, id); }
  void mark(int a, int64_t id) { push(a, Kind::Mark, 0, -1, id); }

  // Replays every actor from time `t0`; throws when the programs deadlock (a bug in the program builder).
  void run(double t0 = 0);
  double mark_time(int a, int64_t id) const;  // the last time actor a passed mark id
  double end_time(int a) const { return clock_[a]; }
  struct Interval {
    double t0, t1;
    int tag;
  };
  // Actor a's compute, in time order, after run().
  const std::vector<Interval>& intervals(int a) const { return iv_[static_cast<size_t>(a)]; }

 private:
  struct Msg {
    double send_post = -1, recv_post = -1, bytes = 0, share = 1;
    int parts = 1;
    Link link;
    bool posted_send = false, posted_recv = false;
    bool eager() const;  // each part small enough to leave before its receive is posted
    double done() const;
  };
  void push(int a, Kind k, double s, int peer = -1, int64_t id = 0) {
    Op o{};
    o.kind = k, o.seconds = s, o.peer = peer, o.id = id;
    ops_[a].push_back(o);
  }
  bool step(int a);  // runs actor a's next op if it can; false when blocked or finished
  std::vector<std::vector<Op>> ops_;
  std::vector<size_t> pc_;
  WaitModel wait_;
  std::vector<double> clock_;
  std::vector<std::vector<Interval>> iv_;
  std::map<Key, Msg> msgs_;
  std::map<int64_t, double> signals_;
  std::map<std::pair<int, int64_t>, double> marks_;
};

}  // namespace autodist::perf
