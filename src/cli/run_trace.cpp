#include "cli/run_trace.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fmt/chrono.h>
#include <fmt/format.h>

#include "core/error.h"
#include "dist/comm_bench_ops.h"
#include "dist/communicator.h"
#include "trace/chrome.h"

namespace autodist::cli {

std::vector<trace::CommRow> comm_trace_rows(const std::vector<dist::OpReport>& reports) {
  std::vector<trace::CommRow> rows;
  for (const auto& rep : reports)
    for (const auto& r : rep.rows)
      for (const auto& t : r.times) {
        const bool suffix = rep.placements.size() > 1 && t.placement == dist::kInPlace;
        rows.push_back({suffix ? r.op + "/inplace" : r.op, r.bytes, r.count, dtype_name(r.dtype), t.time_us, t.algbw,
                        t.busbw, t.wrong});
      }
  return rows;
}

std::string argv_string(int argc, char** argv) {
  std::string s = "autodist";
  for (int i = 0; i < argc; ++i) s += std::string(" ") + argv[i];
  return s;
}

void check_output_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  AD_CHECK(!ec, "--output-dir {}: cannot create it ({})", dir, ec.message());
  auto probe = std::filesystem::path(dir) / fmt::format(".autodist-probe.{}", ::getpid());
  FILE* f = std::fopen(probe.c_str(), "w");
  AD_CHECK(f, "--output-dir {} is not writable ({})", dir, std::strerror(errno));
  std::fclose(f);
  std::filesystem::remove(probe, ec);
  // A trace this run could not append to fails the run now, not after its work.
  auto trace = std::filesystem::path(dir) / "trace.h5";
  if (std::filesystem::exists(trace, ec)) {
    try {
      trace::check_trace(trace.string());
    } catch (const Error& e) {
      AD_FAIL("--output-dir {}: cannot append to the existing {}: {} (move it away or choose another --output-dir)",
              dir, trace.string(), e.what());
    }
  }
}

trace::MetricRow metrics_of(int rank, const GenerateResult& r, double load_ms, size_t bytes_read,
                            const std::vector<trace::Event>& events) {
  trace::MetricRow m;
  m.rank = rank;
  m.load_ms = load_ms;
  m.ttft_ms = r.ttft_ms();
  m.tpot_ms = r.ms_per_step();
  m.prefill_ms = r.prefill_ms;
  m.decode_ms = r.decode_ms;
  m.total_ms = r.prefill_ms + r.decode_ms;
  m.output_tokens = r.output_tokens();
  m.tokens_per_s = m.total_ms > 0 ? m.output_tokens / (m.total_ms / 1e3) : 0;
  for (auto& e : events)
    if (std::strcmp(e.phase, "sync") == 0) m.sync_ms += e.ms();
  m.bytes_read = static_cast<int64_t>(bytes_read);
  return m;
}

trace::RunRecord engine_run_record(const std::string& command, const std::string& name, const RunOptions& ro,
                                   const RunContext& ctx, const std::string& argv, int64_t seed, int64_t batch,
                                   int64_t prompt_len, int64_t output_len) {
  trace::RunRecord rec;
  nlohmann::json cfg = {{"command", command},       {"model", ro.model},         {"tp", ro.tp},
                        {"pp", ro.pp},              {"partition", ro.partition}, {"micro_batches", ro.micro_batches},
                        {"sp_chunk_size", ro.sp_chunk_size}, {"kv_sync", ro.kv_sync.empty() ? "none" : ro.kv_sync},
                        {"device", ro.device},      {"comm", ro.comm},           {"dtype", ro.dtype},
                        {"cache_dir", ro.cache_dir}, {"seed", seed},             {"batch_size", batch},
                        {"prompt_len", prompt_len}, {"output_len", output_len}};
  std::string stages;
  for (auto& r : ctx.engine->stage_ranges()) stages += fmt::format("{}{}-{}", stages.empty() ? "" : ",", r.first, r.last);
  auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  rec.set("command", command);
  rec.set("name", name);
  rec.set("status", std::string("ok"));
  rec.set("reason", std::string());
  rec.set("argv", argv);
  rec.set("config_json", cfg.dump());
  rec.set("git_revision", std::string(AUTODIST_GIT_REV));
  rec.set("started_at", fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(t)));
  rec.set("seed", seed);
  rec.set("model", ro.model);
  rec.set("tp", ro.tp);
  rec.set("pp", ro.pp);
  rec.set("world", ro.tp * ro.pp);
  rec.set("partition", ro.partition);
  rec.set("stages", stages);
  rec.set("sp_chunk_size", ro.sp_chunk_size);
  rec.set("kv_sync", ro.kv_sync.empty() ? std::string("none") : ro.kv_sync);
  rec.set("batch_size", batch);
  rec.set("prompt_len", prompt_len);
  rec.set("output_len", output_len);
  rec.set("micro_batches", ro.micro_batches);
  rec.set("device", ctx.backend->device() == Device::CPU ? std::string("cpu") : std::string("cuda"));
  rec.set("comm", ctx.channels.name());
  rec.set("comm_reason", ctx.channels.summary());
  rec.set("dtype", std::string(dtype_name(run_weight_dtype(ro.dtype, ctx.backend->device()))));
  return rec;
}

namespace {

// Fixed-size per-rank record so one all_gather moves it.
struct RankInfo {
  char host[64] = {0};
  char device[60] = {0};
  int32_t has_metrics = 0;
  trace::MetricRow m;
};

}  // namespace

std::string write_run_trace(trace::RunRecord rec, const std::vector<trace::Event>& mine, const trace::MetricRow* metrics,
                            const std::string& device, dist::Communicator* comm, const std::string& dir, bool chrome) {
  static_assert(sizeof(RankInfo) % 4 == 0);
  RankInfo me;
  gethostname(me.host, sizeof(me.host) - 1);
  std::strncpy(me.device, device.c_str(), sizeof(me.device) - 1);
  if (metrics) {
    me.has_metrics = 1;
    me.m = *metrics;
  }
  const int n = comm ? comm->size() : 1;
  std::vector<RankInfo> all(static_cast<size_t>(n));
  const int64_t words = sizeof(RankInfo) / 4;
  if (comm)
    comm->all_gather(Tensor(&me, DType::I32, {words}), Tensor(all.data(), DType::I32, {words * n}));
  else
    all[0] = me;
  rec.events = trace::gather_events(mine, comm);
  if (comm && comm->rank() != 0) return "";
  std::string hosts, devices;
  for (auto& r : all) {
    hosts += (hosts.empty() ? "" : ",") + std::string(r.host);
    devices += (devices.empty() ? "" : ",") + std::string(r.device);
    if (r.has_metrics) rec.metrics.push_back(r.m);
  }
  rec.set("hosts", hosts);
  rec.set("devices", devices);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  AD_CHECK(!ec, "--output-dir {}: cannot create it ({})", dir, ec.message());
  std::string path = (std::filesystem::path(dir) / "trace.h5").string();
  std::string group = trace::append_run(path, rec);
  if (chrome) trace::write_chrome_trace((std::filesystem::path(dir) / fmt::format("trace.{}.json", group)).string(),
                                        rec.events);
  return group;
}

}  // namespace autodist::cli
