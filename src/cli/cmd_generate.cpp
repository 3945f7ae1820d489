// autodist generate: prompts in (token ids for now), generated ids and timings out.
#include <filesystem>
#include <fstream>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/run_options.h"
#include "core/error.h"
#include "core/log.h"

namespace autodist::cli {
namespace {

std::vector<std::vector<int32_t>> read_prompts_file(const std::string& path) {
  std::ifstream f(path);
  AD_CHECK(f.good(), "cannot open prompts file '{}'", path);
  std::vector<std::vector<int32_t>> out;
  std::string line;
  int n = 0;
  while (std::getline(f, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      out.push_back(parse_id_list(line));
    } catch (const Error& e) {
      AD_FAIL("{}:{}: {}", path, n, e.what());
    }
  }
  AD_CHECK(!out.empty(), "prompts file '{}' holds no prompts", path);
  return out;
}

int run(int argc, char** argv) {
  RunOptions ro;
  GenerateOptions go;
  std::string prompt_ids, prompts_file, prompt_text;
  int64_t batch = 1;
  bool chat = false;
  float temperature = 0, top_p = 1;
  po::options_description d("generate options");
  add_run_options(d, ro);
  d.add_options()
    ("prompt-ids", po::value(&prompt_ids), "prompt as token ids: 1,2,3")
    ("prompts-file", po::value(&prompts_file), "one prompt per line (token ids: 1,2,3 or [1, 2, 3])")
    ("prompt", po::value(&prompt_text), "prompt text (needs a tokenizer)")
    ("chat", po::bool_switch(&chat), "wrap the prompt in the model's chat template")
    ("max-output-length", po::value(&go.max_output)->default_value(256), "tokens to generate at most")
    ("min-output-length", po::value(&go.min_output)->default_value(1), "eos is suppressed before this many tokens")
    ("seed", po::value(&go.sampling.seed)->default_value(1234), "sampling seed")
    ("temperature", po::value(&temperature)->default_value(0.0f), "0: greedy")
    ("top-k", po::value(&go.sampling.top_k)->default_value(0), "0: off")
    ("top-p", po::value(&top_p)->default_value(1.0f), "1: off")
    ("batch-size", po::value(&batch)->default_value(1), "prompts decoded together");
  po::variables_map vm;
  if (!parse_args(argc, argv, d, vm, "usage: autodist generate --model DIR (--prompt-ids 1,2,3 | --prompts-file FILE) [options]"))
    return 0;
  go.sampling.temperature = temperature;
  go.sampling.top_p = top_p;
  go.sampling.validate();
  AD_CHECK(batch >= 1, "--batch-size must be >= 1, got {}", batch);
  int given = !prompt_ids.empty() + !prompts_file.empty() + !prompt_text.empty();
  AD_CHECK(given == 1, "give exactly one of --prompt-ids, --prompts-file or --prompt");
  AD_CHECK(prompt_text.empty() && !chat, "--prompt/--chat need the tokenizer, which this build does not have yet");
  std::vector<std::vector<int32_t>> prompts =
      prompt_ids.empty() ? read_prompts_file(prompts_file) : std::vector<std::vector<int32_t>>{parse_id_list(prompt_ids)};

  auto ctx = setup_run(ro);
  Engine& eng = *ctx->engine;
  for (auto& p : prompts) eng.check_prompt(p);
  std::ofstream jl;
  if (ctx->is_root() && !ro.output_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(ro.output_dir, ec);
    jl.open(std::filesystem::path(ro.output_dir) / "results.jsonl", std::ios::app);
    AD_CHECK(jl.good(), "cannot write results.jsonl in --output-dir '{}'", ro.output_dir);
  }
  eng.trace().clear();
  for (size_t start = 0; start < prompts.size(); start += static_cast<size_t>(batch)) {
    std::vector<std::vector<int32_t>> group(prompts.begin() + static_cast<std::ptrdiff_t>(start),
                                            prompts.begin() + static_cast<std::ptrdiff_t>(std::min(prompts.size(), start + batch)));
    GenerateResult r = eng.generate(group, go);
    if (!ctx->is_root()) continue;
    for (size_t i = 0; i < r.seqs.size(); ++i) {
      auto& s = r.seqs[i];
      log::out(fmt::format("[{}] prompt ({} tokens) -> {} tokens ({}): {}\n", start + i, s.prompt.size(),
                           s.output.size(), s.stop_reason, fmt::join(s.output, ",")));
      if (jl.is_open()) {
        nlohmann::json j = {{"index", start + i},        {"prompt_ids", s.prompt},        {"output_ids", s.output},
                            {"stop_reason", s.stop_reason}, {"ttft_ms", r.ttft_ms()},      {"prefill_ms", r.prefill_ms},
                            {"decode_ms", r.decode_ms},     {"ms_per_step", r.ms_per_step()}, {"tp", ro.tp},
                            {"pp", ro.pp},                 {"batch_size", group.size()}};
        jl << j.dump() << "\n";
      }
    }
    double tps = r.decode_ms > 0 ? (r.output_tokens() - static_cast<int64_t>(r.seqs.size())) / (r.decode_ms / 1e3) : 0;
    log::out(fmt::format("timing: load {:.1f} ms, prefill (TTFT) {:.2f} ms, decode {} steps {:.2f} ms/step, "
                         "{:.1f} tok/s, comm {:.2f} ms\n",
                         r.load_ms, r.prefill_ms, r.decode_steps, r.ms_per_step(), tps, r.comm_ms));
  }
  if (eng.sp()) {  // per-rank phase table of the SP+PP run
    auto all = trace::gather_events(eng.trace().events(), ctx->world.get());
    if (ctx->is_root()) log::out(trace::phase_summary(all));
  }
  return 0;
}

}  // namespace
AUTODIST_COMMAND("generate", "generate tokens for prompts (1 rank, or tp x pp ranks under mpirun)", run);
}  // namespace autodist::cli
