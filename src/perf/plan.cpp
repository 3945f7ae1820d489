#include "perf/plan.h"

#include <algorithm>
#include <set>

#include "core/error.h"

namespace autodist::perf {

RankBy parse_rank_by(const std::string& s) {
  if (s == "ttft") return RankBy::Ttft;
  if (s == "tpot") return RankBy::Tpot;
  if (s == "throughput") return RankBy::Throughput;
  AD_FAIL("unknown --rank-by '{}' (expected ttft, tpot or throughput)", s);
}

double rank_value(const Prediction& p, RankBy by) {
  switch (by) {
    case RankBy::Ttft: return p.ttft_s;
    case RankBy::Tpot: return p.tpot_s;
    case RankBy::Throughput: return -p.tokens_per_s;
  }
  return 0;
}

std::vector<PlanEntry> plan_layouts(const ModelConfig& c, const Profile& p, const Cluster& cl, const Workload& w,
                                    RankBy by, const std::vector<int>& chunks, DType weight_dtype, int* rejected) {
  const int world = cl.world();
  std::vector<PerfLayout> cands;
  for (int tp : valid_tps(c, world)) {
    if (world % tp) continue;
    const int pp = world / tp;
    if (pp > c.n_layers) continue;
    std::set<int> mbs = {1};
    if (pp > 1 && w.batch >= pp) mbs.insert(pp);
    for (int mb : mbs) {
      PerfLayout l;
      l.tp = tp, l.pp = pp, l.micro_batches = mb, l.weight_dtype = weight_dtype;
      cands.push_back(l);
    }
    if (tp != 1 || pp < 2) continue;
    std::set<int> cs;
    for (int ch : chunks)
      if (ch >= 1 && ch < w.prompt_len) cs.insert(ch);
    cs.insert(static_cast<int>(w.prompt_len));
    for (int ch : cs)
      for (KvSyncKind k : {KvSyncKind::Pairwise, KvSyncKind::Ring, KvSyncKind::None}) {
        PerfLayout l;
        l.tp = 1, l.pp = pp, l.sp_chunk = ch, l.kv_sync = k, l.weight_dtype = weight_dtype;
        cands.push_back(l);
      }
  }
  std::vector<PlanEntry> out;
  int rej = 0;
  for (const PerfLayout& l : cands) {
    Prediction pr = predict(c, p, cl, l, w);
    if (!pr.fits) {
      ++rej;
      continue;
    }
    out.push_back({l, pr});
  }
  std::stable_sort(out.begin(), out.end(), [&](const PlanEntry& a, const PlanEntry& b) {
    const double va = rank_value(a.pred, by), vb = rank_value(b.pred, by);
    if (va != vb) return va < vb;
    return a.pred.memory.total() < b.pred.memory.total();
  });
  if (rejected) *rejected = rej;
  return out;
}

}  // namespace autodist::perf
