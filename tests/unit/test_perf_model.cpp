// The performance model's pieces against numbers worked out by hand: the alpha-beta fit, the ring collectives,
// the profile's interpolation and file format, the cluster description.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "perf/cluster.h"
#include "perf/comm_model.h"
#include "perf/profile.h"

using namespace autodist;
using namespace autodist::perf;

namespace {
std::string write_temp(const std::string& name, const std::string& text) {
  const auto p = std::filesystem::temp_directory_path() / ("autodist_test_perf_" + name);
  std::ofstream(p) << text;
  return p.string();
}
}  // namespace

TEST_CASE("perf: the alpha-beta fit recovers the latency and bandwidth of synthetic rows") {
  const double alpha = 12e-6, bw = 3.5e9;  // 12 us, 3.5 GB/s
  std::vector<std::pair<double, double>> rows;
  for (double n = 1024; n <= 64 * 1048576.0; n *= 4) rows.emplace_back(n, alpha + n / bw);
  const Link l = fit_alpha_beta(rows, "synthetic");
  CHECK(l.alpha_s == doctest::Approx(alpha).epsilon(1e-6));
  CHECK(l.bw_Bps == doctest::Approx(bw).epsilon(1e-6));
  // From comm-bench rows: sendrecv out-of-place rows only (the in-place and other ops are ignored).
  std::vector<CommRow> cr;
  for (auto [n, t] : rows) cr.push_back({"sendrecv", "out-of-place", 2, n, t});
  cr.push_back({"all_reduce", "in-place", 2, 1e6, 1.0});
  const Link l2 = link_from_comm_rows(cr, "rows");
  CHECK(l2.alpha_s == doctest::Approx(alpha).epsilon(1e-6));
  CHECK(l2.bw_Bps == doctest::Approx(bw).epsilon(1e-6));
}

TEST_CASE("perf: a link from comm-bench rows interpolates its measurements") {
  // 1 KiB 100 us, 4 KiB 400 us, 1 MiB 100 ms (the bandwidth falls with the size, as on a shaped TCP link).
  const std::vector<CommRow> rows = {{"sendrecv", "out-of-place", 2, 1024, 100e-6},
                                     {"sendrecv", "out-of-place", 2, 4096, 400e-6},
                                     {"sendrecv", "out-of-place", 2, 1048576, 0.1},
                                     {"all_reduce", "out-of-place", 2, 4096, 1.0}};  // not a sendrecv row: ignored
  const Link l = link_from_comm_rows(rows, "rows");
  REQUIRE(l.measured.size() == 3);
  CHECK(l.time(2048) == doctest::Approx(200e-6));                           // between 1 and 4 KiB
  CHECK(l.time(1024, 2) == doctest::Approx(200e-6));                        // two flows: 2 KiB through the link
  CHECK(l.time(4096 + (1048576 - 4096) / 2.0) == doctest::Approx(0.0502));  // halfway to 1 MiB
  CHECK(l.time(2 * 1048576.0) == doctest::Approx(0.1 + 1048576 / l.bw_Bps));  // beyond: the fit's slope
  CHECK(l.time(0) >= l.alpha_s);
}

TEST_CASE("perf: the alpha-beta fit refuses rows that give no bandwidth") {
  CHECK_THROWS_WITH_AS(fit_alpha_beta({{1024, 1e-5}}, "f.csv"), doctest::Contains("at least two message sizes"), Error);
  CHECK_THROWS_WITH_AS(fit_alpha_beta({{1024, 1e-5}, {1024, 2e-5}}, "f.csv"), doctest::Contains("same size"), Error);
  CHECK_THROWS_WITH_AS(fit_alpha_beta({{1024, 2e-5}, {4096, 1e-5}}, "f.csv"),
                       doctest::Contains("do not grow with the message size"), Error);
}

TEST_CASE("perf: ring all_reduce and all_gather times on a hand-computed case") {
  const Link l{10e-6, 1e9};  // 10 us, 1 GB/s
  // 4 ranks, 4 MB: 2 (p-1) = 6 messages of 1 MB: 6 x (10 us + 1 ms) = 6.06 ms.
  CHECK(ring_all_reduce_s(l, 4, 4e6) == doctest::Approx(6.06e-3));
  // Two flows sharing the link: each message takes twice the transfer time.
  CHECK(ring_all_reduce_s(l, 4, 4e6, 2) == doctest::Approx(6 * (10e-6 + 2e-3)));
  // all_gather of 4 blocks of 1 MB: 3 messages.
  CHECK(ring_all_gather_s(l, 4, 1e6) == doctest::Approx(3 * 1.01e-3));
  CHECK(ring_all_reduce_s(l, 1, 4e6) == 0);
  CHECK(p2p_s(l, 2e6) == doctest::Approx(2.01e-3));
}

