#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

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

using autodist::dist::place_ranks;
using autodist::dist::RankPlacement;

TEST_CASE("placement: 2 hosts x 2 ranks round-robin -> each tp pair on one host, stages across hosts") {
  // mpirun --map-by node: world ranks 0, 2 on a and 1, 3 on b
  RankPlacement p = place_ranks({"a", "b", "a", "b"}, 2);
  CHECK(p.logical == std::vector<int>{0, 2, 1, 3});  // tp group 0 = world ranks 0, 2; group 1 = 1, 3
  CHECK(p.local_rank == std::vector<int>{0, 0, 1, 1});
  CHECK(p.hosts == std::vector<std::string>{"a", "a", "b", "b"});
  CHECK(p.host_count == 2);
  CHECK(p.warning.empty());
  // logical 0, 1 (tp 0, 1 of stage 0) on a; logical 2, 3 (stage 1) on b
  CHECK(Topology::make(4, p.logical[2], 2, 2).pp_rank() == 0);
  CHECK(Topology::make(4, p.logical[1], 2, 2).pp_rank() == 1);
  CHECK(autodist::dist::placement_str(p, 2) == "a: 0 (tp 0 pp 0), 2 (tp 1 pp 0); b: 1 (tp 0 pp 1), 3 (tp 1 pp 1)");
}

TEST_CASE("placement: block placement and a single host keep the world order") {
  RankPlacement p = place_ranks({"a", "a", "b", "b"}, 2);
  CHECK(p.logical == std::vector<int>{0, 1, 2, 3});
  CHECK(p.local_rank == std::vector<int>{0, 1, 0, 1});
  RankPlacement one = place_ranks({"x", "x", "x"}, 1);
  CHECK(one.logical == std::vector<int>{0, 1, 2});
  CHECK(one.local_rank == std::vector<int>{0, 1, 2});
  CHECK(one.host_count == 1);
  CHECK(one.warning.empty());
  // pp 2 across hosts, one rank each: host order is first appearance by world rank, not the names' order
  RankPlacement pp = place_ranks({"zz", "aa"}, 1);
  CHECK(pp.logical == std::vector<int>{0, 1});
  CHECK(pp.hosts == std::vector<std::string>{"zz", "aa"});
}

TEST_CASE("placement: a tp group that must span hosts is named in one warning") {
  // tp 4 on 2 hosts of 2 ranks, round-robin: the group still gets host a's ranks first
  RankPlacement p = place_ranks({"a", "b", "a", "b"}, 4);
  CHECK(p.logical == std::vector<int>{0, 2, 1, 3});
  CHECK(p.warning.find("group 0 (world ranks 0,2,1,3) on a,b") != std::string::npos);
  CHECK(p.warning.find("--tensor-parallel-size 4") != std::string::npos);
  // uneven hosts: a has 3 ranks, b 1; tp 2 -> group 0 on a, group 1 on a,b
  RankPlacement u = place_ranks({"a", "a", "b", "a"}, 2);
  CHECK(u.logical == std::vector<int>{0, 1, 3, 2});
  CHECK(u.warning.find("group 1 (world ranks 3,2) on a,b") != std::string::npos);
  CHECK(u.warning.find("group 0") == std::string::npos);
  CHECK_THROWS_WITH_AS(place_ranks({"a", "a", "a"}, 2), doctest::Contains("3 ranks do not split"), Error);
}
