// A step is graph-capturable: two consecutive decode steps of the same batch shape issue the same backend and
// data-channel calls on the same buffers with the same shapes; only the plan's contents differ. The engine runs a
// real generate on a RecordingBackend (the cpu backend underneath) with recording tp/pp data channels; every rank
// compares, per micro-batch, each decode step with the next (the last one excluded: what follows it is the end of
// the run), and checks that the comparison can fail (the prefill differs from the first decode step, and two
// micro-batches, which use different activation buffers, differ) and that the steps compared had different
// positions.
// usage: autodist_capture_test MODEL_DIR TP PP MICRO_BATCHES BATCH OUTPUT_TOKENS [TEMPERATURE]
#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "backend/backend.h"
#include "core/error.h"
#include "dist/mpi_env.h"
#include "io/model_config.h"
#include "model/family.h"
#include "recording.h"
#include "runtime/engine.h"
#include "runtime/layout.h"

using namespace autodist;

namespace {

struct Verdict {
  int pairs = 0, failures = 0;
  std::string first_failure;
};

bool contains(const std::vector<std::string>& calls, const std::string& prefix) {
  for (auto& c : calls)
    if (c.rfind(prefix, 0) == 0) return true;
  return false;
}

Verdict check(const test::CallLog& log, const dist::Topology& t, int64_t n_out) {
  Verdict v;
  auto fail = [&](std::string why) {
    if (!v.failures++) v.first_failure = std::move(why);
  };
  std::map<int, std::vector<size_t>> by_mb;
  for (size_t i = 0; i < log.steps.size(); ++i) by_mb[log.steps[i].micro_batch].push_back(i);
  for (auto& [mb, idx] : by_mb) {
    if (static_cast<int64_t>(idx.size()) != n_out) {
      fail(fmt::format("micro-batch {}: {} steps, expected {} (a prefill and {} decodes)", mb, idx.size(), n_out,
                       n_out - 1));
      continue;
    }
    const auto& prefill = log.steps[idx[0]];
    const auto& first = log.steps[idx[1]];
    if (prefill.calls == first.calls) fail(fmt::format("micro-batch {}: the prefill logs like a decode step", mb));
    // the calls a decode step of this rank must contain
    std::vector<std::string> need = {"gemm", "attention", "kv_append", "rope"};
    if (t.first_stage()) need.push_back("embed");
    if (t.last_stage()) need.push_back("gather_rows");
    if (t.tp > 1) need.push_back("tp_data.all_reduce");
    if (!t.first_stage()) need.push_back("pp_data.recv");
    if (!t.last_stage()) need.push_back("pp_data.isend");
    for (auto& n : need)
      if (!contains(first.calls, n)) fail(fmt::format("micro-batch {}: a decode step without {}", mb, n));
    for (size_t i = 1; i + 2 < idx.size(); ++i) {
      const auto& a = log.steps[idx[i]];
      const auto& b = log.steps[idx[i + 1]];
      ++v.pairs;
      if (a.positions == b.positions) fail(fmt::format("micro-batch {}: decode steps {} and {} have the same positions",
                                                       mb, i, i + 1));
      if (a.shape != b.shape) {
        fail(fmt::format("micro-batch {}: decode step {} is {}, step {} is {}", mb, i, a.shape, i + 1, b.shape));
        continue;
      }
      if (a.calls.size() != b.calls.size()) {
        fail(fmt::format("micro-batch {}: decode step {} makes {} calls, step {} makes {}", mb, i, a.calls.size(), i + 1,
                         b.calls.size()));
        continue;
      }
      for (size_t c = 0; c < a.calls.size(); ++c)
        if (a.calls[c] != b.calls[c]) {
          fail(fmt::format("micro-batch {}: call {} of decode step {} is '{}', of step {} '{}'", mb, c, i, a.calls[c],
                           i + 1, b.calls[c]));
          break;
        }
    }
  }
  // The comparison sees buffers, not just call names: two micro-batches decode through different activation buffers.
  if (by_mb.size() >= 2 && by_mb[0].size() > 1 && by_mb[1].size() > 1 &&
      log.steps[by_mb[0][1]].calls == log.steps[by_mb[1][1]].calls)
    fail("micro-batches 0 and 1 log the same decode step: the log does not see their buffers");
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 7) {
    std::fprintf(stderr, "usage: %s MODEL_DIR TP PP MICRO_BATCHES BATCH OUTPUT_TOKENS [TEMPERATURE]\n", argv[0]);
    return 2;
  }
  const std::string model = argv[1];
  const int tp = std::atoi(argv[2]), pp = std::atoi(argv[3]), mb = std::atoi(argv[4]);
  const int64_t batch = std::atoll(argv[5]), n_out = std::atoll(argv[6]);
  const float temperature = argc > 7 ? std::strtof(argv[7], nullptr) : 0.0f;
  auto& env = dist::MpiEnv::init();
  int failed = 0;
  std::string report;
  auto world = dist::make_mpi_world_communicator();
  try {
    auto groups = dist::ParallelGroups::make(world.get(), tp, pp);
    test::CallLog log;
    if (groups.tp_data) groups.tp_data = std::make_unique<test::RecordingComm>(std::move(groups.tp_data), log, "tp_data");
    if (groups.pp_data) groups.pp_data = std::make_unique<test::RecordingComm>(std::move(groups.pp_data), log, "pp_data");
    test::RecordingBackend be(make_cpu_backend(), log);
    ModelConfig cfg = load_model_config(model);
    EngineOptions eo;
    eo.model_dir = model;
    eo.micro_batches = mb;
    Engine eng(be, cfg, eo, groups, load_model(be, cfg, groups.topo, eo));
    std::vector<std::vector<int32_t>> prompts;
    for (int64_t b = 0; b < batch; ++b) {
      std::vector<int32_t> p;
      for (int64_t i = 0; i < 3 + 2 * b; ++i) p.push_back(static_cast<int32_t>((7 * b + 3 * i + 1) % cfg.vocab));
      prompts.push_back(p);
    }
    GenerateOptions go;
    go.max_output = go.min_output = n_out;
    go.stop_at_eos = false;
    go.sampling.temperature = temperature;
    GenerateResult r = eng.generate(prompts, go);
    Verdict v = check(log, groups.topo, n_out);
    const int expected = static_cast<int>(std::min<int64_t>(mb, batch) * (n_out - 3));
    if (v.pairs != expected) {
      ++v.failures;
      v.first_failure = fmt::format("compared {} pairs of decode steps, expected {}", v.pairs, expected);
    }
    failed = v.failures > 0;
    report = fmt::format("rank {} ({}): {} steps logged, {} pairs of consecutive decode steps compared, {} failures{}{}",
                         env.rank(), groups.topo.str(), log.steps.size(), v.pairs, v.failures,
                         v.failures ? ": " : "", v.first_failure);
    (void)r;
  } catch (const std::exception& e) {
    failed = 1;
    report = fmt::format("rank {}: error: {}", env.rank(), e.what());
  }
  std::printf("%s\n", report.c_str());
  std::fflush(stdout);
  int32_t any = failed;
  world->all_reduce(Tensor(&any, DType::I32, {1}), dist::ReduceOp::Max);
  if (env.rank() == 0)
    std::printf("%s: tp %d pp %d micro-batches %d batch %lld, %lld tokens%s\n", any ? "FAILED" : "ok: graph-capturable",
                tp, pp, mb, static_cast<long long>(batch), static_cast<long long>(n_out),
                temperature > 0 ? " (sampled)" : "");
  world.reset();
  return any ? 1 : 0;
}
