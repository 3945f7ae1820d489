// autodist bench: prefill and decode timings of random prompts (ignoring eos), split into compute
// and communication.
#include <random>

#include "cli/commands.h"
#include "cli/run_options.h"
#include "cli/run_trace.h"
#include "core/error.h"
#include "core/log.h"

namespace autodist::cli {
namespace {

int run(int argc, char** argv) {
  RunOptions ro;
  int64_t prompt_len = 128, output_len = 32, batch = 1;
  int warmup = 1, iters = 1;
  po::options_description d("bench options");
  add_run_options(d, ro);
  d.add_options()
    ("prompt-len", po::value(&prompt_len)->default_value(128), "prompt tokens")
    ("output-len", po::value(&output_len)->default_value(32), "generated tokens")
    ("batch-size", po::value(&batch)->default_value(1), "sequences decoded together")
    ("warmup", po::value(&warmup)->default_value(1), "untimed runs first")
    ("iters", po::value(&iters)->default_value(1), "timed runs (best is reported)");
  po::variables_map vm;
  if (!parse_args(argc, argv, d, vm, "usage: autodist bench --model DIR --prompt-len L --output-len N [options]"))
    return 0;
  AD_CHECK(prompt_len >= 1 && output_len >= 1 && batch >= 1 && iters >= 1 && warmup >= 0,
           "--prompt-len, --output-len, --batch-size and --iters must be >= 1");
  if (!ro.output_dir.empty()) check_output_dir(ro.output_dir);
  auto ctx = setup_run(ro);
  std::mt19937 rng(7);
  std::uniform_int_distribution<int32_t> tok(0, static_cast<int32_t>(std::min<int64_t>(ctx->cfg.vocab, 32000) - 1));
  std::vector<std::vector<int32_t>> prompts(static_cast<size_t>(batch));
  for (auto& p : prompts)
    for (int64_t i = 0; i < prompt_len; ++i) p.push_back(tok(rng));
  GenerateOptions go;
  go.max_output = go.min_output = output_len;
  go.stop_at_eos = false;
  GenerateResult best;
  std::vector<trace::Event> best_events;
  const auto load_events = ctx->engine->trace().events();
  for (int i = 0; i < warmup + iters; ++i) {
    ctx->engine->trace().clear();
    GenerateResult r = ctx->engine->generate(prompts, go);
    if (i >= warmup && (i == warmup || r.prefill_ms + r.decode_ms < best.prefill_ms + best.decode_ms)) {
      best = r;
      best_events = load_events;
      for (auto& e : ctx->engine->trace().events()) best_events.push_back(e);
    }
  }
  if (!ro.output_dir.empty()) {
    auto rec = engine_run_record("bench", fmt::format("bench_tp{}_pp{}_b{}_L{}_N{}", ro.tp, ro.pp, batch, prompt_len, output_len),
                                 ro, *ctx, argv_string(argc, argv), 7, batch, prompt_len, output_len);
    auto m = metrics_of(ctx->groups.topo.rank, best, ctx->engine->load_ms(), ctx->engine->bytes_read(), best_events);
    write_run_trace(std::move(rec), best_events, &m, ctx->backend->name(), ctx->groups.world.get(), ro.output_dir,
                    ro.chrome_trace);
  }
  if (ctx->is_root()) {
    double tps = best.decode_ms > 0 ? batch * best.decode_steps / (best.decode_ms / 1e3) : 0;
    double step = best.ms_per_step(), step_comm = best.decode_steps ? best.decode_comm_ms() / best.decode_steps : 0;
    // Communication is measured on rank 0 and includes waiting for peers (pipeline bubbles).
    std::string s = fmt::format(
        "| device | tp | pp | mb | batch | prompt | output | prefill ms | (compute / comm+wait) | prefill tok/s | "
        "decode ms/step | (compute / comm+wait) | decode tok/s |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
        "| {} | {} | {} | {} | {} | {} | {} | {:.2f} | {:.2f} / {:.2f} | {:.1f} | {:.3f} | {:.3f} / {:.3f} | {:.2f} |\n",
        ctx->backend->name(), ro.tp, ro.pp, ro.micro_batches, batch, prompt_len, output_len, best.prefill_ms,
        best.prefill_ms - best.prefill_comm_ms, best.prefill_comm_ms, batch * prompt_len / (best.prefill_ms / 1e3),
        step, step - step_comm, step_comm, tps);
    log::out(s);
  }
  return 0;
}

}  // namespace
AUTODIST_COMMAND("bench", "time prefill and decode on random prompts", run);
}  // namespace autodist::cli
