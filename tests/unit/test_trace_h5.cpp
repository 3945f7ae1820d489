#include <doctest/doctest.h>
#include <hdf5.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/error.h"
#include "trace/chrome.h"
#include "trace/h5.h"
#include "test_files.h"

using namespace autodist;
using namespace autodist::trace;
using autodist::test::error_of;
using autodist::test::TempDir;
namespace fs = std::filesystem;

namespace {

Event ev(int32_t rank, const char* phase, int64_t t0, int64_t t1, int64_t bytes = 0, int chunk = -1, int layer = -1,
         int step = -1, int mb = -1) {
  return Event::make(rank, phase, t0, t1, bytes, chunk, layer, step, mb);
}

bool same(const Event& a, const Event& b) {
  return a.rank == b.rank && std::strncmp(a.phase, b.phase, sizeof(a.phase)) == 0 && a.layer == b.layer &&
         a.chunk == b.chunk && a.step == b.step && a.micro_batch == b.micro_batch && a.t_start_ns == b.t_start_ns &&
         a.t_end_ns == b.t_end_ns && a.bytes == b.bytes;
}

bool no_temp_files(const fs::path& dir) {
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().find(".tmp.") != std::string::npos) return false;
  return true;
}

RunRecord sample_run() {
  RunRecord r;
  r.set("command", "generate");
  r.set("status", "ok");
  r.set("reason", "");
  r.set("tp", 2);
  r.set("seed", int64_t{1234567890123});
  r.set("world", size_t{4});
  r.set("temperature", 0.7);
  r.set("name", "tp2_pp1_chunk64_pairwise_b1_L128_N8");  // replaces nothing: new name
  r.set("status", "skipped");                           // replaces the earlier "ok" in place
  r.events = {ev(0, "prefill", 1000, 501000, 0, -1, -1, -1, 0), ev(1, "sync_send", 2000, 4500, 1 << 20, 3, 7, -1, 1),
              ev(0, "decode", 600000, 900000, 0, -1, -1, 5, -1), ev(1, "abcdefghijklmno", -5, 9000000000000)};
  MetricRow m0;
  m0.rank = 0;
  m0.load_ms = 12.5, m0.ttft_ms = 500.25, m0.tpot_ms = 30.125, m0.tokens_per_s = 33.3;
  m0.prefill_ms = 500, m0.sync_ms = 1.5, m0.decode_ms = 300, m0.total_ms = 812.75;
  m0.output_tokens = 8, m0.bytes_read = 123456789012;
  MetricRow m1 = m0;
  m1.rank = 1, m1.ttft_ms = 0.1 + 0.2, m1.output_tokens = 0;
  r.metrics = {m0, m1};
  return r;
}

}  // namespace

