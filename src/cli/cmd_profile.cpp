// autodist profile: per-operator times of a model's layers on one rank, by shape, into a profile file (JSON) that
// predict and plan read (docs/perf-model.md).

#include <cblas.h>

#include "cli/commands.h"
#include "cli/run_options.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "model/family.h"
#include "perf/profiler.h"

namespace autodist::cli {
namespace {

std::vector<int64_t> parse_sizes(const std::string& s, const char* flag) {
  std::vector<int64_t> out;
  for (int32_t v : parse_id_list(s)) {
    AD_CHECK(v >= 1, "{}: sizes must be >= 1, got {}", flag, v);
    out.push_back(v);
  }
  return out;
}

int run(int argc, char** argv) {
  std::string model, dtype = "auto", out, batches = "1,8", lengths = "128,512";
  perf::ProfileOptions po_;
  po::options_description d("profile options");
  d.add_options()
    ("model", po::value(&model)->required(), "HuggingFace model directory (config.json; no weights are read)")
    ("dtype", po::value(&dtype)->default_value("auto"), "weights: auto | bf16 | f16 | f32, as generate --dtype")
    ("out", po::value(&out)->required(), "profile file to write (JSON)")
    ("batch", po::value(&batches)->default_value("1,8"), "decode batch sizes to cover, e.g. 1,8")
    ("lengths", po::value(&lengths)->default_value("128,512"), "prompt lengths and chunk sizes to cover, e.g. 64,256")
    ("max-tp", po::value(&po_.max_tp)->default_value(8), "shapes of every tensor-parallel size up to this")
    ("max-gemm-rows", po::value(&po_.max_gemm_rows)->default_value(512), "largest GEMM M timed (beyond: linear)")
    ("reps", po::value(&po_.reps)->default_value(5), "timed repetitions per shape (median of the fastest half)");
  po::variables_map vm;
  if (!parse_args(argc, argv, d, vm, "usage: autodist profile --model DIR --out FILE [--dtype D] [--batch B,..] "
                                     "[--lengths L,..]"))
    return 0;
  AD_CHECK(po_.reps >= 1, "--reps must be >= 1, got {}", po_.reps);
  AD_CHECK(po_.max_gemm_rows >= 1, "--max-gemm-rows must be >= 1, got {}", po_.max_gemm_rows);
  po_.batches = parse_sizes(batches, "--batch");
  po_.lengths = parse_sizes(lengths, "--lengths");
  po_.weight_dtype = run_weight_dtype(dtype);
  po_.progress = [](const std::string& s) { log::info("profile: {}", s); };
  ModelConfig cfg = load_model_config(model);
  auto be = make_cpu_backend();
  Stopwatch sw;
  perf::Profile p = perf::measure_profile(*be, cfg, po_);
  p.model = model;
  p.threads = openblas_get_num_threads();
  perf::write_profile(p, out);
  log::out(fmt::format("profile of {} ({} weights, {} BLAS thread{}): {} GEMM shapes, {} kernels in {:.1f} s -> {}\n",
                       model, p.dtype, p.threads, p.threads == 1 ? "" : "s", p.gemms.size(), p.ops.size() + 1,
                       sw.ms() / 1e3, out));
  return 0;
}

}  // namespace
AUTODIST_COMMAND("profile", "time the kernels of a model's layers by shape (for predict and plan)", run);
}  // namespace autodist::cli
