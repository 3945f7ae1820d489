// defines: RunOptions (model, parallel and device flags shared by generate, verify, bench),
//          add_run_options, RunContext + setup_run (MPI, topology, backend, engine)
#pragma once
#include <boost/program_options.hpp>
#include <memory>
#include <optional>
#include <string>

#include "backend/backend.h"
#include "dist/data_channels.h"
#include "dist/topology.h"
#include "io/model_config.h"
#include "model/family.h"
#include "runtime/engine.h"

namespace autodist::cli {

namespace po = boost::program_options;

struct RunOptions {
  std::string model;
  int tp = 1, pp = 1;
  std::optional<int> tp_alias, pp_alias;  // --tp / --pp when given (they win over the long names)
  std::string partition = "equal-layers";
  int micro_batches = 1;
  int sp_chunk_size = 0;
  std::string kv_sync;
  std::string device = "auto", comm = "auto", dtype = "auto", cuda_graph = "on";
  std::string cache_dir, output_dir;
  bool chrome_trace = false;
  std::string log_level = "info";
  double comm_timeout = 600;  // seconds a rank may wait on its peers in one operation (dist/comm_wait.h)
};

void add_run_options(po::options_description& d, RunOptions& o);
// --comm-timeout SECONDS (default 600), for the commands that do not take the run options (comm-bench).
void add_comm_timeout_option(po::options_description& d, double& seconds);
// Resolves aliases (--tp / --tensor-parallel-size) and refuses what this build cannot do.
void check_run_options(RunOptions& o);

struct RunContext {
  std::unique_ptr<Backend> backend;
  std::unique_ptr<dist::Communicator> world;  // null for a single rank without mpirun
  dist::ParallelGroups groups;
  dist::DataChannels channels;  // what carries the tp and pp data, and why (--comm)
  ModelConfig cfg;
  std::unique_ptr<Engine> engine;
  bool is_root() const { return groups.topo.rank == 0; }
};

// MPI (when launched by mpirun/srun or when tp*pp > 1), topology, backend, config, engine.
// `world` (a sweep point's sub-communicator of tp*pp ranks) replaces MPI_COMM_WORLD when given.
std::unique_ptr<RunContext> setup_run(RunOptions& o, std::unique_ptr<dist::Communicator> world = nullptr);

// The storage dtype of the weight matrices for --dtype (auto: f32 on the cpu, bf16 on a GPU): what the run holds and
// the partition sizes.
DType run_weight_dtype(const std::string& dtype, Device device = Device::CPU);

// Parses argv with the given description; prints help and returns false on --help.
bool parse_args(int argc, char** argv, po::options_description& d, po::variables_map& vm,
                const std::string& usage, const po::positional_options_description* pos = nullptr);

// Parses "1,2,3" into ids (clear error on anything else).
std::vector<int32_t> parse_id_list(const std::string& s);

}  // namespace autodist::cli
