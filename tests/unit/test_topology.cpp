#include <doctest/doctest.h>

#include <set>

#include "core/error.h"
#include "dist/topology.h"

using namespace autodist;
using autodist::dist::Topology;

TEST_CASE("topology: every rank of tp 2 x pp 3, Megatron order") {
  std::set<std::pair<int, int>> seen;
  for (int r = 0; r < 6; ++r) {
    Topology t = Topology::make(6, r, 2, 3);
    CHECK(t.tp_rank() == r % 2);
    CHECK(t.pp_rank() == r / 2);
    CHECK(t.rank_of(t.pp_rank(), t.tp_rank()) == r);
    CHECK(t.first_stage() == (r < 2));
    CHECK(t.last_stage() == (r >= 4));
    seen.insert({t.pp_rank(), t.tp_rank()});
  }
  CHECK(seen.size() == 6);  // a bijection onto the grid
}

TEST_CASE("topology: bad sizes say what to launch") {
  CHECK_THROWS_WITH_AS(Topology::make(2, 0, 2, 2), doctest::Contains("launch with mpirun -np 4"), Error);
  CHECK_THROWS_WITH_AS(Topology::make(1, 0, 0, 1), doctest::Contains("must be >= 1"), Error);
  CHECK_THROWS_AS(Topology::make(4, 4, 2, 2), Error);
}
