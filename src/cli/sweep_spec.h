// defines: Kind, param_kinds, Sweep, load_sweep (a sweep YAML file -> the sweep's spec; see configs/sweeps/*.yaml)
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace autodist::cli {

enum class Kind { Int, Str, Bool };

// Every parameter a point can set, and its type. `generate` points use the first group,
// `comm-bench` points the second (and seed).
const std::map<std::string, Kind>& param_kinds();

struct Sweep {
  std::string file, name, command = "generate";
  int repeats = 1, warmup = 0;
  double timeout_s = 1800;
  std::map<std::string, std::string> fixed;
  std::vector<std::pair<std::string, std::vector<std::string>>> grid;  // file order
};

// Reads and checks a sweep YAML file; throws autodist::Error naming the file, line and key.
Sweep load_sweep(const std::string& path);

}  // namespace autodist::cli
