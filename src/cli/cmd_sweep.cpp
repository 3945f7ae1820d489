// autodist sweep: a grid of runs from a YAML file inside one mpirun / Slurm allocation. Each point
// runs on a sub-communicator of the ranks it needs (the others wait, sleeping); points that cannot
// run are recorded as skipped with the reason, failing points as failed, and every point is
// appended to OUTPUT_DIR/trace.h5 as soon as it ends. See configs/sweeps/*.yaml.
#include <algorithm>
#include <climits>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>

#include "cli/commands.h"
#include "cli/run_options.h"
#include "cli/run_trace.h"
#include "cli/sweep_spec.h"
#include "cli/sweep_watchdog.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "dist/comm_bench.h"
#include "dist/comm_wait.h"
#include "dist/mpi_env.h"
#include "io/model_config.h"
#include "model/family.h"

namespace autodist::cli {
namespace {

struct Point {
  std::map<std::string, std::string> p;
  std::string name;
  std::string get(const std::string& k, const std::string& dflt) const {
    auto it = p.find(k);
    return it == p.end() ? dflt : it->second;
  }
  int64_t num(const std::string& k, int64_t dflt) const { return std::stoll(get(k, std::to_string(dflt))); }
  // num() for an int option: a value beyond int is refused (tp 4294967297 ran as tp 1).
  int count(const std::string& k, int dflt) const {
    const int64_t v = num(k, dflt);
    AD_CHECK(v >= INT_MIN && v <= INT_MAX, "sweep point {}: '{}' {} is out of range (at most {})", name, k, v, INT_MAX);
    return static_cast<int>(v);
  }
};

std::vector<Point> expand(const Sweep& s) {
  std::vector<Point> pts(1);
  for (auto& [k, vals] : s.grid) {
    std::vector<Point> next;
    for (auto& base : pts)
      for (auto& v : vals) {
        Point q = base;
        q.p[k] = v;
        // Paths are named by their last part: model=qwen3-tiny.
        q.name += (q.name.empty() ? "" : ",") + k + "=" + std::filesystem::path(v).filename().string();
        next.push_back(std::move(q));
      }
    pts = std::move(next);
  }
  for (auto& q : pts)
    for (auto& [k, v] : s.fixed) q.p.emplace(k, v);  // grid values win over fixed ones
  return pts;
}

RunOptions run_options_of(const Point& q, const std::string& log_level) {
  RunOptions ro;
  ro.model = q.get("model", "");
  ro.tp = q.count("tp", 1);
  ro.pp = q.count("pp", 1);
  ro.partition = q.get("partition", "equal-layers");
  ro.sp_chunk_size = q.count("sp_chunk_size", 0);
  ro.kv_sync = q.get("kv_sync", "");
  if (ro.kv_sync == "none" && ro.sp_chunk_size == 0) ro.kv_sync.clear();  // plain run, not SP+PP
  ro.micro_batches = q.count("micro_batches", 1);
  ro.device = q.get("device", "auto");
  ro.comm = q.get("comm", "auto");
  ro.dtype = q.get("dtype", "auto");
  ro.cache_dir = q.get("cache_dir", "");
  ro.log_level = log_level;
  ro.comm_timeout = static_cast<double>(q.num("comm_timeout", 600));
  return ro;
}

// Why a generate point cannot run here ("" if it can). Same answer on every rank.
std::string skip_reason(const Point& q, RunOptions& ro, int world) {
  if (ro.model.empty()) return "no model (set 'model' at the top, in fixed or in the grid)";
  if (q.get("sp_chunk_size", "0") == "0" && !q.get("kv_sync", "").empty() && q.get("kv_sync", "") != "none")
    return "kv_sync applies only with sp_chunk_size > 0";
  try {
    check_run_options(ro);
  } catch (const Error& e) {
    return e.what();
  }
  if (ro.tp * ro.pp > world)
    return fmt::format("needs tp*pp = {} ranks, the sweep runs on {}", ro.tp * ro.pp, world);
  try {
    ModelConfig c = load_model_config(ro.model);
    if (ro.pp > c.n_layers) return fmt::format("pp {} > {} layers", ro.pp, c.n_layers);
    int64_t need = q.num("prompt_len", 128) + q.num("output_len", 16);
    if (need > c.max_position) return fmt::format("prompt_len + output_len = {} > context {}", need, c.max_position);
  } catch (const Error&) {
    return "";  // a broken model is a failure of the point, reported by the run itself
  }
  return "";
}

trace::RunRecord point_record(const Sweep& s, const Point& q, const std::string& argv, const std::string& status,
                              const std::string& reason) {
  trace::RunRecord rec;
  nlohmann::json cfg = q.p;
  cfg["sweep"] = s.name;
  cfg["command"] = s.command;
  rec.set("command", std::string("sweep"));
  rec.set("name", q.name);
  rec.set("status", status);
  rec.set("reason", reason);
  rec.set("argv", argv);
  rec.set("config_json", cfg.dump());
  rec.set("git_revision", std::string(AUTODIST_GIT_REV));
  rec.set("sweep", s.name);
  rec.set("point_command", s.command);
  for (auto& [k, v] : q.p) {
    auto kind = param_kinds().at(k);
    if (kind == Kind::Int)
      rec.set(k, static_cast<int64_t>(std::stoll(v)));
    else
      rec.set(k, v);
  }
  return rec;
}

// Runs one generate point on `sub` (this rank takes part); returns the run record on rank 0 of sub.
void run_generate_point(const Sweep& s, const Point& q, RunOptions ro, std::unique_ptr<dist::Communicator> sub,
                        const std::string& argv, const std::string& out_dir, bool chrome) {
  const int64_t batch = q.num("batch_size", 1), L = q.num("prompt_len", 128), N = q.num("output_len", 16);
  const int64_t seed = q.num("seed", 1);
  AD_CHECK(batch >= 1 && L >= 1 && N >= 1, "batch_size, prompt_len and output_len must be >= 1");
  auto ctx = setup_run(ro, std::move(sub));
  std::mt19937 rng(static_cast<uint32_t>(seed));
  std::uniform_int_distribution<int32_t> tok(0, static_cast<int32_t>(std::min<int64_t>(ctx->cfg.vocab, 32000) - 1));
  std::vector<std::vector<int32_t>> prompts(static_cast<size_t>(batch));
  for (auto& p : prompts)
    for (int64_t i = 0; i < L; ++i) p.push_back(tok(rng));
  GenerateOptions go;
  go.max_output = go.min_output = N;
  go.stop_at_eos = false;
  go.sampling.seed = static_cast<uint64_t>(seed);
  for (int i = 0; i < s.warmup; ++i) ctx->engine->generate(prompts, go);
  auto load_events = ctx->engine->trace().events();
  for (int rep = 0; rep < s.repeats; ++rep) {
    ctx->engine->trace().clear();
    GenerateResult r = ctx->engine->generate(prompts, go);
    auto ev = load_events;
    for (auto& e : ctx->engine->trace().events()) ev.push_back(e);
    auto m = metrics_of(ctx->groups.topo.rank, r, ctx->engine->load_ms(), ctx->engine->bytes_read(), ev);
    auto rec = engine_run_record("sweep", q.name, ro, *ctx, argv, seed, batch, L, N);
    for (auto& [k, v] : point_record(s, q, argv, "ok", "").attrs) rec.set(k, v);  // sweep attrs on top
    rec.set("repeat", static_cast<int64_t>(rep));
    write_run_trace(std::move(rec), ev, &m, ctx->backend->name(), ctx->groups.world.get(), out_dir, chrome);
  }
}

void run_comm_point(const Sweep& s, const Point& q, dist::Communicator& sub, const std::string& argv,
                    const std::string& out_dir) {
  dist::set_comm_timeout(static_cast<double>(q.num("comm_timeout", 600)));
  dist::BenchOptions o;
  o.min_bytes = dist::parse_size(q.get("min_bytes", "8"), "min_bytes");
  o.max_bytes = dist::parse_size(q.get("max_bytes", "1M"), "max_bytes");
  o.step_factor = q.num("step_factor", 2);
  o.iters = q.count("iters", 0);           // 0: from the time budget
  o.warmup = q.count("warmup_iters", -1);  // -1: from the time budget
  o.budget_ms = q.num("time_budget_ms", 100);
  o.check = q.get("check", "false") == "true";
  o.dtype = parse_dtype(q.get("dtype", "f32"));
  dist::resolve_bench_options(o, q.get("op", "all"), sub.size());
  auto reps = dist::run_comm_bench(sub, o, {});
  if (sub.rank() != 0) return;
  auto rec = point_record(s, q, argv, "ok", "");
  rec.set("world", static_cast<int64_t>(sub.size()));
  rec.set("comm", sub.backend_name());
  rec.has_comm = true;
  rec.comm = comm_trace_rows(reps);
  trace::append_run((std::filesystem::path(out_dir) / "trace.h5").string(), rec);
}

// Per-rank status after a point, exchanged over the world with a sleeping wait.
struct Status {
  int32_t failed = 0;
  char msg[508] = {0};
};

int run(int argc, char** argv) {
  std::string config, out_dir, log_level = "info";
  bool chrome = false;
  po::options_description d("sweep options");
  d.add_options()
    ("config", po::value(&config)->required(), "sweep YAML (see configs/sweeps/)")
    ("output-dir", po::value(&out_dir)->required(), "trace.h5 (one group per point) is appended here")
    ("chrome-trace", po::bool_switch(&chrome), "also write a Chrome/Perfetto trace per point")
    ("log-level", po::value(&log_level)->default_value("warn"), "log level of the points' runs");
  po::variables_map vm;
  if (!parse_args(argc, argv, d, vm, "usage: autodist sweep --config FILE.yaml --output-dir DIR")) return 0;
  log::set_level(log::parse_level(log_level));
  // Everything that can be wrong with the inputs is found here, on every rank alike.
  Sweep s = load_sweep(config);
  auto points = expand(s);
  check_output_dir(out_dir);  // refuses a foreign or corrupt trace.h5
  const std::string trace_path = (std::filesystem::path(out_dir) / "trace.h5").string();
  dist::MpiEnv::init();
  auto world = dist::make_mpi_world_communicator();
  const int W = world->size(), me = world->rank();
  const bool root = me == 0;
  const std::string args = argv_string(argc, argv);
  if (root)
    log::out(fmt::format("# sweep '{}' ({}): {} points x {} repeats, {} ranks, {} -> {}\n", s.name, s.command,
                         points.size(), s.repeats, W, config, trace_path));
  Stopwatch total;
  double run_s = 0;
  int ran = 0, n_ok = 0, n_skip = 0, n_fail = 0;
  for (size_t i = 0; i < points.size(); ++i) {
    const Point& q = points[i];
    Stopwatch sw;
    RunOptions ro = run_options_of(q, log_level);
    std::string skip;
    int n = 0;
    if (s.command == "generate") {
      skip = skip_reason(q, ro, W);
      n = static_cast<int>(std::min<int64_t>(int64_t{ro.tp} * ro.pp, INT_MAX));  // skip says why when too many
    } else {
      n = q.count("world", W);
      if (n < 1 || n > W) skip = fmt::format("world {} is not in [1, {}]", n, W);
    }
    std::string status = "ok";
    if (!skip.empty()) {
      status = "skipped";
      if (root) trace::append_run(trace_path, point_record(s, q, args, "skipped", skip));
    } else {
      auto sub = world->split(me < n ? 0 : -1, me);
      Status st;
      const bool in_point = sub != nullptr;
      if (in_point) {
        // Ends the point past timeout_s, or when a wait in it passes comm_timeout, after recording it as failed.
        PointWatchdog watchdog(q.name, s.timeout_s, root, [&](const std::string& why) {
          trace::append_run(trace_path, point_record(s, q, args, "failed", why));
        });
        try {
          if (s.command == "generate")
            run_generate_point(s, q, ro, std::move(sub), args, out_dir, chrome);
          else
            run_comm_point(s, q, *sub, args, out_dir);
        } catch (const std::exception& e) {
          st.failed = 1;
          std::strncpy(st.msg, e.what(), sizeof(st.msg) - 1);
        }
      }
      // Idle ranks wait here (sleeping) for the point's ranks; a rank stuck in the point is fatal. The point's
      // watchdogs end a point that runs too long; idle ranks give them time to record it first.
      std::vector<Status> all(static_cast<size_t>(W));
      const int64_t words = sizeof(Status) / 4;
      const double limit = s.timeout_s + (in_point ? 0 : 2 * PointWatchdog::kGraceS);
      if (!world->all_gather_idle(Tensor(&st, DType::I32, {words}), Tensor(all.data(), DType::I32, {words * W}),
                                  limit)) {
        std::string why = fmt::format("point {} did not finish on every rank within timeout_s = {:.0f} s", q.name,
                                      s.timeout_s);
        if (root) trace::append_run(trace_path, point_record(s, q, args, "failed", why));
        log::error("{}{}; stopping the sweep (the trace keeps every finished point)", why,
                   st.failed ? fmt::format(" (this rank failed: {})", st.msg) : "");
        dist::abort_world(1);
      }
      for (int r = 0; r < W; ++r)
        if (all[r].failed) {
          status = "failed";
          skip = fmt::format("rank {}: {}", r, all[r].msg);
          break;
        }
      if (status == "failed" && root) trace::append_run(trace_path, point_record(s, q, args, "failed", skip));
    }
    n_ok += status == "ok";
    n_skip += status == "skipped";
    n_fail += status == "failed";
    if (status != "skipped") {
      run_s += sw.ms() / 1e3;
      ++ran;
    }
    if (root) {
      // Estimate: mean time of the points that ran, times the points left (skips cost nothing).
      double left = ran ? run_s / ran * static_cast<double>(points.size() - i - 1) : 0;
      log::out(fmt::format("[{}/{}] {:<60} {:<8} {:6.2f} s | elapsed {:.1f} s, ~{:.0f} s left{}\n", i + 1,
                           points.size(), q.name, status, sw.ms() / 1e3, total.ms() / 1e3, left,
                           skip.empty() ? "" : "  (" + skip + ")"));
    }
  }
  if (root)
    log::out(fmt::format("# sweep done in {:.1f} s: {} ok, {} skipped, {} failed -> {}\n", total.ms() / 1e3, n_ok,
                         n_skip, n_fail, trace_path));
  return n_fail ? 1 : 0;
}

}  // namespace
AUTODIST_COMMAND("sweep", "run a grid of configurations from a YAML file, appending every point to trace.h5", run);
}  // namespace autodist::cli