TEST_CASE("trace.h5: two runs round-trip (attrs, events, metrics, comm, empty run)") {
  TempDir d;
  const std::string path = d / "trace.h5";

  RunRecord a = sample_run();
  CHECK(a.attrs.size() == 8);
  CHECK(a.attrs[1].first == "status");
  CHECK(std::get<std::string>(a.attrs[1].second) == "skipped");

  RunRecord b;  // a comm-bench run with no events or metrics
  b.set("command", "comm-bench");
  b.has_comm = true;
  b.comm = {{"all_reduce", 1 << 20, 262144, "fp32", 51.5, 20.36, 35.63, 0},
            {"exactly_twenty_four_char", 8, 2, "bfloat16", 3.25, 0.0, 0.0, -1}};

  CHECK(append_run(path, a) == "0000");
  CHECK(no_temp_files(d.dir));
  CHECK(append_run(path, b) == "0001");
  CHECK(no_temp_files(d.dir));

  auto runs = read_trace(path);
  REQUIRE(runs.size() == 2);
  CHECK(runs[0].group == "0000");
  CHECK(runs[1].group == "0001");

  const auto& ra = runs[0];
  CHECK(ra.attrs.size() == 8);
  CHECK(std::get<std::string>(ra.attrs.at("command")) == "generate");
  CHECK(std::get<std::string>(ra.attrs.at("status")) == "skipped");
  CHECK(std::get<std::string>(ra.attrs.at("reason")) == "");
  CHECK(std::get<std::string>(ra.attrs.at("name")) == "tp2_pp1_chunk64_pairwise_b1_L128_N8");
  CHECK(std::get<int64_t>(ra.attrs.at("tp")) == 2);
  CHECK(std::get<int64_t>(ra.attrs.at("seed")) == 1234567890123);
  CHECK(std::get<int64_t>(ra.attrs.at("world")) == 4);
  CHECK(std::get<double>(ra.attrs.at("temperature")) == 0.7);

  REQUIRE(ra.events.size() == a.events.size());
  for (size_t i = 0; i < a.events.size(); ++i) CHECK(same(ra.events[i], a.events[i]));
  CHECK(std::string(ra.events[3].phase) == "abcdefghijklmno");  // 15 chars: the longest Event holds
  CHECK(ra.events[1].bytes == (1 << 20));

  REQUIRE(ra.metrics.size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    const auto &x = ra.metrics[i], &y = a.metrics[i];
    CHECK(x.rank == y.rank);
    CHECK(x.load_ms == y.load_ms);
    CHECK(x.ttft_ms == y.ttft_ms);  // bit-exact, including 0.1 + 0.2
    CHECK(x.tpot_ms == y.tpot_ms);
    CHECK(x.tokens_per_s == y.tokens_per_s);
    CHECK(x.prefill_ms == y.prefill_ms);
    CHECK(x.sync_ms == y.sync_ms);
    CHECK(x.decode_ms == y.decode_ms);
    CHECK(x.total_ms == y.total_ms);
    CHECK(x.output_tokens == y.output_tokens);
    CHECK(x.bytes_read == y.bytes_read);
  }
  CHECK(ra.comm.empty());

  const auto& rb = runs[1];
  CHECK(std::get<std::string>(rb.attrs.at("command")) == "comm-bench");
  CHECK(rb.events.empty());
  CHECK(rb.metrics.empty());
  REQUIRE(rb.comm.size() == 2);
  CHECK(rb.comm[0].op == "all_reduce");
  CHECK(rb.comm[0].bytes == (1 << 20));
  CHECK(rb.comm[0].count == 262144);
  CHECK(rb.comm[0].dtype == "fp32");
  CHECK(rb.comm[0].time_us == 51.5);
  CHECK(rb.comm[0].algbw == 20.36);
  CHECK(rb.comm[0].busbw == 35.63);
  CHECK(rb.comm[0].wrong == 0);
  CHECK(rb.comm[1].op == "exactly_twenty_four_char");  // full 24 bytes, no NUL in the file
  CHECK(rb.comm[1].dtype == "bfloat16");               // full 8 bytes
  CHECK(rb.comm[1].wrong == -1);

  // A third append sees both earlier runs.
  RunRecord empty;
  CHECK(append_run(path, empty) == "0002");
  auto again = read_trace(path);
  REQUIRE(again.size() == 3);
  CHECK(again[2].attrs.empty());
  CHECK(again[2].events.empty());
  CHECK(again[0].events.size() == 4);
}

TEST_CASE("trace.h5: foreign files are refused and left untouched") {
  TempDir d;
  RunRecord r = sample_run();

  SUBCASE("plain HDF5 file without the format attribute") {
    const std::string path = d / "plain.h5";
    hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    REQUIRE(f >= 0);
    H5Fclose(f);
    auto size = fs::file_size(path);
    std::string msg = error_of([&] { append_run(path, r); });
    CHECK(msg.find("not an autodist trace") != std::string::npos);
    CHECK(msg.find(path) != std::string::npos);
    CHECK(error_of([&] { read_trace(path); }).find("not an autodist trace") != std::string::npos);
    CHECK(fs::file_size(path) == size);
  }
  SUBCASE("text file") {
    const std::string path = d / "notes.txt";
    std::ofstream(path) << "hello, not hdf5\n";
    std::string msg = error_of([&] { append_run(path, r); });
    CHECK(msg.find("not an autodist trace") != std::string::npos);
    CHECK(msg.find(path) != std::string::npos);
    CHECK(error_of([&] { read_trace(path); }).find("not an autodist trace") != std::string::npos);
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    CHECK(ss.str() == "hello, not hdf5\n");
  }
  SUBCASE("comm op longer than 24 bytes fails and keeps the previous file") {
    const std::string path = d / "trace.h5";
    CHECK(append_run(path, r) == "0000");
    RunRecord bad;
    bad.has_comm = true;
    bad.comm = {{"this_op_name_is_far_too_long_for_24", 8, 2, "fp32", 1, 1, 1, -1}};
    CHECK(error_of([&] { append_run(path, bad); }).find("too long") != std::string::npos);
    auto runs = read_trace(path);
    CHECK(runs.size() == 1);
  }
  CHECK(no_temp_files(d.dir));
}

TEST_CASE("trace.h5: unwritable or missing directory is a clear error") {
  RunRecord r = sample_run();
  std::string msg = error_of([&] { append_run("/nonexistent_autodist_dir/sub/trace.h5", r); });
  CHECK(msg.find("/nonexistent_autodist_dir/sub/trace.h5") != std::string::npos);
  CHECK(msg.find("No such file or directory") != std::string::npos);

  // /proc refuses new files even for root.
  msg = error_of([&] { append_run("/proc/autodist_trace.h5", r); });
  CHECK(msg.find("/proc/autodist_trace.h5") != std::string::npos);
  CHECK(!fs::exists("/proc/autodist_trace.h5"));

  CHECK(error_of([&] { read_trace("/nonexistent_autodist_dir/trace.h5"); }).find("no such file") !=
        std::string::npos);
}

