#include "perf/sim.h"

#include <algorithm>

#include "core/error.h"

namespace autodist::perf {

namespace {
constexpr double kEagerBytes = 4096;
}

int Sim::add_actor() {
  ops_.emplace_back();
  pc_.push_back(0);
  clock_.push_back(0);
  return static_cast<int>(ops_.size()) - 1;
}

void Sim::isend(int a, int to, int64_t id, double bytes, const Link& l, double share, int parts) {
  AD_CHECK(parts >= 1, "perf sim: a message of {} parts", parts);
  Op o{Kind::Isend, 0, to, id, bytes, share, l, parts};
  ops_[a].push_back(o);
}

void Sim::irecv(int a, int from, int64_t id) { push(a, Kind::Irecv, 0, from, id); }

bool Sim::Msg::eager() const { return bytes / parts <= kEagerBytes; }

double Sim::Msg::done() const {
  const double start = eager() ? send_post : std::max(send_post, recv_post);
  return start + parts * link.time(bytes / parts, share);
}

bool Sim::step(int a) {
  if (pc_[a] >= ops_[a].size()) return false;
  const Op& o = ops_[a][pc_[a]];
  double& t = clock_[a];
  // A wait that outlasts the busy phase ends when the sleeping rank wakes up.
  auto waited_until = [&](double done) {
    if (done - t > wait_.sleep_after_s) done += wait_.wake_s;
    t = std::max(t, done);
  };
  switch (o.kind) {
    case Kind::Compute:
      if (o.seconds > 0) iv_[static_cast<size_t>(a)].push_back({t, t + o.seconds, static_cast<int>(o.id)});
      t += o.seconds;
      break;
    case Kind::Isend: {
      Msg& m = msgs_[{a, o.peer, o.id}];
      AD_CHECK(!m.posted_send, "perf sim: message {} from {} to {} sent twice", o.id, a, o.peer);
      m.posted_send = true, m.send_post = t, m.bytes = o.bytes, m.share = o.share, m.link = o.link, m.parts = o.parts;
      break;
    }
    case Kind::Irecv: {
      Msg& m = msgs_[{o.peer, a, o.id}];
      AD_CHECK(!m.posted_recv, "perf sim: message {} from {} to {} received twice", o.id, o.peer, a);
      m.posted_recv = true, m.recv_post = t;
      break;
    }
    case Kind::WaitSend: {
      const Msg& m = msgs_[{a, o.peer, o.id}];
      if (m.eager()) break;
      if (!m.posted_recv) return false;
      waited_until(m.done());
      break;
    }
    case Kind::WaitRecv: {
      const Msg& m = msgs_[{o.peer, a, o.id}];
      if (!m.posted_send) return false;
      waited_until(m.done());
      break;
    }
    case Kind::Signal: signals_[o.id] = t; break;
    case Kind::WaitSignal: {
      auto it = signals_.find(o.id);
      if (it == signals_.end()) return false;
      t = std::max(t, it->second);
      break;
    }
    case Kind::Mark: marks_[{a, o.id}] = t; break;
  }
  ++pc_[a];
  return true;
}

void Sim::run(double t0) {
  for (auto& c : clock_) c = t0;
  std::fill(pc_.begin(), pc_.end(), 0);
  msgs_.clear();
  signals_.clear();
  marks_.clear();
  iv_.assign(ops_.size(), {});
  for (;;) {
    bool progress = false, left = false;
    for (int a = 0; a < static_cast<int>(ops_.size()); ++a) {
      while (step(a)) progress = true;
      if (pc_[a] < ops_[a].size()) left = true;
    }
    if (!left) return;
    AD_CHECK(progress, "perf sim: the schedule deadlocks (actor programs wait on each other)");
  }
}

double Sim::mark_time(int a, int64_t id) const {
  auto it = marks_.find({a, id});
  AD_CHECK(it != marks_.end(), "perf sim: actor {} never passed mark {}", a, id);
  return it->second;
}

}  // namespace autodist::perf
