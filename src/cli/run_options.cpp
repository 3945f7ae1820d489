#include "cli/run_options.h"

#include <climits>
#include <cstdlib>
#include <sstream>

#include "backend/backend.h"
#include "core/error.h"
#include "core/log.h"
#include "dist/comm_wait.h"
#include "dist/data_channels.h"
#include "dist/device_choice.h"
#include "dist/mpi_env.h"

namespace autodist::cli {

void add_run_options(po::options_description& d, RunOptions& o) {
  d.add_options()
    ("model", po::value(&o.model)->required(), "HuggingFace model directory (config.json + safetensors)")
    ("tensor-parallel-size", po::value(&o.tp)->default_value(1), "tensor-parallel ranks (alias --tp)")
    ("tp", po::value<int>()->notifier([&o](int v) { o.tp_alias = v; }), "alias of --tensor-parallel-size")
    ("pipeline-parallel-size", po::value(&o.pp)->default_value(1), "pipeline stages (alias --pp)")
    ("pp", po::value<int>()->notifier([&o](int v) { o.pp_alias = v; }), "alias of --pipeline-parallel-size")
    ("partition", po::value(&o.partition)->default_value("equal-layers"),
     "equal-layers | equal-params | threshold:BYTES | memory:GB,GB,.. | layers:A,B,..")
    ("micro-batches", po::value(&o.micro_batches)->default_value(1), "pipeline micro-batches")
    ("sp-chunk-size", po::value(&o.sp_chunk_size)->default_value(0), "chunked SP+PP prefill (0: off)")
    ("kv-sync", po::value(&o.kv_sync), "pairwise | ring | none (with --sp-chunk-size)")
    ("device", po::value(&o.device)->default_value("auto"), "auto | cpu | cuda | cuda:N (default GPU: local rank modulo the visible GPUs)")
    ("comm", po::value(&o.comm)->default_value("auto"), "data channels: auto (nccl when every rank of a group has its own GPU, else mpi) | mpi | nccl")
    ("dtype", po::value(&o.dtype)->default_value("auto"), "weights: auto (f32 on the cpu, bf16 on cuda) | bf16 | f16 | f32 (math in f32)")
    ("cuda-graph", po::value(&o.cuda_graph)->default_value("on"), "on | off")
    ("cache-dir", po::value(&o.cache_dir), "pre-sharded weights per rank, written on the first run and reused (see autodist cache)")
    ("output-dir", po::value(&o.output_dir), "write results.jsonl (and traces) here")
    ("chrome-trace", po::bool_switch(&o.chrome_trace), "also write a Chrome/Perfetto trace")
    ("log-level", po::value(&o.log_level)->default_value("info"), "debug | info | warn | error | off");
  add_comm_timeout_option(d, o.comm_timeout);
}

void add_comm_timeout_option(po::options_description& d, double& seconds) {
  d.add_options()("comm-timeout", po::value(&seconds)->default_value(600, "600"),
                  "seconds a rank may wait on its peers in one operation; past it the job ends on every rank, naming "
                  "the rank and the operation");
}

void check_run_options(RunOptions& o) {
  log::set_level(log::parse_level(o.log_level));
  dist::set_comm_timeout(o.comm_timeout);  // checks it: a positive number of seconds
  if (o.tp_alias) o.tp = *o.tp_alias;
  if (o.pp_alias) o.pp = *o.pp_alias;
  AD_CHECK(o.tp >= 1, "--tensor-parallel-size (--tp) must be >= 1, got {}", o.tp);
  AD_CHECK(o.pp >= 1, "--pipeline-parallel-size (--pp) must be >= 1, got {}", o.pp);
  // The world is an MPI int: a product beyond it would wrap (65536 x 65536 = 0 ranks).
  const int64_t ranks = int64_t{o.tp} * o.pp;
  AD_CHECK(ranks <= INT_MAX, "--tp {} x --pp {} = {} ranks is more than MPI can launch (at most {})", o.tp, o.pp,
           ranks, INT_MAX);
  AD_CHECK(o.micro_batches >= 1, "--micro-batches must be >= 1, got {}", o.micro_batches);
  const dist::DeviceRequest device = dist::parse_device(o.device);  // auto | cpu | cuda | cuda:N
  AD_CHECK(o.comm == "auto" || o.comm == "mpi" || o.comm == "nccl", "--comm must be auto, mpi or nccl, got '{}'",
           o.comm);
  AD_CHECK(o.cuda_graph == "on" || o.cuda_graph == "off", "--cuda-graph must be on or off, got '{}'", o.cuda_graph);
#ifndef AUTODIST_HAVE_CUDA
  AD_CHECK(!device.cuda(), "--device {}: this build has no CUDA backend (see autodist --version)", o.device);
#endif
#ifndef AUTODIST_HAVE_NCCL
  AD_CHECK(o.comm != "nccl", "--comm nccl: this build has no NCCL communicator (see autodist --version)");
#endif
  AD_CHECK(o.comm != "nccl" || device.cuda(), "--comm nccl moves device buffers between GPUs: use it with --device "
                                              "cuda, or --comm mpi on the cpu");
  if (o.dtype != "auto") parse_dtype(o.dtype);  // throws naming the accepted values
  AD_CHECK(o.sp_chunk_size >= 0, "--sp-chunk-size must be a positive number of tokens (0: off), got {}",
           o.sp_chunk_size);
  if (!o.kv_sync.empty()) {
    AD_CHECK(o.kv_sync == "pairwise" || o.kv_sync == "ring" || o.kv_sync == "none",
             "unknown --kv-sync '{}' (expected pairwise, ring or none)", o.kv_sync);
    if (o.sp_chunk_size == 0) o.sp_chunk_size = 128;  // --kv-sync alone turns SP+PP on
  } else if (o.sp_chunk_size > 0) {
    o.kv_sync = "pairwise";
  }
  if (o.sp_chunk_size > 0) {
    AD_CHECK(o.pp > 1, "--sp-chunk-size/--kv-sync need --pipeline-parallel-size > 1: the chunks flow through layer stages");
    AD_CHECK(o.tp == 1, "SP+PP prefill runs with --tensor-parallel-size 1 (got {})", o.tp);
  }
}

static bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "SLURM_PROCID"})
    if (std::getenv(v)) return true;
  return false;
}

