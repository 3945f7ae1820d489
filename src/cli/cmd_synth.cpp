// autodist synth: an HF-format checkpoint with seeded random weights, for any preset or config.json.
#include "cli/commands.h"
#include "cli/run_options.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "model/synth.h"

namespace autodist::cli {
namespace {

int run(int argc, char** argv) {
  std::string preset, config, out, dtype = "bf16";
  int64_t seed = 1;  // signed: a uint64 option takes "-1" as 2^64-1
  bool config_only = false;
  po::options_description d("synth options");
  d.add_options()
    ("preset", po::value(&preset), "tiny | qwen3-0.6b | qwen3-4b | qwen3-8b | qwen2.5-0.5b | qwen2.5-7b | llama-3.1-8b | "
                                   "llama-3.1-70b | mistral-7b | gpt2 | gpt2-xl | opt-1.3b | opt-6.7b")
    ("config", po::value(&config), "shapes from this config.json instead of a preset")
    ("out", po::value(&out)->required(), "output directory")
    ("dtype", po::value(&dtype)->default_value("bf16"), "bf16 | f16 | f32")
    ("seed", po::value(&seed)->default_value(1), "weight seed")
    ("config-only", po::bool_switch(&config_only), "write config.json and generation_config.json, no weights (enough "
                                                   "for profile, predict and plan)");
  po::variables_map vm;
  if (!parse_args(argc, argv, d, vm, "usage: autodist synth (--preset NAME | --config config.json) --out DIR")) return 0;
  AD_CHECK(preset.empty() != config.empty(), "give exactly one of --preset or --config");
  AD_CHECK(seed >= 0, "--seed must be >= 0, got {}", seed);
  SynthPreset spec = preset.empty() ? preset_from_config(config) : find_preset(preset);
  if (config_only) {
    const ModelConfig c = write_synthetic_config(spec, out, parse_dtype(dtype), static_cast<uint64_t>(seed));
    log::out(fmt::format("synth {}: {} layers, hidden {}, vocab {}: config only -> {}\n", spec.name, c.n_layers,
                         c.hidden, c.vocab, out));
    return 0;
  }
  Stopwatch sw;
  SynthReport r = write_synthetic_checkpoint(spec, out, parse_dtype(dtype), static_cast<uint64_t>(seed));
  log::out(fmt::format("synth {}: {} layers, hidden {}, vocab {}, {} -> {} ({:.1f} MB in {:.1f} s)\n", spec.name,
                       r.layers, r.hidden, r.vocab, dtype, out, r.bytes / 1e6, sw.ms() / 1e3));
  return 0;
}

}  // namespace
AUTODIST_COMMAND("synth", "write a checkpoint with random weights (real shapes, no download)", run);
}  // namespace autodist::cli
