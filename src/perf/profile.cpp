#include "perf/profile.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>

#include "core/error.h"
#include "core/file.h"
#include "core/json_value.h"

namespace autodist::perf {

LinFit fit_line(const std::vector<std::pair<double, double>>& xt) {
  AD_CHECK(!xt.empty(), "fit_line: no points");
  const double n = static_cast<double>(xt.size());
  double sx = 0, st = 0, sxx = 0, sxt = 0;
  for (auto [x, t] : xt) sx += x, st += t, sxx += x * x, sxt += x * t;
  const double den = n * sxx - sx * sx;
  LinFit f;
  if (xt.size() < 2 || std::fabs(den) <= 1e-30 * std::max(1.0, sxx * n)) {
    f.a = st / n;  // one x: a constant
    return f;
  }
  f.b = (n * sxt - sx * st) / den;
  f.a = (st - f.b * sx) / n;
  if (f.a < 0) {  // refit through the origin
    f.a = 0;
    f.b = sxx > 0 ? sxt / sxx : 0;
  }
  if (f.b < 0) f.b = 0, f.a = st / n;
  return f;
}

double GemmCurve::at(int64_t M) const {
  AD_CHECK(!pts.empty(), "gemm curve N={} K={} has no points", N, K);
  if (M <= pts.front().first) return pts.front().second;
  for (size_t i = 1; i < pts.size(); ++i)
    if (M <= pts[i].first) {
      const auto [m0, t0] = pts[i - 1];
      const auto [m1, t1] = pts[i];
      return t0 + (t1 - t0) * static_cast<double>(M - m0) / static_cast<double>(m1 - m0);
    }
  const auto [ml, tl] = pts.back();
  return tl * static_cast<double>(M) / static_cast<double>(ml);
}

double Profile::gemm(int64_t M, int64_t N, int64_t K) const {
  if (M <= 0 || N <= 0 || K <= 0) return 0;
  AD_CHECK(!gemms.empty(), "profile of {} has no GEMM measurements", model);
  const GemmCurve* best = nullptr;
  double best_d = std::numeric_limits<double>::infinity();
  const double want = static_cast<double>(N) * static_cast<double>(K);
  for (const GemmCurve& g : gemms) {
    if (g.N == N && g.K == K) return g.at(M);
    const double d = std::fabs(std::log(static_cast<double>(g.N) * static_cast<double>(g.K) / want));
    if (d < best_d) best_d = d, best = &g;
  }
  return best->at(M) * want / (static_cast<double>(best->N) * static_cast<double>(best->K));
}

double Profile::op(const std::string& name, double elements) const {
  auto it = ops.find(name);
  AD_CHECK(it != ops.end(), "profile of {} has no measurement of the '{}' kernel (profile again with this autodist)",
           model, name);
  return it->second.at(elements);
}

double Profile::attention(int64_t start, int64_t len, int64_t heads, int64_t head_dim) const {
  double t = 0;
  for (int64_t b0 = 0; b0 < len; b0 += 128) {
    const int64_t rows = std::min<int64_t>(128, len - b0), keys = start + b0 + rows;
    const double calls = static_cast<double>(heads);
    const double work = static_cast<double>(rows) * static_cast<double>(keys) * static_cast<double>(head_dim) * calls;
    const LinFit& f = rows == 1 ? attn_decode : attn_prefill;
    t += f.a * calls + f.b * work;
  }
  return t;
}

double by_rows(double decode, double prefill, int64_t rows) {
  if (rows <= 16) return decode;
  if (rows >= 128) return prefill;
  return decode + (prefill - decode) * std::log2(static_cast<double>(rows) / 16) / 3;
}

double Profile::compose(int64_t rows) const { return by_rows(compose_decode, compose_prefill, rows); }

double Profile::contention(double busy, bool decode) const {
  const std::vector<double>& v = decode ? contention_decode : contention_prefill;
  if (v.empty() || busy <= 1) return 1.0;
  const double i = busy - 1;
  const size_t lo = static_cast<size_t>(i);
  if (lo + 1 >= v.size()) return v.back();
  return v[lo] + (v[lo + 1] - v[lo]) * (i - static_cast<double>(lo));
}

double Profile::sync(int tp, int64_t rows) const {
  auto at = [&](const std::vector<double>& v) {
    if (tp <= 1 || v.empty()) return 1.0;
    return v[std::min(static_cast<size_t>(tp - 1), v.size() - 1)];
  };
  return by_rows(at(sync_decode), at(sync_prefill), rows);
}

namespace {
nlohmann::json fit_json(const LinFit& f) { return nlohmann::json{{"a", f.a}, {"b", f.b}}; }

LinFit fit_of(const nlohmann::json& j, const std::string& what) {
  AD_CHECK(j.is_object() && j.contains("a") && j.contains("b"), "{}: expected an object with a and b, got {}", what,
           json_describe(j));
  return {json_number(j["a"], what + ".a"), json_number(j["b"], what + ".b")};
}

const nlohmann::json& key(const nlohmann::json& j, const char* k, const std::string& what) {
  AD_CHECK(j.contains(k), "{}: missing key '{}'", what, k);
  return j[k];
}
}  // namespace

nlohmann::json profile_to_json(const Profile& p) {
  nlohmann::json g = nlohmann::json::array();
  for (const GemmCurve& c : p.gemms) {
    nlohmann::json pts = nlohmann::json::array();
    for (auto [m, t] : c.pts) pts.push_back({m, t});
    g.push_back({{"N", c.N}, {"K", c.K}, {"points", pts}});
  }
  nlohmann::json ops = nlohmann::json::object();
  for (auto& [k, f] : p.ops) ops[k] = fit_json(f);
  return {{"format", "autodist-profile-1"}, {"model", p.model},     {"dtype", p.dtype},
          {"backend", p.backend},           {"threads", p.threads}, {"max_tp", p.max_tp},
          {"gemm", g},                      {"attention", {{"decode", fit_json(p.attn_decode)}, {"prefill", fit_json(p.attn_prefill)}}},
          {"ops", ops},
          {"contention", {{"decode", p.contention_decode}, {"prefill", p.contention_prefill}}},
          {"sync", {{"decode", p.sync_decode}, {"prefill", p.sync_prefill}}},
          {"compose", {{"decode", p.compose_decode}, {"prefill", p.compose_prefill}}}};
}

Profile profile_from_json(const nlohmann::json& j, const std::string& what) {
  AD_CHECK(j.is_object(), "{}: a profile is a JSON object, got {}", what, json_describe(j));
  AD_CHECK(j.contains("format") && j["format"] == "autodist-profile-1",
           "{}: not an autodist profile (format 'autodist-profile-1' expected; make one with autodist profile)", what);
  Profile p;
  p.model = json_string(key(j, "model", what), what + ": model");
  p.dtype = json_string(key(j, "dtype", what), what + ": dtype");
  p.backend = json_string(key(j, "backend", what), what + ": backend");
  p.threads = static_cast<int>(json_int(key(j, "threads", what), what + ": threads", 1, 4096));
  p.max_tp = static_cast<int>(json_int(key(j, "max_tp", what), what + ": max_tp", 1, 1 << 20));
  const auto& g = key(j, "gemm", what);
  AD_CHECK(g.is_array() && !g.empty(), "{}: gemm must be a non-empty list", what);
  for (size_t i = 0; i < g.size(); ++i) {
    const std::string w = fmt::format("{}: gemm[{}]", what, i);
    GemmCurve c;
    c.N = json_int(key(g[i], "N", w), w + ".N", 1);
    c.K = json_int(key(g[i], "K", w), w + ".K", 1);
    const auto& pts = key(g[i], "points", w);
    AD_CHECK(pts.is_array() && !pts.empty(), "{}.points must be a non-empty list", w);
    for (const auto& pt : pts) {
      AD_CHECK(pt.is_array() && pt.size() == 2, "{}.points: each point is [M, seconds], got {}", w, json_describe(pt));
      const int64_t m = json_int(pt[0], w + ".points M", 1);
      const double t = json_number(pt[1], w + ".points seconds");
      AD_CHECK(t >= 0, "{}.points: negative time {}", w, t);
      AD_CHECK(c.pts.empty() || m > c.pts.back().first, "{}.points: M must increase ({} after {})", w, m,
               c.pts.back().first);
      c.pts.emplace_back(m, t);
    }
    p.gemms.push_back(std::move(c));
  }
  const auto& a = key(j, "attention", what);
  p.attn_decode = fit_of(key(a, "decode", what + ": attention"), what + ": attention.decode");
  p.attn_prefill = fit_of(key(a, "prefill", what + ": attention"), what + ": attention.prefill");
  const auto& ops = key(j, "ops", what);
  AD_CHECK(ops.is_object(), "{}: ops must be an object", what);
  for (auto it = ops.begin(); it != ops.end(); ++it) p.ops[it.key()] = fit_of(it.value(), what + ": ops." + it.key());
  if (j.contains("compose")) {
    const auto& cm = j["compose"];
    p.compose_decode = json_number(key(cm, "decode", what + ": compose"), what + ": compose.decode");
    p.compose_prefill = json_number(key(cm, "prefill", what + ": compose"), what + ": compose.prefill");
    AD_CHECK(p.compose_decode > 0 && p.compose_prefill > 0, "{}: compose factors must be > 0", what);
  }
  // Factor lists by rank count: contention (> 0) and, in profiles since the sync measurement, sync (>= 1; older
  // profiles: no waits for a slower peer).
  auto factors = [&](const char* name, double least, std::vector<double>& dec, std::vector<double>& pre) {
    const auto& con = key(j, name, what);
    for (const char* k : {"decode", "prefill"}) {
      const auto& v = key(con, k, fmt::format("{}: {}", what, name));
      AD_CHECK(v.is_array() && !v.empty(), "{}: {}.{} must be a non-empty list", what, name, k);
      std::vector<double>& dst = std::string(k) == "decode" ? dec : pre;
      dst.clear();
      for (const auto& x : v) {
        const double f = json_number(x, fmt::format("{}: {}.{}", what, name, k));
        AD_CHECK(least > 0 ? f >= least : f > 0, "{}: {}.{}: factors must be {} {}, got {}", what, name, k,
                 least > 0 ? ">=" : ">", least, f);
        dst.push_back(f);
      }
    }
  };
  factors("contention", 0, p.contention_decode, p.contention_prefill);
  if (j.contains("sync")) factors("sync", 1, p.sync_decode, p.sync_prefill);
  return p;
}

Profile read_profile(const std::string& path) {
  const std::string text = read_regular_file(path);
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  AD_CHECK(!j.is_discarded(), "{}: not valid JSON (a profile from autodist profile --out expected)", path);
  return profile_from_json(j, path);
}

void write_profile(const Profile& p, const std::string& path) {
  std::ofstream f(path);
  AD_CHECK(f.good(), "cannot write the profile to '{}'", path);
  f << profile_to_json(p).dump(1) << "\n";
  AD_CHECK(f.good(), "writing the profile to '{}' failed", path);
}

}  // namespace autodist::perf
