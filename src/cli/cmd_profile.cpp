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
#include "perf/roofline.h"

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
  std::string roofline;
  perf::DeviceSpec dev;
  po::options_description d("profile options");
  d.add_options()
    ("model", po::value(&model)->required(), "HuggingFace model directory (config.json; no weights are read)")
    ("dtype", po::value(&dtype)->default_value("auto"), "weights: auto | bf16 | f16 | f32, as generate --dtype")
    ("out", po::value(&out)->required(), "profile file to write (JSON)")
    ("batch", po::value(&batches)->default_value("1,8"), "decode batch sizes to cover, e.g. 1,8")
    ("lengths", po::value(&lengths)->default_value("128,512"), "prompt lengths and chunk sizes to cover, e.g. 64,256")
    ("max-tp", po::value(&po_.max_tp)->default_value(8), "shapes of every tensor-parallel size up to this")
    ("max-gemm-rows", po::value(&po_.max_gemm_rows)->default_value(512), "largest GEMM M timed (beyond: linear)")
    ("reps", po::value(&po_.reps)->default_value(5), "timed repetitions per shape (median of the fastest half)")
    ("passes", po::value(&po_.passes)->default_value(3),
     "sweeps over the GEMM shapes, spread over the profile's time (each point keeps its fastest sweep)")
    ("roofline", po::value(&roofline),
     "price the kernels on paper for this device instead of timing them here: h100-sxm | h200 | a100-sxm | l40s | "
     "custom (with --peak-tflops and --mem-gbps)")
    ("peak-tflops", po::value(&dev.peak_tflops), "roofline: dense 16-bit peak, TFLOP/s (overrides the device's)")
    ("mem-gbps", po::value(&dev.mem_gbps), "roofline: memory bandwidth, GB/s (overrides the device's)")
    ("flops-efficiency", po::value(&dev.flops_efficiency)->default_value(0.7), "roofline: usable fraction of the peak")
    ("mem-efficiency", po::value(&dev.mem_efficiency)->default_value(0.85), "roofline: usable fraction of the bandwidth")
    ("launch-us", po::value(&dev.launch_us)->default_value(4), "roofline: fixed cost of every kernel, us");
  po::variables_map vm;
  if (!parse_args(argc, argv, d, vm, "usage: autodist profile --model DIR --out FILE [--dtype D] [--batch B,..] "
                                     "[--lengths L,..]"))
    return 0;
  AD_CHECK(po_.reps >= 1, "--reps must be >= 1, got {}", po_.reps);
  AD_CHECK(po_.passes >= 1, "--passes must be >= 1, got {}", po_.passes);
  AD_CHECK(po_.max_gemm_rows >= 1, "--max-gemm-rows must be >= 1, got {}", po_.max_gemm_rows);
  po_.batches = parse_sizes(batches, "--batch");
  po_.lengths = parse_sizes(lengths, "--lengths");
  po_.weight_dtype = run_weight_dtype(dtype);
  po_.progress = [](const std::string& s) { log::info("profile: {}", s); };
  ModelConfig cfg = load_model_config(model);
  if (!roofline.empty()) {
    perf::DeviceSpec spec = roofline == "custom" ? perf::DeviceSpec{"custom"} : perf::device_spec(roofline);
    for (const char* k : {"peak-tflops", "mem-gbps"})
      AD_CHECK(roofline != "custom" || vm.count(k), "--roofline custom needs --{}", k);
    if (vm.count("peak-tflops")) spec.peak_tflops = dev.peak_tflops;
    if (vm.count("mem-gbps")) spec.mem_gbps = dev.mem_gbps;
    spec.flops_efficiency = dev.flops_efficiency, spec.mem_efficiency = dev.mem_efficiency;
    spec.launch_us = dev.launch_us;
    perf::Profile p = perf::roofline_profile(cfg, po_, spec);
    p.model = model;
    perf::write_profile(p, out);
    log::out(fmt::format("roofline profile of {} ({} weights) on {}: {:g} TFLOP/s x {:g}, {:g} GB/s x {:g}, {:g} us "
                         "per kernel: {} GEMM shapes -> {}\n",
                         model, p.dtype, spec.name, spec.peak_tflops, spec.flops_efficiency, spec.mem_gbps,
                         spec.mem_efficiency, spec.launch_us, p.gemms.size(), out));
    return 0;
  }
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
