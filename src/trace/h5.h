// defines: MetricRow, CommRow, AttrValue, RunRecord, append_run (one /runs/NNNN group of trace.h5),
//          RunView, check_trace, read_trace (docs/trace-format.md)
#pragma once
#include <concepts>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "trace/events.h"

namespace autodist::trace {

// One row of the `metrics` dataset (one per rank).
struct MetricRow {
  int32_t rank = 0;
  double load_ms = 0, ttft_ms = 0, tpot_ms = 0, tokens_per_s = 0, prefill_ms = 0, sync_ms = 0, decode_ms = 0,
         total_ms = 0;
  int64_t output_tokens = 0, bytes_read = 0;
};

// One row of the `comm` dataset (comm-bench: one per (op, size)); op <= 24 bytes, dtype <= 8 bytes.
struct CommRow {
  std::string op;
  int64_t bytes = 0, count = 0;
  std::string dtype;
  double time_us = 0, algbw = 0, busbw = 0;
  int64_t wrong = -1;  // -1: not checked
};

// A run attribute: stored as int64, float64 or variable-length UTF-8 string.
using AttrValue = std::variant<int64_t, double, std::string>;

// Everything one run appends.
struct RunRecord {
  std::vector<std::pair<std::string, AttrValue>> attrs;  // written in this order
  std::vector<Event> events;
  std::vector<MetricRow> metrics;
  std::vector<CommRow> comm;
  bool has_comm = false;  // write the `comm` dataset (comm-bench runs only)

  // Sets `name`, replacing an attribute of the same name.
  void set(const std::string& name, AttrValue value);
  // Any integer (int, size_t, bool, ...) is stored as int64.
  template <std::integral T>
  void set(const std::string& name, T value) {
    set(name, AttrValue(static_cast<int64_t>(value)));
  }
};

// Appends `run` as the next /runs/NNNN group of the trace at `path` (created if absent) and returns
// the group name ("0000", ...). The file is never modified in place: copy to a temporary
// (io::temp_path), append, close, fsync, rename, all under the directory's output lock
// (io::output_lock_path), so concurrent runs append one after the other; stale temporaries of killed
// writers are removed first. Throws autodist::Error (and leaves `path` untouched) when `path` is not
// an autodist trace, cannot be read, or its directory is not writable.
std::string append_run(const std::string& path, const RunRecord& run);

// One run read back.
struct RunView {
  std::string group;  // "0000", ...
  std::map<std::string, AttrValue> attrs;
  std::vector<Event> events;
  std::vector<MetricRow> metrics;
  std::vector<CommRow> comm;  // empty when the run has no `comm` dataset
};

// Opens the trace and reads its root and /runs (not the runs' data): the same refusals as
// read_trace, cheap enough to run before a run's work so a corrupt file fails it at once.
void check_trace(const std::string& path);

// All runs of the trace at `path`, in the order they were written (same refusal as append_run).
std::vector<RunView> read_trace(const std::string& path);

}  // namespace autodist::trace
