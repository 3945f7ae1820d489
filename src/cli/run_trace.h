// defines: RunTrace (the trace.h5 record of one run: attributes, per-rank metrics, events),
//          metrics_of, argv_string
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/run_options.h"
#include "dist/comm_bench.h"
#include "trace/h5.h"

namespace autodist::cli {

// "autodist generate --model ..." from a subcommand's argv.
std::string argv_string(int argc, char** argv);

// Creates DIR if needed and checks that files can be written there and that an existing
// DIR/trace.h5 is an intact autodist trace (clear error otherwise), so a run fails before its work
// rather than after.
void check_output_dir(const std::string& dir);

// The `comm` rows of a comm-bench run: one per (op, size, placement); the in-place rows of ops that
// have both placements are named "OP/inplace".
std::vector<trace::CommRow> comm_trace_rows(const std::vector<dist::OpReport>& reports);

// One rank's metrics row from a generate result and its own events (sync time).
trace::MetricRow metrics_of(int rank, const GenerateResult& r, double load_ms, size_t bytes_read,
                            const std::vector<trace::Event>& events);

// Attributes of a run of the engine (docs/trace-format.md): the parallel layout, the workload and
// the options as JSON. Host and device names are filled in by write().
trace::RunRecord engine_run_record(const std::string& command, const std::string& name, const RunOptions& ro,
                                   const RunContext& ctx, const std::string& argv, int64_t seed, int64_t batch,
                                   int64_t prompt_len, int64_t output_len);

// Collective over comm (null: one rank): gathers every rank's events, metrics row, host and device
// to rank 0, which appends the run to DIR/trace.h5 (and DIR/trace.<group>.json with chrome). The run's "hosts"
// and "devices" attributes list the ranks in comm's order: pass the groups' world (ordered by logical rank, the
// rank of the events and metrics), not the MPI world.
// Returns the group name on rank 0 ("" elsewhere).
std::string write_run_trace(trace::RunRecord rec, const std::vector<trace::Event>& mine, const trace::MetricRow* metrics,
                            const std::string& device, dist::Communicator* comm, const std::string& dir, bool chrome);

}  // namespace autodist::cli
