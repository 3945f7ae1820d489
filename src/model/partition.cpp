#include "model/partition.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "core/error.h"
#include "model/tp_shard.h"

namespace autodist {

int64_t parse_bytes(const std::string& s) {
  AD_CHECK(!s.empty(), "empty size");
  size_t pos = 0;
  double v = 0;
  try {
    v = std::stod(s, &pos);
  } catch (...) {
    AD_FAIL("'{}' is not a size (expected a number with an optional K, M or G suffix)", s);
  }
  std::string suf = s.substr(pos);
  double m = 1;
  if (suf == "K" || suf == "k" || suf == "KB") m = 1024.0;
  else if (suf == "M" || suf == "MB") m = 1024.0 * 1024;
  else if (suf == "G" || suf == "GB") m = 1024.0 * 1024 * 1024;
  else AD_CHECK(suf.empty(), "'{}' has an unknown size suffix '{}' (expected K, M or G)", s, suf);
  AD_CHECK(v >= 0, "size '{}' is negative", s);
  return static_cast<int64_t>(v * m);
}

namespace {

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(item);
  return out;
}


std::vector<StageRange> from_counts(const ModelConfig& c, const std::vector<int64_t>& counts) {
  std::vector<StageRange> r;
  int64_t first = 0;
  for (size_t s = 0; s < counts.size(); ++s) {
    r.push_back({first, first + counts[s], s == 0, s + 1 == counts.size()});
    first += counts[s];
  }
  return r;
}

// Contiguous split of the layers into pp non-empty stages minimising max_s cost(s) / weight[s].
std::vector<int64_t> min_max_split(const ModelConfig& c, int pp, const ModelBytes& mb, const std::vector<double>& weight) {
  int64_t n = c.n_layers;
  double lb = static_cast<double>(mb.layer);
  auto cost = [&](int s, int64_t a, int64_t b) {
    double x = lb * (b - a);
    if (s == 0) x += static_cast<double>(mb.embed);
    if (s == pp - 1) x += static_cast<double>(mb.head);
    return x / weight[s];
  };
  const double inf = std::numeric_limits<double>::infinity();
  // best[s][k]: minimal max cost placing the first k layers on stages 0..s
  std::vector<std::vector<double>> best(pp, std::vector<double>(n + 1, inf));
  std::vector<std::vector<int64_t>> from(pp, std::vector<int64_t>(n + 1, -1));
  for (int64_t k = 1; k <= n; ++k) best[0][k] = cost(0, 0, k);
  for (int s = 1; s < pp; ++s)
    for (int64_t k = s + 1; k <= n; ++k)
      for (int64_t j = s; j < k; ++j) {
        double v = std::max(best[s - 1][j], cost(s, j, k));
        if (v < best[s][k]) best[s][k] = v, from[s][k] = j;
      }
  std::vector<int64_t> counts(pp);
  int64_t k = n;
  for (int s = pp - 1; s > 0; --s) {
    int64_t j = from[s][k];
    counts[s] = k - j;
    k = j;
  }
  counts[0] = k;
  return counts;
}

}  // namespace

ModelBytes model_bytes(const ModelConfig& c, DType dtype) {
  const TpShard whole = TpShard::make(c, 0, 1);
  auto sum = [&](const StageRange& r) {
    size_t b = 0;
    for (const ShardTensor& t : shard_plan(c, whole, r, dtype)) b += t.nbytes();
    return b;
  };
  return {c.n_layers > 0 ? sum({0, 1, false, false}) : 0, sum({0, 0, true, false}), sum({0, 0, false, true})};
}

size_t stage_bytes(const ModelConfig& c, const StageRange& r, DType dtype) {
  ModelBytes mb = model_bytes(c, dtype);
  size_t b = mb.layer * static_cast<size_t>(r.last - r.first);
  if (r.has_embed) b += mb.embed;
  if (r.has_head) b += mb.head;
  return b;
}

std::vector<StageRange> make_partition(const ModelConfig& c, int pp, const std::string& policy, DType dtype) {
  const ModelBytes mb = model_bytes(c, dtype);
  const int64_t n = c.n_layers;
  AD_CHECK(pp >= 1, "pipeline-parallel size must be >= 1, got {}", pp);
  AD_CHECK(pp <= n, "pipeline-parallel size {} is larger than the {} layers of the model: each stage needs a layer",
           pp, n);
  std::string kind = policy.substr(0, policy.find(':'));
  std::string arg = policy.find(':') == std::string::npos ? "" : policy.substr(policy.find(':') + 1);
  std::vector<int64_t> counts;
  if (kind == "equal-layers") {
    for (int s = 0; s < pp; ++s) counts.push_back(n / pp + (s < n % pp ? 1 : 0));
  } else if (kind == "equal-params") {
    counts = min_max_split(c, pp, mb, std::vector<double>(pp, 1.0));
  } else if (kind == "threshold") {
    int64_t limit = parse_bytes(arg);
    size_t lb = mb.layer, cur = mb.embed;
    int64_t in_stage = 0;
    for (int64_t l = 0; l < n; ++l) {
      if (in_stage > 0 && cur + lb > static_cast<size_t>(limit)) {
        counts.push_back(in_stage);
        in_stage = 0;
        cur = 0;
      }
      cur += lb;
      ++in_stage;
    }
    counts.push_back(in_stage);
    AD_CHECK(static_cast<int>(counts.size()) == pp,
             "partition threshold:{} gives {} stages (layer {} bytes) but the pipeline has {}; pick a threshold that "
             "gives exactly {}",
             arg, counts.size(), lb, pp, pp);
  } else if (kind == "memory") {
    auto items = split_list(arg);
    AD_CHECK(static_cast<int>(items.size()) == pp, "partition memory:{} lists {} budgets for {} stages", arg,
             items.size(), pp);
    std::vector<double> gb;
    for (auto& it : items) {
      double v = 0;
      try {
        v = std::stod(it);
      } catch (...) {
        AD_FAIL("partition memory: '{}' is not a number of GB", it);
      }
      AD_CHECK(v > 0, "partition memory: budget '{}' must be positive", it);
      gb.push_back(v * 1024 * 1024 * 1024);
    }
    counts = min_max_split(c, pp, mb, gb);
    auto ranges = from_counts(c, counts);
    for (int s = 0; s < pp; ++s)
      AD_CHECK(stage_bytes(c, ranges[s], dtype) <= gb[s],
               "partition memory:{}: stage {} needs {:.3f} MB of weights in {} but its budget is {} GB ({:.3f} MB)", arg,
               s, stage_bytes(c, ranges[s], dtype) / 1048576.0, dtype_name(dtype), items[s], gb[s] / 1048576.0);
  } else if (kind == "layers") {
    auto items = split_list(arg);
    AD_CHECK(static_cast<int>(items.size()) == pp, "partition layers:{} lists {} stages but the pipeline has {}", arg,
             items.size(), pp);
    int64_t sum = 0;
    for (auto& it : items) {
      int64_t v = 0;
      try {
        v = std::stoll(it);
      } catch (...) {
        AD_FAIL("partition layers: '{}' is not a layer count", it);
      }
      AD_CHECK(v >= 1, "partition layers:{}: every stage needs at least one layer", arg);
      counts.push_back(v);
      sum += v;
    }
    AD_CHECK(sum == n, "partition layers:{} covers {} layers but the model has {}", arg, sum, n);
  } else {
    AD_FAIL("unknown partition policy '{}' (expected equal-layers, equal-params, threshold:BYTES, memory:GB,.. or "
            "layers:A,B,..)",
            policy);
  }
  return from_counts(c, counts);
}

}  // namespace autodist
