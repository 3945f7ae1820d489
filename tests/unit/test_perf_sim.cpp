// The discrete-event replay of perf/sim.h on hand-timed programs: a rendezvous message starts when both sides have
// posted, an eager one when it is sent, and a message in parts costs each part's time on the link in turn.
#include <doctest/doctest.h>

#include "perf/sim.h"

using namespace autodist::perf;

namespace {
// 1 ms per message plus 1 us per byte, no measured points: link.time(b) = 1e-3 + b * 1e-6.
const Link kLink{1e-3, 1e6, {}};
}  // namespace

TEST_CASE("perf sim: rendezvous waits for the receive, eager leaves at once") {
  WaitModel w;
  w.sleep_after_s = 1e9;  // no late wake-ups in this test
  Sim sim(w);
  const int a = sim.add_actor(), b = sim.add_actor();
  sim.isend(a, b, 1, 8192, kLink);  // rendezvous: on the wire once b posts at t = 5 ms
  sim.wait_send(a, b, 1);
  sim.mark(a, 1);
  sim.isend(a, b, 2, 100, kLink);  // eager: on the wire from its send
  sim.wait_send(a, b, 2);
  sim.mark(a, 2);
  sim.compute(b, 5e-3);
  sim.recv(b, a, 1);
  sim.recv(b, a, 2);
  sim.mark(b, 3);
  sim.run();
  const double t1 = 5e-3 + 1e-3 + 8192e-6;
  CHECK(sim.mark_time(a, 1) == doctest::Approx(t1));
  CHECK(sim.mark_time(a, 2) == doctest::Approx(t1));  // an eager send's wait does not block
  CHECK(sim.mark_time(b, 3) == doctest::Approx(t1 + 1e-3 + 100e-6));
}

TEST_CASE("perf sim: a message in parts pays every part's latency and the interpolation at the part's size") {
  WaitModel w;
  w.sleep_after_s = 1e9;
  Sim sim(w);
  const int a = sim.add_actor(), b = sim.add_actor();
  sim.irecv(b, a, 1);
  sim.isend(a, b, 1, 80000, kLink, 1, 8);  // 8 messages of 10000 bytes
  sim.wait_recv(b, a, 1);
  sim.mark(b, 1);
  sim.run();
  CHECK(sim.mark_time(b, 1) == doctest::Approx(8 * (1e-3 + 10000e-6)));
  // Measured points: the part's size is looked up, not the whole message's (a 4 MiB block sent as 512 KiB layers).
  Link m = kLink;
  m.measured = {{1000, 1e-3}, {10000, 2e-3}, {80000, 1.0}};
  Sim s2(w);
  const int c = s2.add_actor(), d = s2.add_actor();
  s2.irecv(d, c, 1);
  s2.isend(c, d, 1, 80000, m, 1, 8);
  s2.wait_recv(d, c, 1);
  s2.mark(d, 1);
  s2.run();
  CHECK(s2.mark_time(d, 1) == doctest::Approx(8 * 2e-3));
}