TEST_CASE("perf: a token bucket on the link lets an all_reduce after an idle gap skip the rate for its bytes") {
  Link l{10e-6, 1e6};  // 10 us, 1 MB/s
  // tp 2, 4000 B: two messages of 2000 B, 2.01 ms each back to back.
  CHECK(ring_all_reduce_s(l, 2, 4000, 1, 1.0) == doctest::Approx(4.02e-3));  // no bucket: idle time changes nothing
  l.burst_B = 3000;
  CHECK(ring_all_reduce_s(l, 2, 4000) == doctest::Approx(4.02e-3));  // no idle time: the bucket is empty
  // A full bucket: the first message takes 2000 B from it (10 us, the latency), which leaves 1000 + 10 us x 1 MB/s;
  // the second pays the rate for 2000 - 1010 B: 10 us + 0.99 ms.
  CHECK(ring_all_reduce_s(l, 2, 4000, 1, 1.0) == doctest::Approx(10e-6 + 1.0e-3));
  // 1 ms idle fills 1000 B: 1.01 ms, then 1010 B left over: 1.0 ms.
  CHECK(ring_all_reduce_s(l, 2, 4000, 1, 1e-3) == doctest::Approx(1.01e-3 + 1.0e-3));
}

TEST_CASE("perf: GEMM curves interpolate in M and scale to unmeasured shapes") {
  Profile p;
  p.gemms.push_back({1000, 100, {{1, 1e-3}, {4, 1e-3}, {16, 4e-3}}});
  CHECK(p.gemm(1, 1000, 100) == doctest::Approx(1e-3));    // floor
  CHECK(p.gemm(10, 1000, 100) == doctest::Approx(2.5e-3));  // between 4 and 16
  CHECK(p.gemm(32, 1000, 100) == doctest::Approx(8e-3));    // linear beyond the last
  CHECK(p.gemm(16, 500, 100) == doctest::Approx(2e-3));     // half the N K: half the time
  LinFit f = fit_line({{0, 1}, {10, 21}, {20, 41}});
  CHECK(f.a == doctest::Approx(1));
  CHECK(f.b == doctest::Approx(2));
}

TEST_CASE("perf: a profile survives its JSON file and bad files are refused by name") {
  Profile p;
  p.model = "m";
  p.gemms.push_back({8, 4, {{1, 1e-6}, {8, 2e-6}}});
  p.ops["rmsnorm"] = {1e-7, 2e-9};
  p.contention_decode = {1.0, 1.5};
  const Profile q = profile_from_json(profile_to_json(p), "p.json");
  CHECK(q.gemm(8, 8, 4) == doctest::Approx(2e-6));
  CHECK(q.op("rmsnorm", 100) == doctest::Approx(1e-7 + 2e-7));
  CHECK(q.contention(1.5, true) == doctest::Approx(1.25));
  CHECK(q.sync(2, 1) == 1.0);  // none measured: no waits
  CHECK_THROWS_WITH_AS(q.op("rope", 1), doctest::Contains("no measurement of the 'rope' kernel"), Error);
  auto j = profile_to_json(p);
  j.erase("gemm");
  CHECK_THROWS_WITH_AS(profile_from_json(j, "p.json"), doctest::Contains("p.json: missing key 'gemm'"), Error);
  CHECK_THROWS_WITH_AS(profile_from_json(nlohmann::json{{"format", "x"}}, "p.json"),
                       doctest::Contains("not an autodist profile"), Error);
}

