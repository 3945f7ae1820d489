// autodist comm-bench: nccl-tests for our Communicator. Options, the table and the CSV live here;
// the sweep, timing and checking in dist/comm_bench.cpp; one descriptor per op in
// dist/comm_bench_ops.cpp. See docs/comm-bench.md.
#include <boost/program_options.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "backend/backend.h"
#include "cli/commands.h"
#include "cli/run_trace.h"
#include "trace/h5.h"
#include "cli/run_guard.h"
#include "cli/run_options.h"
#include "core/error.h"
#include "core/log.h"
#include "dist/comm_bench.h"
#include "dist/comm_bench_ops.h"
#include "dist/comm_wait.h"
#include "dist/device_choice.h"
#include "dist/mpi_env.h"
#include "dist/nccl_communicator.h"
#include "dist/staged_channel.h"

namespace po = boost::program_options;
using namespace autodist;

namespace {

// nccl-tests prints fewer decimals as the time grows.
std::string fmt_time(double us) {
  if (us >= 10000.0) return fmt::format("{:7.0f}", us);
  if (us >= 100.0) return fmt::format("{:7.1f}", us);
  return fmt::format("{:7.2f}", us);
}

constexpr const char* kStatistic =
    "time: each rank's mean time per call over the timed iterations (an untimed barrier before each call; sendrecv, "
    "isend_irecv and barrier: calls back to back, a barrier before each of up to 8 blocks, as IMB), max over ranks "
    "(IMB t_max); avg: the mean over ranks (IMB t_avg)";

// One column group per placement, as nccl-tests' out-of-place and in-place groups.
std::string group_cols(bool baseline, const char* const* names) {
  std::string s = fmt::format("  {:>5}  {:>8}  {:>8}  {:>6}  {:>6}  {:>6}", names[0], names[1], names[2], names[3],
                              names[4], names[5]);
  if (baseline) s += fmt::format("  {:>8}  {:>8}", names[6], names[7]);
  return s;
}

std::string table_header(const dist::OpReport& rep, bool baseline) {
  static const char* const kNames[] = {"iters", "time", "avg", "algbw", "busbw", "#wrong", "raw", "wrap/raw"};
  static const char* const kUnits[] = {"", "(us)", "(us)", "(GB/s)", "(GB/s)", "", "(us)", ""};
  const size_t width = group_cols(baseline, kNames).size();
  std::string s = fmt::format("#\n# {}: {}\n# time = max over ranks (t_max), avg = mean over ranks (t_avg) of each "
                              "rank's mean time per iteration\n", rep.op, rep.busbw_note);
  const bool no_data = rep.no_data;
  std::string groups = fmt::format("# {:>10}  {:>12}  {:>6}  {:>6}  {:>4}", "", "", "", "", "");
  std::string names = fmt::format("# {:>10}  {:>12}  {:>6}  {:>6}  {:>4}", "size", "count", "type", "redop", "root");
  std::string units = fmt::format("# {:>10}  {:>12}  {:>6}  {:>6}  {:>4}", "(B)", "(elements)", "", "", "");
  for (unsigned p : rep.placements) {
    groups += fmt::format("  {:^{}}", no_data ? "" : dist::placement_name(dist::Placement(p)), width - 2);
    names += group_cols(baseline, kNames);
    units += group_cols(baseline, kUnits);
  }
  auto rtrim = [](std::string x) { return x.erase(x.find_last_not_of(' ') + 1); };
  return s + rtrim(groups) + "\n" + names + "\n" + rtrim(units) + "\n";
}

std::string table_row(const dist::BenchRow& r, bool baseline) {
  std::string s =
      fmt::format("{:>12}  {:>12}  {:>6}  {:>6}  {:>4}", r.bytes, r.count, dtype_name(r.dtype), r.redop, r.root);
  for (const auto& t : r.times) {
    s += fmt::format("  {:>5}  {:>8}  {:>8}  {:6.2f}  {:6.2f}  {:>6}", t.iters, fmt_time(t.time_us), fmt_time(t.avg_us),
                     t.algbw, t.busbw, t.wrong < 0 ? std::string("N/A") : std::to_string(t.wrong));
    if (baseline) s += fmt::format("  {:>8}  {:8.3f}", fmt_time(t.raw_time_us), t.ratio);
  }
  return s + "\n";
}

void write_csv(const std::string& dir, const std::vector<dist::OpReport>& reps, const std::string& backend, int world) {
  std::filesystem::create_directories(dir);
  std::string path = (std::filesystem::path(dir) / "comm_bench.csv").string();
  std::ofstream f(path);
  AD_CHECK(f.good(), "--output-dir: cannot write {}", path);
  f << "backend,ranks,op,placement,size_bytes,count,type,redop,root,iters,warmup,time_us,time_avg_us,time_min_us,"
       "algbw_gbps,busbw_gbps,wrong,raw_time_us,raw_time_avg_us,ratio\n";
  for (const auto& rep : reps)
    for (const auto& r : rep.rows)
      for (const auto& t : r.times)
        f << fmt::format("{},{},{},{},{},{},{},{},{},{},{},{:.3f},{:.3f},{:.3f},{:.4f},{:.4f},{},{:.3f},{:.3f},{:.4f}\n",
                         backend, world, r.op, dist::placement_name(dist::Placement(t.placement)), r.bytes, r.count,
                         dtype_name(r.dtype), r.redop, r.root, t.iters, t.warmup, t.time_us, t.avg_us, t.min_us,
                         t.algbw, t.busbw, t.wrong, t.raw_time_us, t.raw_avg_us, t.ratio);
  AD_CHECK(f.good(), "--output-dir: error while writing {}", path);
}

// "auto" or a non-negative integer.
int parse_count(const std::string& s, const char* flag, int auto_value) {
  if (s == "auto") return auto_value;
  size_t pos = 0;
  long v = -1;
  try {
    v = std::stol(s, &pos);
  } catch (const std::exception&) {
    pos = 0;
  }
  AD_CHECK(pos == s.size() && pos > 0 && v >= 0 && v <= 100000000, "{} '{}': expected auto or a count in [0, 1e8]",
           flag, s);
  return int(v);
}

// The communicator comm-bench times and the backend whose memory its buffers use (none: page-aligned host memory).
struct BenchComm {
  std::unique_ptr<Backend> device;  // declared first: the communicator goes first
  std::unique_ptr<dist::Communicator> comm;
  std::string where = "host";
};

BenchComm open_bench_comm(const std::string& backend, const std::string& device_opt, dist::MpiEnv& env) {
  dist::DeviceRequest dev = dist::parse_device(device_opt);
  if (dev.kind == dist::DeviceRequest::Kind::Auto && backend == "nccl") dev.kind = dist::DeviceRequest::Kind::Cuda;
  AD_CHECK(backend != "nccl" || dev.cuda(), "--backend nccl moves device buffers: --device must be auto, cuda or "
           "cuda:N, got '{}'", device_opt);
#ifndef AUTODIST_HAVE_CUDA
  AD_CHECK(!dev.cuda(), "--device {}: this build has no CUDA backend (see autodist --version)", device_opt);
#endif
  BenchComm b;
  std::unique_ptr<dist::Communicator> world = dist::make_mpi_world_communicator();
  if (dev.kind == dist::DeviceRequest::Kind::Cpu) {
    b.device = make_cpu_backend();
    b.where = "cpu backend";
  } else if (dev.cuda()) {
    b.device = make_cuda_backend(dist::pick_cuda_device(env.local_rank(), cuda_device_count(), dev.index));
    b.where = fmt::format("cuda:{} ({})", b.device->device_ordinal(), b.device->device_uuid());
  }
  if (backend == "nccl") {
    // Two ranks on one GPU, or no libnccl somewhere: one clear error on every rank before NCCL is asked.
    const dist::RankDevice me{dist::machine_id(), dist::host_name(), b.device->device_uuid(),
                              b.device->device_ordinal(), dist::nccl_loadable()};
    dist::choose_data_channel("nccl", dist::gather_rank_devices(*world, me));
    b.comm = dist::make_nccl_communicator(std::shared_ptr<dist::Communicator>(std::move(world)), *b.device);
  } else if (dev.cuda()) {
    b.comm = dist::make_staged_channel(std::move(world), dist::backend_stager(*b.device));
    b.where += ", staged through pinned host memory";
  } else {
    b.comm = std::move(world);
  }
  return b;
}

int cmd_comm_bench(int argc, char** argv) {
  po::options_description desc(
      "autodist comm-bench: nccl-tests style sweep of every Communicator primitive\n"
      "  mpirun -np 4 autodist comm-bench --backend mpi --op all --check -b 8 -e 64M -f 2\n\noptions");
  desc.add_options()("help,h", "this help")
      ("backend", po::value<std::string>()->default_value("mpi"), "mpi | nccl (CUDA builds)")
      ("device", po::value<std::string>()->default_value("auto"),
       "where the buffers live: auto (cuda for nccl, host memory for mpi) | cpu (the cpu backend's memory, "
       "through host mirrors) | cuda | cuda:N (default GPU: local rank modulo the visible GPUs; with mpi, staged "
       "through pinned host memory as the engine's mpi channel)")
      ("op,o", po::value<std::string>()->default_value("all"),
       "NAME[,NAME] | all; names: sendrecv, isend_irecv, broadcast, scatter, gather, reduce, all_reduce, "
       "all_gather, reduce_scatter, barrier")
      ("minbytes,b", po::value<std::string>()->default_value("8"), "smallest size in bytes (K, M, G suffixes)")
      ("maxbytes,e", po::value<std::string>()->default_value("64M"), "largest size in bytes")
      ("stepfactor,f", po::value<int64_t>()->default_value(2), "size multiplication factor (integer > 1)")
      ("iters,n", po::value<std::string>()->default_value("auto"),
       "timed iterations per size: auto (as many as fit --time-budget, 5 to 1000) or N")
      ("warmup,w", po::value<std::string>()->default_value("auto"),
       "untimed iterations per size: auto (rounds of 1, 2, 4, ... for a tenth of the budget) or N")
      ("time-budget", po::value<double>()->default_value(100), "milliseconds per size and placement for auto counts")
      ("check,c", po::bool_switch(), "validate every result; exit non-zero if any element is wrong")
      ("dtype,d", po::value<std::string>()->default_value("f32"), "f32 | bf16 | f16")
      ("redop", po::value<std::string>()->default_value("sum"), "sum | max | min (reducing ops)")
      ("root,r", po::value<int>()->default_value(0), "root rank of broadcast, scatter, gather, reduce")
      ("output-dir", po::value<std::string>(), "also write DIR/comm_bench.csv (rank 0)")
      ("baseline", po::bool_switch(), "also time the raw MPI call; adds raw time and wrapper/raw ratio columns")
      ("thread-level", po::value<std::string>()->default_value("single"),
       "MPI thread level asked for: single (as IMB) | funneled | serialized | multiple (as the engine)");
  double comm_timeout = 600;
  cli::add_comm_timeout_option(desc, comm_timeout);
  po::options_description hidden;
  // Test hook: corrupt one result element so a test proves that --check fails the run.
  hidden.add_options()("inject-error", po::bool_switch());
  po::options_description all;
  all.add(desc).add(hidden);
  po::variables_map vm;
  po::store(po::command_line_parser(argc, argv).options(all).run(), vm);
  po::notify(vm);
  dist::set_comm_timeout(comm_timeout);  // before MPI starts: it bounds the wait for every rank in MPI_Init too
  // MPI starts after the options are read: the thread level is one of them.
  auto& env = dist::MpiEnv::init(dist::parse_thread_level(vm["thread-level"].as<std::string>()));
  const bool root0 = env.rank() == 0;
  if (vm.count("help")) {
    std::ostringstream ss;
    ss << desc << "\n";
    if (root0) log::out(ss.str());
    return 0;
  }

  const std::string backend = vm["backend"].as<std::string>();
#ifndef AUTODIST_HAVE_NCCL
  AD_CHECK(backend != "nccl",
           "--backend nccl needs the CUDA build with NCCL (cmake -DAUTODIST_CUDA=ON); this binary has only --backend mpi");
#endif
  AD_CHECK(backend == "mpi" || backend == "nccl", "--backend '{}': expected mpi or nccl", backend);

  dist::BenchOptions o;
  o.min_bytes = dist::parse_size(vm["minbytes"].as<std::string>(), "-b");
  o.max_bytes = dist::parse_size(vm["maxbytes"].as<std::string>(), "-e");
  o.step_factor = vm["stepfactor"].as<int64_t>();
  o.iters = parse_count(vm["iters"].as<std::string>(), "--iters", 0);
  AD_CHECK(vm["iters"].as<std::string>() == "auto" || o.iters >= 1, "--iters 0: need at least one timed iteration");
  o.warmup = parse_count(vm["warmup"].as<std::string>(), "--warmup", -1);
  o.budget_ms = vm["time-budget"].as<double>();
  o.check = vm["check"].as<bool>();
  o.baseline = vm["baseline"].as<bool>();
  o.dtype = parse_dtype(vm["dtype"].as<std::string>());
  o.redop = dist::parse_reduce_op(vm["redop"].as<std::string>());
  o.root = vm["root"].as<int>();
  const char* inject = std::getenv("AUTODIST_COMM_BENCH_INJECT_ERROR");
  o.inject_error = vm["inject-error"].as<bool>() || (inject && std::string(inject) == "1");
  // Same options on every rank, so every rank fails here together, before any communication.
  auto notes = dist::resolve_bench_options(o, vm["op"].as<std::string>(), env.world());
  if (vm.count("output-dir")) cli::check_output_dir(vm["output-dir"].as<std::string>());

  BenchComm bench = open_bench_comm(backend, vm["device"].as<std::string>(), env);
  dist::Communicator* comm = bench.comm.get();
  auto ranks = dist::describe_ranks(*comm);
  if (root0) {
    std::string h = fmt::format(
        "# autodist comm-bench  backend: {}  device: {}  ranks: {}  dtype: {}  redop: {}  root: {}\n"
        "# minBytes {} maxBytes {} step: {}(factor) warmup iters: {} iters: {} validation: {} baseline: {}\n"
        "# MPI thread level: {}\n"
        "# {}\n#\n# Using ranks\n",
        backend, bench.where, env.world(), dtype_name(o.dtype), dist::reduce_op_name(o.redop), o.root, o.min_bytes, o.max_bytes,
        o.step_factor, o.warmup < 0 ? std::string("auto") : std::to_string(o.warmup),
        o.iters <= 0 ? fmt::format("auto ({} ms per size)", o.budget_ms) : std::to_string(o.iters), o.check ? 1 : 0,
        o.baseline ? 1 : 0, dist::thread_level_name(env.thread_level()), kStatistic);
    for (const auto& r : ranks) h += "#  " + r + "\n";
    for (const auto& n : notes) h += "# note: " + n + "\n";
    if (o.inject_error) h += "# note: test hook active: one result element is corrupted per size\n";
    if (o.baseline)
      h += "# note: raw = the bare MPI call, same loop; wrap/raw = median over samples (calls or blocks) of the paired ratio\n";
    log::out(h);
  }

  dist::BenchCallbacks cb;
  if (root0) {
    cb.begin_op = [&](const dist::OpReport& r) { log::out(table_header(r, o.baseline)); };
    cb.row = [&](const dist::BenchRow& r) { log::out(table_row(r, o.baseline)); };
    cb.end_op = [&](const dist::OpReport& r) {
      log::out(fmt::format("# Out of bounds values : {} {}\n# Avg bus bandwidth    : {:.4g}\n", r.wrong,
                           r.wrong ? "FAILED" : "OK", r.avg_busbw));
    };
  }
  auto reports = dist::run_comm_bench(*comm, o, cb, bench.device.get());

  int64_t wrong = 0;
  for (const auto& r : reports) wrong += r.wrong;
  if (root0) {
    if (reports.size() > 1)
      log::out(fmt::format("#\n# Total out of bounds values : {} {}\n", wrong, wrong ? "FAILED" : "OK"));
    if (vm.count("output-dir")) {
      const std::string dir = vm["output-dir"].as<std::string>();
      write_csv(dir, reports, backend, env.world());
      // The same rows as a run of trace.h5 (docs/trace-format.md), next to the engine's runs.
      trace::RunRecord rec;
      nlohmann::json cfg;
      for (auto& [k, v] : vm)
        if (k != "output-dir") {
          auto& a = v.value();
          if (auto* str = boost::any_cast<std::string>(&a)) cfg[k] = *str;
          else if (auto* i = boost::any_cast<int>(&a)) cfg[k] = *i;
          else if (auto* l = boost::any_cast<int64_t>(&a)) cfg[k] = *l;
          else if (auto* b = boost::any_cast<bool>(&a)) cfg[k] = *b;
        }
      rec.set("command", std::string("comm-bench"));
      rec.set("name", fmt::format("comm-bench_{}_{}ranks", backend, env.world()));
      rec.set("status", std::string(wrong ? "failed" : "ok"));
      rec.set("reason", wrong ? fmt::format("{} wrong elements", wrong) : std::string());
      rec.set("argv", cli::argv_string(argc, argv));
      rec.set("config_json", cfg.dump());
      rec.set("git_revision", std::string(AUTODIST_GIT_REV));
      rec.set("world", static_cast<int64_t>(env.world()));
      rec.set("comm", backend);
      rec.set("device", bench.where);
      rec.set("dtype", std::string(dtype_name(o.dtype)));
      rec.set("thread_level", std::string(dist::thread_level_name(env.thread_level())));
      rec.set("op", vm["op"].as<std::string>());
      std::string hosts;
      for (auto& r : ranks) hosts += (hosts.empty() ? "" : ";") + r;
      rec.set("hosts", hosts);
      rec.has_comm = true;
      rec.comm = cli::comm_trace_rows(reports);
      auto g = trace::append_run((std::filesystem::path(dir) / "trace.h5").string(), rec);
      log::info("trace: run {} appended to {}/trace.h5", g, dir);
    }
  }
  if (wrong) {
    if (root0) log::error("comm-bench --check: {} wrong elements (summed over ranks)", wrong);
    return 1;
  }
  return 0;
}

}  // namespace

AUTODIST_COMMAND("comm-bench", "nccl-tests style benchmark of the communicator primitives", cmd_comm_bench);