TEST_CASE("trace.h5: processes appending at once keep every run (the output lock)") {
  TempDir d;
  const std::string path = d / "trace.h5";
  constexpr int kProcs = 4, kRuns = 6;
  std::vector<pid_t> kids;
  for (int p = 0; p < kProcs; ++p) {
    pid_t k = ::fork();
    if (k == 0) {
      int rc = 0;
      for (int i = 0; i < kRuns; ++i) {
        RunRecord r = sample_run();
        r.set("name", fmt::format("proc{}_run{}", p, i));
        try {
          append_run(path, r);
        } catch (...) {
          rc = 1;
        }
      }
      ::_exit(rc);
    }
    kids.push_back(k);
  }
  for (pid_t k : kids) {
    int st = 0;
    ::waitpid(k, &st, 0);
    CHECK((WIFEXITED(st) && WEXITSTATUS(st) == 0));
  }
  auto runs = read_trace(path);
  CHECK(runs.size() == kProcs * kRuns);
  std::set<std::string> names;
  for (auto& r : runs) names.insert(std::get<std::string>(r.attrs.at("name")));
  CHECK(names.size() == kProcs * kRuns);
  CHECK(no_temp_files(d.dir));
}

TEST_CASE("trace.h5: check_trace refuses a garbage or truncated file before a run, naming it") {
  TempDir d;
  const std::string path = d / "trace.h5";
  CHECK(error_of([&] { check_trace(path); }).find("no such file") != std::string::npos);
  append_run(path, sample_run());
  append_run(path, sample_run());
  check_trace(path);  // intact: no error
  const auto size = fs::file_size(path);
  fs::resize_file(path, size / 2);
  std::string msg = error_of([&] { check_trace(path); });
  CHECK(msg.find(path) != std::string::npos);
  CHECK(!msg.empty());
  std::ofstream(path) << std::string(4096, 'g');
  msg = error_of([&] { check_trace(path); });
  CHECK(msg == path + " is not an autodist trace (not an HDF5 file)");
}

TEST_CASE("chrome trace: X events with relative ts/dur and process names") {
  TempDir d;
  const std::string path = d / "trace.json";
  std::vector<Event> events = {ev(1, "sync_send", 2'000'500, 2'004'000, 4096, 3, 7),
                               ev(0, "prefill", 1'000'000, 1'501'000, 0, -1, -1, -1, 0),
                               ev(0, "decode", 1'600'000, 1'900'000, 0, -1, -1, 5)};
  write_chrome_trace(path, events);
  CHECK(no_temp_files(d.dir));

  std::ifstream in(path);
  auto j = nlohmann::json::parse(in);
  CHECK(j["displayTimeUnit"] == "ms");
  const auto& te = j["traceEvents"];
  REQUIRE(te.is_array());
  int x = 0, m = 0;
  for (const auto& e : te) {
    if (e["ph"] == "X") ++x;
    if (e["ph"] == "M") {
      ++m;
      CHECK(e["name"] == "process_name");
      CHECK(e["args"]["name"] == "rank " + std::to_string(e["pid"].get<int>()));
    }
  }
  CHECK(x == 3);
  CHECK(m == 2);

  // Events keep input order; times in microseconds from the earliest start (1'000'000 ns).
  CHECK(te[0]["name"] == "sync_send");
  CHECK(te[0]["pid"] == 1);
  CHECK(te[0]["tid"] == 0);
  CHECK(te[0]["ts"].get<double>() == doctest::Approx(1000.5));
  CHECK(te[0]["dur"].get<double>() == doctest::Approx(3.5));
  CHECK(te[0]["args"]["bytes"] == 4096);
  CHECK(te[0]["args"]["chunk"] == 3);
  CHECK(te[0]["args"]["layer"] == 7);
  CHECK(!te[0]["args"].contains("step"));
  CHECK(te[1]["name"] == "prefill");
  CHECK(te[1]["ts"].get<double>() == 0.0);
  CHECK(te[1]["dur"].get<double>() == doctest::Approx(501.0));
  CHECK(te[1]["args"]["micro_batch"] == 0);
  CHECK(!te[1]["args"].contains("bytes"));
  CHECK(te[2]["ts"].get<double>() == doctest::Approx(600.0));
  CHECK(te[2]["args"]["step"] == 5);

  // Custom label, and no events at all still gives a valid file.
  write_chrome_trace(path, {}, "gpu");
  std::ifstream in2(path);
  auto j2 = nlohmann::json::parse(in2);
  CHECK(j2["traceEvents"].empty());

  write_chrome_trace(path, {events[0]}, "gpu");
  std::ifstream in3(path);
  auto j3 = nlohmann::json::parse(in3);
  CHECK(j3["traceEvents"][1]["args"]["name"] == "gpu 1");

  CHECK_THROWS_AS(write_chrome_trace("/nonexistent_autodist_dir/t.json", events), Error);
}
