#include "trace/events.h"

#include <algorithm>
#include <cstring>

#include "dist/communicator.h"

namespace autodist::trace {

Event Event::make(int32_t rank, const char* phase, int64_t t0, int64_t t1, int64_t bytes, int chunk, int layer,
                  int step, int mb) {
  Event e;
  e.rank = rank;
  std::strncpy(e.phase, phase, sizeof(e.phase) - 1);
  e.t_start_ns = t0;
  e.t_end_ns = t1;
  e.bytes = bytes;
  e.chunk = chunk;
  e.layer = layer;
  e.step = step;
  e.micro_batch = mb;
  return e;
}

void Trace::add(const char* phase, int64_t t0, int64_t t1, int64_t bytes, int chunk, int layer, int step, int mb) {
  Event e = Event::make(rank_, phase, t0, t1, bytes, chunk, layer, step, mb);
  std::lock_guard<std::mutex> lk(mu_);
  ev_.push_back(e);
}

std::vector<Event> Trace::events() const {
  std::lock_guard<std::mutex> lk(mu_);
  return ev_;
}

void Trace::clear() {
  std::lock_guard<std::mutex> lk(mu_);
  ev_.clear();
}

std::vector<Event> gather_events(const std::vector<Event>& mine, dist::Communicator* comm) {
  if (!comm || comm->size() == 1) return mine;
  // Counts first (gather of one i64 each), then the events as raw bytes padded to the largest count.
  int n = comm->size();
  int64_t cnt = static_cast<int64_t>(mine.size());
  std::vector<int64_t> counts(static_cast<size_t>(n));
  comm->all_gather(Tensor(&cnt, DType::I64, {1}), Tensor(counts.data(), DType::I64, {n}));
  int64_t mx = 0;
  for (auto c : counts) mx = std::max(mx, c);
  const int64_t words = static_cast<int64_t>(sizeof(Event) / 4);
  static_assert(sizeof(Event) % 4 == 0);
  const int64_t rows = std::max<int64_t>(mx, 1);
  std::vector<Event> padded(static_cast<size_t>(rows)), all(static_cast<size_t>(rows * n));
  std::copy(mine.begin(), mine.end(), padded.begin());
  comm->gather(Tensor(padded.data(), DType::I32, {rows * words}), Tensor(all.data(), DType::I32, {rows * words * n}), 0);
  std::vector<Event> out;
  if (comm->rank() != 0) return out;
  for (int r = 0; r < n; ++r)
    for (int64_t i = 0; i < counts[r]; ++i) out.push_back(all[static_cast<size_t>(r * rows + i)]);
  return out;
}

}  // namespace autodist::trace

#include <fmt/format.h>
#include <map>

namespace autodist::trace {

std::string phase_summary(const std::vector<Event>& all) {
  if (all.empty()) return "";
  int64_t origin = all[0].t_start_ns;
  for (auto& e : all) origin = std::min(origin, e.t_start_ns);
  struct Row {
    double pre0 = -1, pre1 = -1, sync = -1, dec0 = -1, dec1 = -1, end = 0, chunk_ms = 0;
    int64_t sync_bytes = 0;
  };
  std::map<int, Row> rows;
  auto ms = [&](int64_t t) { return (t - origin) * 1e-6; };
  for (auto& e : all) {
    Row& r = rows[e.rank];
    std::string p = e.phase;
    if (p == "prefill") r.pre0 = ms(e.t_start_ns), r.pre1 = ms(e.t_end_ns);
    if (p == "sync") r.sync = ms(e.t_end_ns);
    if (p == "sync_send" || p == "sync_round") r.sync_bytes += e.bytes;
    if (p == "chunk") r.chunk_ms += e.ms();
    if (p == "decode") r.dec0 = ms(e.t_start_ns), r.dec1 = ms(e.t_end_ns);
    r.end = std::max(r.end, ms(e.t_end_ns));
  }
  auto f = [](double v) { return v < 0 ? std::string("-") : fmt::format("{:.2f}", v); };
  std::string s =
      "| rank | prefill start | prefill end | chunk compute | sync done | sync MB sent | decode start | decode end | "
      "total |\n|---|---|---|---|---|---|---|---|---|\n";
  for (auto& [rank, r] : rows)
    s += fmt::format("| {} | {} | {} | {:.2f} | {} | {:.2f} | {} | {} | {:.2f} |\n", rank, f(r.pre0), f(r.pre1),
                     r.chunk_ms, f(r.sync), r.sync_bytes / 1e6, f(r.dec0), f(r.dec1), r.end);
  return s + "(ms from the first event of any rank; sync MB counts bytes this rank sent)\n";
}

}  // namespace autodist::trace
