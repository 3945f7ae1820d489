#include "perf/comm_model.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

#include "core/error.h"
#include "core/file.h"

namespace autodist::perf {

double Link::time(double bytes, double share) const {
  const double x = bytes * share;
  if (measured.size() < 2) return alpha_s + x / bw_Bps;
  const auto& lo = measured.front();
  const auto& hi = measured.back();
  if (x <= lo.first) return std::max(alpha_s, lo.second - (lo.first - x) / bw_Bps);
  if (x >= hi.first) return hi.second + (x - hi.first) / bw_Bps;
  auto it = std::lower_bound(measured.begin(), measured.end(), x,
                             [](const std::pair<double, double>& p, double v) { return p.first < v; });
  const auto& b = *it;
  const auto& a = *(it - 1);
  return a.second + (b.second - a.second) * (x - a.first) / (b.first - a.first);
}

Link fit_alpha_beta(const std::vector<std::pair<double, double>>& xs, const std::string& what) {
  AD_CHECK(xs.size() >= 2, "{}: {} rows; fitting latency and bandwidth needs at least two message sizes", what,
           xs.size());
  // Weighted by 1/t^2 (relative errors): small messages fix alpha, large ones the bandwidth.
  double sw = 0, sx = 0, st = 0, sxx = 0, sxt = 0;
  for (auto [x, t] : xs) {
    AD_CHECK(x >= 0 && t > 0, "{}: a row of {} bytes in {} s: sizes must be >= 0 and times > 0", what, x, t);
    const double w = 1.0 / (t * t);
    sw += w, sx += w * x, st += w * t, sxx += w * x * x, sxt += w * x * t;
  }
  const double den = sw * sxx - sx * sx;
  AD_CHECK(den > 0, "{}: every row has the same size; the bandwidth needs at least two sizes", what);
  double slope = (sw * sxt - sx * st) / den;
  double alpha = (st - slope * sx) / sw;
  AD_CHECK(slope > 0, "{}: the times do not grow with the message size (slope {} s/B): no bandwidth to fit", what,
           slope);
  if (alpha < 0) {  // through the origin
    alpha = 0;
    slope = sxt / sxx;
  }
  return {alpha, 1.0 / slope, {}};
}

namespace {
std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  std::string f;
  while (std::getline(ss, f, ',')) out.push_back(f);
  return out;
}

double number(const std::string& s, const std::string& where) {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(s, &used);
  } catch (...) {
    used = 0;
  }
  AD_CHECK(used > 0 && used == s.size() && std::isfinite(v), "{}: '{}' is not a number", where, s);
  return v;
}
}  // namespace

std::vector<CommRow> read_comm_csv(const std::string& path) {
  std::stringstream in(read_regular_file(path));
  std::string line;
  AD_CHECK(std::getline(in, line), "{}: empty file (a comm_bench.csv from autodist comm-bench --output-dir expected)",
           path);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  std::map<std::string, size_t> col;
  const auto head = split_csv(line);
  for (size_t i = 0; i < head.size(); ++i) col[head[i]] = i;
  for (const char* k : {"ranks", "op", "placement", "size_bytes", "time_us"})
    AD_CHECK(col.count(k), "{}: no '{}' column in the header (a comm_bench.csv from autodist comm-bench expected)",
             path, k);
  std::vector<CommRow> rows;
  for (int n = 2; std::getline(in, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const auto f = split_csv(line);
    const std::string where = fmt::format("{}:{}", path, n);
    AD_CHECK(f.size() >= head.size(), "{}: {} fields, the header has {}", where, f.size(), head.size());
    CommRow r;
    r.op = f[col["op"]];
    r.placement = f[col["placement"]];
    r.ranks = static_cast<int>(number(f[col["ranks"]], where + " ranks"));
    r.bytes = number(f[col["size_bytes"]], where + " size_bytes");
    r.time_s = number(f[col["time_us"]], where + " time_us") * 1e-6;
    rows.push_back(r);
  }
  AD_CHECK(!rows.empty(), "{}: no rows below the header", path);
  return rows;
}

Link link_from_comm_rows(const std::vector<CommRow>& rows, const std::string& what) {
  for (const char* op : {"sendrecv", "isend_irecv"}) {
    std::vector<std::pair<double, double>> xs;
    for (const CommRow& r : rows)
      if (r.op == op && r.placement != "in-place" && r.placement != "inplace") xs.emplace_back(r.bytes, r.time_s);
    if (xs.size() >= 2) {
      Link l = fit_alpha_beta(xs, fmt::format("{} ({} rows)", what, op));
      std::sort(xs.begin(), xs.end());
      // One point per size (several CSVs may repeat one): their mean.
      for (size_t i = 0; i < xs.size();) {
        size_t j = i;
        double t = 0;
        for (; j < xs.size() && xs[j].first == xs[i].first; ++j) t += xs[j].second;
        l.measured.emplace_back(xs[i].first, t / double(j - i));
        i = j;
      }
      if (l.measured.size() < 2) l.measured.clear();
      return l;
    }
  }
  std::vector<std::pair<double, double>> xs;
  for (const CommRow& r : rows)
    if (r.op == "all_reduce" && r.ranks >= 2 && r.placement != "in-place" && r.placement != "inplace") {
      const double p = r.ranks;  // t = 2 (p-1) (alpha + n / (p bw))
      xs.emplace_back(r.bytes / p, r.time_s / (2 * (p - 1)));
    }
  AD_CHECK(xs.size() >= 2, "{}: no sendrecv, isend_irecv or all_reduce rows of two sizes or more (run comm-bench "
                           "with --op sendrecv over a size range)", what);
  return fit_alpha_beta(xs, fmt::format("{} (all_reduce rows)", what));
}

bool oversubscribed_link(const std::vector<CommRow>& rows, int cores, const std::string& what, Link& out) {
  std::vector<std::pair<double, double>> xs;
  for (const CommRow& r : rows)
    if (r.op == "all_reduce" && r.ranks > cores && r.placement == "out-of-place") {
      const double p = r.ranks;
      xs.emplace_back(r.bytes / p, r.time_s / (2 * (p - 1)));
    }
  if (xs.size() < 2) return false;
  out = fit_alpha_beta(xs, fmt::format("{} (all_reduce rows of more than {} ranks)", what, cores));
  return true;
}

double p2p_s(const Link& l, double bytes, double share) { return l.time(bytes, share); }

double ring_all_reduce_s(const Link& l, int p, double bytes, double share, double idle_s) {
  if (p <= 1) return 0;
  const int n = 2 * (p - 1);
  const double part = bytes / p;
  if (l.burst_B <= 0 || idle_s <= 0) return n * l.time(part, share);
  // The 2 (p - 1) messages one after another, each taking from the bucket what it holds and refilled meanwhile.
  double level = std::min(l.burst_B, idle_s * l.bw_Bps), t = 0;
  for (int i = 0; i < n; ++i) {
    const double free = std::min(part * share, level);
    const double ti = std::max(l.alpha_s, l.time(part, share) - free / l.bw_Bps);
    level = std::min(l.burst_B, level - free + ti * l.bw_Bps);
    t += ti;
  }
  return t;
}

double ring_all_gather_s(const Link& l, int p, double block_bytes, double share) {
  if (p <= 1) return 0;
  return (p - 1) * l.time(block_bytes, share);
}

}  // namespace autodist::perf