TEST_CASE("perf: the profile's tensor-parallel sync factors by tp and rows, from its file; older files have none") {
  Profile p;
  p.model = "m";
  p.gemms.push_back({8, 4, {{1, 1e-6}}});
  p.sync_decode = {1.0, 1.1, 1.2};
  p.sync_prefill = {1.0, 1.02, 1.04};
  const Profile q = profile_from_json(profile_to_json(p), "p.json");
  CHECK(q.sync(1, 1) == 1.0);
  CHECK(q.sync(2, 1) == doctest::Approx(1.1));
  CHECK(q.sync(3, 16) == doctest::Approx(1.2));
  CHECK(q.sync(8, 1) == doctest::Approx(1.2));  // beyond the measured: the last
  CHECK(q.sync(2, 128) == doctest::Approx(1.02));
  CHECK(q.sync(2, 45) == doctest::Approx(1.06).epsilon(0.01));  // log2(45/16)/3 = 0.497 of the way
  auto j = profile_to_json(p);
  j.erase("sync");
  CHECK(profile_from_json(j, "p.json").sync(2, 1) == 1.0);
  j = profile_to_json(p);
  j["sync"]["decode"] = {1.0, 0.9};
  CHECK_THROWS_WITH_AS(profile_from_json(j, "p.json"), doctest::Contains("p.json: sync.decode: factors must be >= 1"),
                       Error);
  j["sync"]["decode"] = nlohmann::json::array();
  CHECK_THROWS_WITH_AS(profile_from_json(j, "p.json"), doctest::Contains("sync.decode must be a non-empty list"),
                       Error);
}

TEST_CASE("perf: cluster.yaml places ranks on hosts and refuses unknown keys") {
  const std::string ok = write_temp("ok.yaml", R"(hosts:
  - {name: node, count: 2, ranks: 4, cores: 2, memory_gb: 8}
links:
  intra_host: {gbps: 80, latency_us: 2}
  inter_host: {gbps: 1, latency_us: 50, burst_kb: 3}
)");
  const Cluster c = load_cluster(ok);
  CHECK(c.inter.burst_B == doctest::Approx(3072));
  CHECK(c.intra.burst_B == 0);
  CHECK(c.world() == 8);
  CHECK(c.hosts.size() == 2);
  CHECK(c.host_of(3) == 0);
  CHECK(c.host_of(4) == 1);
  CHECK(c.inter.bw_Bps == doctest::Approx(1e9 / 8));
  CHECK(c.inter.alpha_s == doctest::Approx(50e-6));
  CHECK(c.memory_per_rank(5) == doctest::Approx(2.0 * 1024 * 1024 * 1024));
  CHECK(c.machine_ranks(1) == 4);  // a machine of its own
  const Cluster ns = load_cluster(write_temp("ns.yaml", R"(hosts:
  - {name: ns, count: 2, ranks: 2, cores: 2, memory_gb: 8, machine: box}
  - {name: other, ranks: 1, cores: 4, memory_gb: 8}
links:
  intra_host: {gbps: 80}
  inter_host: {gbps: 1}
)"));
  CHECK(ns.machine_of(1) == 0);
  CHECK(ns.machine_of(2) == 2);
  CHECK(ns.machine_ranks(1) == 4);  // both namespace hosts on the box
  CHECK(ns.memory_per_rank(3) == doctest::Approx(2.0 * 1024 * 1024 * 1024));
  CHECK(ns.memory_per_rank(4) == doctest::Approx(8.0 * 1024 * 1024 * 1024));
  const std::string mixed = write_temp("mixed.yaml", "hosts:\n  - {name: a, ranks: 1, cores: 2, memory_gb: 8, machine: m}\n"
                                                   "  - {name: b, ranks: 1, cores: 4, memory_gb: 8, machine: m}\n"
                                                   "links:\n  intra_host: {gbps: 80}\n  inter_host: {gbps: 1}\n");
  CHECK_THROWS_WITH_AS(load_cluster(mixed), doctest::Contains("host b is on machine m with host a, but gives other"),
                       Error);
  const std::string bad = write_temp("bad.yaml", "hosts:\n  - {ranks: 2, cores: 2, memory_gb: 8, gpus: 2}\n"
                                                 "links:\n  intra_host: {gbps: 80}\n");
  CHECK_THROWS_WITH_AS(load_cluster(bad), doctest::Contains("unknown key 'gpus' in a host"), Error);
  const std::string two = write_temp("two.yaml", "hosts:\n  - {count: 2, ranks: 2, cores: 2, memory_gb: 8}\n"
                                                 "links:\n  intra_host: {gbps: 80}\n");
  CHECK_THROWS_WITH_AS(load_cluster(two), doctest::Contains("2 hosts need 'inter_host'"), Error);
  CHECK_THROWS_WITH_AS(uniform_cluster(0, 2, 1, 0, 2, 8, {}), doctest::Contains("--hosts must be >= 1"), Error);
}
