// defines: write_chrome_trace (events as Chrome/Perfetto trace JSON, for chrome://tracing or ui.perfetto.dev)
#pragma once
#include <string>
#include <vector>

#include "trace/events.h"

namespace autodist::trace {

// Writes {"traceEvents": [...], "displayTimeUnit": "ms"} to `path` (temp file + rename): one complete
// ("X") event per Event, named by its phase, ts/dur in microseconds from the earliest t_start_ns,
// pid = rank, tid 0, args = layer/chunk/step/micro_batch (when >= 0) and bytes (when > 0); plus one
// process_name ("M") event per rank labelled "<process_label_prefix> <rank>".
void write_chrome_trace(const std::string& path, const std::vector<Event>& events,
                        const std::string& process_label_prefix = "rank");

}  // namespace autodist::trace
