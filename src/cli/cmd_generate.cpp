// autodist generate: prompts in (token ids for now), generated ids and timings out.
#include <filesystem>
#include <fstream>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/run_options.h"
#include "cli/run_trace.h"
#include "core/error.h"
#include "core/log.h"
#include "io/temp_files.h"
#include "tokenizer/tokenizer.h"

namespace autodist::cli {
namespace {

// A line of digits, commas, brackets and spaces is token ids; any other line is text.
bool looks_like_ids(const std::string& line) {
  return line.find_first_not_of("0123456789,[] \t\r") == std::string::npos &&
         line.find_first_of("0123456789") != std::string::npos;
}

std::vector<std::string> read_prompt_lines(const std::string& path) {
  std::ifstream f(path);
  AD_CHECK(f.good(), "cannot open prompts file '{}'", path);
  std::vector<std::string> out;
  std::string line;
  while (std::getline(f, line))
    if (line.find_first_not_of(" \t\r") != std::string::npos) out.push_back(line);
  AD_CHECK(!out.empty(), "prompts file '{}' holds no prompts", path);
  return out;
}

// The tokenizer of --tokenizer, else the model directory's tokenizer.json if there is one.
std::unique_ptr<tokenizer::Tokenizer> find_tokenizer(const std::string& given, const std::string& model) {
  std::string p = given;
  if (p.empty() && std::filesystem::exists(std::filesystem::path(model) / "tokenizer.json")) p = model;
  if (p.empty()) return nullptr;
  return std::make_unique<tokenizer::Tokenizer>(tokenizer::Tokenizer::load(p));
}

int run(int argc, char** argv) {
  RunOptions ro;
  GenerateOptions go;
  std::string prompt_ids, prompts_file, prompt_text, tokenizer_path;
  int64_t batch = 1, seed = 1234;
  bool chat = false;
  float temperature = 0, top_p = 1;
  po::options_description d("generate options");
  add_run_options(d, ro);
  d.add_options()
    ("prompt-ids", po::value(&prompt_ids), "prompt as token ids: 1,2,3")
    ("prompts-file", po::value(&prompts_file), "one prompt per line (token ids: 1,2,3 or [1, 2, 3])")
    ("prompt", po::value(&prompt_text), "prompt text (needs a tokenizer)")
    ("chat", po::bool_switch(&chat), "wrap the prompt in the model's chat template")
    ("tokenizer", po::value(&tokenizer_path), "tokenizer.json or its directory (default: the model directory)")
    ("max-output-length", po::value(&go.max_output)->default_value(256), "tokens to generate at most")
    ("min-output-length", po::value(&go.min_output)->default_value(1), "eos is suppressed before this many tokens")
    ("seed", po::value(&seed)->default_value(1234), "sampling seed (>= 0)")
    ("temperature", po::value(&temperature)->default_value(0.0f), "0: greedy")
    ("top-k", po::value(&go.sampling.top_k)->default_value(0), "0: off")
    ("top-p", po::value(&top_p)->default_value(1.0f), "1: off")
    ("batch-size", po::value(&batch)->default_value(1), "prompts decoded together");
  po::variables_map vm;
  if (!parse_args(argc, argv, d, vm, "usage: autodist generate --model DIR (--prompt TEXT | --prompt-ids 1,2,3 | --prompts-file FILE) [options]"))
    return 0;
  // A uint64 option would take "-1" as 2^64-1 (lexical_cast wraps negative numbers): read it signed.
  AD_CHECK(seed >= 0, "--seed must be >= 0, got {}", seed);
  go.sampling.seed = static_cast<uint64_t>(seed);
  go.sampling.temperature = temperature;
  go.sampling.top_p = top_p;
  go.sampling.validate();
  AD_CHECK(batch >= 1, "--batch-size must be >= 1, got {}", batch);
  int given = !prompt_ids.empty() + !prompts_file.empty() + !prompt_text.empty();
  AD_CHECK(given == 1, "give exactly one of --prompt-ids, --prompts-file or --prompt");
  auto tok = find_tokenizer(tokenizer_path, ro.model);
  std::vector<std::string> texts;  // per prompt; empty for id prompts
  std::vector<std::vector<int32_t>> prompts;
  auto add_text = [&](const std::string& text) {
    AD_CHECK(tok, "text prompts need a tokenizer: pass --tokenizer PATH (a tokenizer.json or its directory), or "
                  "give token ids");
    std::string rendered = chat ? tok->render_chat({{"user", text}}, true) : text;
    texts.push_back(text);
    prompts.push_back(tok->encode(rendered));
    AD_CHECK(!prompts.back().empty(), "prompt '{}' encodes to no tokens", text);
  };
  if (!prompt_ids.empty()) {
    AD_CHECK(!chat, "--chat needs a text prompt (--prompt or a prompts file of texts)");
    prompts.push_back(parse_id_list(prompt_ids));
    texts.emplace_back();
  } else if (!prompt_text.empty()) {
    add_text(prompt_text);
  } else {
    for (auto& line : read_prompt_lines(prompts_file)) {
      if (looks_like_ids(line) && !chat) {
        prompts.push_back(parse_id_list(line));
        texts.emplace_back();
      } else {
        add_text(line);
      }
    }
  }
  if (tok) {
    for (int32_t id : tok->eos_ids_from_config()) go.extra_eos.push_back(id);
    if (chat && tok->token_id(tok->chat_end_token()) >= 0) go.extra_eos.push_back(tok->token_id(tok->chat_end_token()));
  }

  if (!ro.output_dir.empty()) check_output_dir(ro.output_dir);
  auto ctx = setup_run(ro);
  Engine& eng = *ctx->engine;
  for (size_t i = 0; i < prompts.size(); ++i) {
    if (tok && !texts[i].empty())  // ids from the tokenizer: name the token, the model may not be the tokenizer's
      for (int32_t id : prompts[i])
        AD_CHECK(id < ctx->cfg.vocab,
                 "prompt {}: token '{}' (id {}) of the tokenizer is outside the model's vocabulary of {} tokens: "
                 "--tokenizer does not belong to --model {}",
                 i, tok->token_bytes(id), id, ctx->cfg.vocab, ro.model);
    eng.check_prompt(prompts[i]);
  }
  // One line per prompt, each appended whole under the directory's output lock (concurrent runs).
  const std::string jsonl =
      ctx->is_root() && !ro.output_dir.empty() ? (std::filesystem::path(ro.output_dir) / "results.jsonl").string() : "";
  GenerateResult acc;  // over all batches, for the trace's metrics
  double first_ttft = -1;
  for (size_t start = 0; start < prompts.size(); start += static_cast<size_t>(batch)) {
    std::vector<std::vector<int32_t>> group(prompts.begin() + static_cast<std::ptrdiff_t>(start),
                                            prompts.begin() + static_cast<std::ptrdiff_t>(std::min(prompts.size(), start + batch)));
    // One prompt at a time streams its text as tokens arrive; a batch prints each text at the end.
    std::unique_ptr<tokenizer::StreamDecoder> stream;
    if (tok && group.size() == 1 && ctx->is_root()) {
      stream = std::make_unique<tokenizer::StreamDecoder>(*tok, true);
      log::out(fmt::format("[{}] stream: ", start));
      go.on_token = [&](int64_t, int32_t id) { log::out(stream->push(id)); };
    } else {
      go.on_token = nullptr;
    }
    GenerateResult r = eng.generate(group, go);
    if (stream) log::out(stream->flush() + "\n");
    if (first_ttft < 0) first_ttft = r.ttft_ms();
    acc.prefill_ms += r.prefill_ms;
    acc.decode_ms += r.decode_ms;
    acc.decode_steps += r.decode_steps;
    acc.seqs.insert(acc.seqs.end(), r.seqs.begin(), r.seqs.end());
    if (!ctx->is_root()) continue;
    for (size_t i = 0; i < r.seqs.size(); ++i) {
      auto& s = r.seqs[i];
      log::out(fmt::format("[{}] prompt ({} tokens) -> {} tokens ({}): {}\n", start + i, s.prompt.size(),
                           s.output.size(), s.stop_reason, fmt::join(s.output, ",")));
      std::string out_text;
      if (tok) {
        tokenizer::StreamDecoder dec(*tok, true);
        for (int32_t id : s.output) out_text += dec.push(id);
        out_text += dec.flush();
        log::out(fmt::format("[{}] text: {}\n", start + i, out_text));
      }
      if (!jsonl.empty()) {
        nlohmann::json j = {{"index", start + i},        {"prompt_ids", s.prompt},        {"output_ids", s.output},
                            {"stop_reason", s.stop_reason}, {"ttft_ms", r.ttft_ms()},      {"prefill_ms", r.prefill_ms},
                            {"decode_ms", r.decode_ms},     {"ms_per_step", r.ms_per_step()}, {"tp", ro.tp},
                            {"pp", ro.pp},                 {"batch_size", group.size()}};
        if (tok) j["output_text"] = out_text;
        if (!texts[start + i].empty()) j["prompt_text"] = texts[start + i];
        io::append_to_file(jsonl, j.dump() + "\n");
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
  if (!ro.output_dir.empty()) {
    auto rec = engine_run_record("generate", fmt::format("generate_tp{}_pp{}", ro.tp, ro.pp), ro, *ctx,
                                 argv_string(argc, argv), go.sampling.seed, batch,
                                 static_cast<int64_t>(prompts[0].size()), go.max_output);
    auto ev = eng.trace().events();
    auto m = metrics_of(ctx->groups.topo.rank, acc, eng.load_ms(), eng.bytes_read(), ev);
    m.ttft_ms = first_ttft;
    auto g = write_run_trace(std::move(rec), ev, &m, ctx->backend->name(), ctx->groups.world.get(), ro.output_dir,
                             ro.chrome_trace);
    if (ctx->is_root()) log::info("trace: run {} appended to {}/trace.h5", g, ro.output_dir);
  }
  return 0;
}

}  // namespace
AUTODIST_COMMAND("generate", "generate tokens for prompts (1 rank, or tp x pp ranks under mpirun)", run);
}  // namespace autodist::cli
