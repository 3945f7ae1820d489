// defines: write_chrome_trace
#include "trace/chrome.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "io/temp_files.h"

namespace autodist::trace {

void write_chrome_trace(const std::string& path, const std::vector<Event>& events,
                        const std::string& process_label_prefix) {
  int64_t t0 = 0;
  if (!events.empty())
    t0 = std::min_element(events.begin(), events.end(), [](const Event& a, const Event& b) {
           return a.t_start_ns < b.t_start_ns;
         })->t_start_ns;

  nlohmann::json list = nlohmann::json::array();
  std::set<int32_t> ranks;
  for (const auto& e : events) {
    nlohmann::json args = nlohmann::json::object();
    if (e.layer >= 0) args["layer"] = e.layer;
    if (e.chunk >= 0) args["chunk"] = e.chunk;
    if (e.step >= 0) args["step"] = e.step;
    if (e.micro_batch >= 0) args["micro_batch"] = e.micro_batch;
    if (e.bytes > 0) args["bytes"] = e.bytes;
    list.push_back({{"name", std::string(e.phase, strnlen(e.phase, sizeof(e.phase)))},
                    {"ph", "X"},
                    {"ts", (e.t_start_ns - t0) / 1e3},
                    {"dur", (e.t_end_ns - e.t_start_ns) / 1e3},
                    {"pid", e.rank},
                    {"tid", 0},
                    {"args", args}});
    ranks.insert(e.rank);
  }
  for (int32_t r : ranks)
    list.push_back({{"name", "process_name"},
                    {"ph", "M"},
                    {"pid", r},
                    {"tid", 0},
                    {"args", {{"name", fmt::format("{} {}", process_label_prefix, r)}}}});
  const nlohmann::json doc = {{"traceEvents", list}, {"displayTimeUnit", "ms"}};

  // Temp + rename: a reader never sees a half-written file.
  const std::string tmp = io::temp_path(path);
  {
    std::ofstream f(tmp);
    if (!f) AD_FAIL("cannot write chrome trace {}: cannot create {}: {}", path, tmp, std::strerror(errno));
    f << doc.dump() << '\n';
    f.close();
    if (!f) {
      std::remove(tmp.c_str());
      AD_FAIL("cannot write chrome trace {}: write to {} failed", path, tmp);
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    std::remove(tmp.c_str());
    AD_FAIL("cannot rename {} to {}: {}", tmp, path, std::strerror(e));
  }
}

}  // namespace autodist::trace