std::unique_ptr<RunContext> setup_run(RunOptions& o, std::unique_ptr<dist::Communicator> world) {
  check_run_options(o);
  auto ctx = std::make_unique<RunContext>();
  if (world) {
    ctx->world = std::move(world);
  } else if (launched_by_mpi() || o.tp * o.pp > 1) {
    dist::MpiEnv::init();
    ctx->world = dist::make_mpi_world_communicator();
  }
  ctx->groups = dist::ParallelGroups::make(ctx->world.get(), o.tp, o.pp);
  const dist::DeviceRequest device = dist::parse_device(o.device);
  if (device.cuda()) {
    // The GPU of this rank: --device cuda:N, else its order among the world's ranks on its machine modulo the GPUs
    // it sees.
    const int local = dist::MpiEnv::initialized() ? dist::MpiEnv::init().local_rank() : 0;  // MPI_COMM_TYPE_SHARED
    const int ordinal = dist::pick_cuda_device(local, cuda_device_count(), device.index);
    ctx->backend = make_cuda_backend(ordinal);
  } else {
    ctx->backend = make_cpu_backend();  // --device auto stays on the cpu until the CUDA path is verified on a GPU
  }
  ctx->channels = dist::open_data_channels(ctx->groups, o.comm, *ctx->backend);
  if (ctx->world && ctx->is_root()) log::info("data channels: {}", ctx->channels.summary());
  ctx->cfg = load_model_config(o.model);
  EngineOptions eo;
  eo.model_dir = o.model;
  eo.partition = o.partition;
  eo.micro_batches = o.micro_batches;
  eo.sp_chunk = o.sp_chunk_size;
  eo.kv_sync = parse_kv_sync(o.kv_sync.empty() ? "none" : o.kv_sync);
  eo.weight_dtype = run_weight_dtype(o.dtype, ctx->backend->device());
  eo.cache_dir = o.cache_dir;
  LoadedModel model = load_model(*ctx->backend, ctx->cfg, ctx->groups.topo, eo);
  ctx->engine = std::make_unique<Engine>(*ctx->backend, ctx->cfg, eo, ctx->groups, std::move(model));
  return ctx;
}

DType run_weight_dtype(const std::string& dtype, Device device) {
  // Both backends compute in f32 today; bf16/f16 keep the weight matrices at half the memory (on a GPU: half the
  // bytes every decode step reads, which is its floor). --dtype f32 stays the on-device reference.
  if (dtype != "auto") return parse_dtype(dtype);
  return device == Device::CPU ? DType::F32 : DType::BF16;
}

bool parse_args(int argc, char** argv, po::options_description& d, po::variables_map& vm, const std::string& usage,
                const po::positional_options_description* pos) {
  d.add_options()("help,h", po::bool_switch(), "show this help");
  po::command_line_parser p(argc, argv);  // skips argv[0], the subcommand name
  p.options(d);
  if (pos) p.positional(*pos);
  po::store(p.run(), vm);
  // Read from the map: bound variables are only set by notify(), which fails on missing required options.
  if (vm.count("help") && vm["help"].as<bool>()) {
    std::ostringstream ss;
    ss << usage << "\n\n" << d << "\n";
    log::out(ss.str());
    return false;
  }
  po::notify(vm);
  return true;
}

std::vector<int32_t> parse_id_list(const std::string& s) {
  std::vector<int32_t> ids;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t a = item.find_first_not_of(" \t[]"), b = item.find_last_not_of(" \t[]\r");
    if (a == std::string::npos) continue;
    item = item.substr(a, b - a + 1);
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (...) {
      used = 0;
    }
    AD_CHECK(used == item.size(), "'{}' is not a token id (expected comma-separated integers)", item);
    AD_CHECK(v >= 0 && v <= INT32_MAX, "token id {} is out of range", v);
    ids.push_back(static_cast<int32_t>(v));
  }
  AD_CHECK(!ids.empty(), "no token ids in '{}'", s);
  return ids;
}

}  // namespace autodist::cli
