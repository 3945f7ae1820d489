// defines: param_kinds, load_sweep (the sweep YAML parser of `autodist sweep`)
#include "cli/sweep_spec.h"

#include <yaml-cpp/yaml.h>

#include <filesystem>

#include "core/error.h"

namespace autodist::cli {

const std::map<std::string, Kind>& param_kinds() {
  static const std::map<std::string, Kind> k = {
      {"model", Kind::Str},        {"tp", Kind::Int},           {"pp", Kind::Int},
      {"partition", Kind::Str},    {"sp_chunk_size", Kind::Int}, {"kv_sync", Kind::Str},
      {"batch_size", Kind::Int},   {"prompt_len", Kind::Int},   {"output_len", Kind::Int},
      {"micro_batches", Kind::Int}, {"device", Kind::Str},      {"comm", Kind::Str},
      {"dtype", Kind::Str},        {"seed", Kind::Int},         {"cache_dir", Kind::Str},
      {"world", Kind::Int},        {"op", Kind::Str},           {"min_bytes", Kind::Str},
      {"max_bytes", Kind::Str},    {"step_factor", Kind::Int},  {"iters", Kind::Int},
      {"warmup_iters", Kind::Int}, {"check", Kind::Bool},       {"time_budget_ms", Kind::Int},
      {"comm_timeout", Kind::Int}};
  return k;
}

namespace {

std::string where(const Sweep& s, const YAML::Node& n) { return fmt::format("{}:{}", s.file, n.Mark().line + 1); }

std::string known_keys() {
  std::string k;
  for (auto& [n, kind] : param_kinds()) k += (k.empty() ? "" : ", ") + n;
  return k;
}

const char* node_kind(const YAML::Node& n) { return n.IsSequence() ? "list" : n.IsMap() ? "map" : "null"; }

// A key, or a value read as text (name, command): a single YAML value, never a list, a map or nothing.
std::string text_of(const Sweep& s, const YAML::Node& n, const std::string& what) {
  AD_CHECK(n.IsScalar(), "{}: {} must be a single value, got a {}", where(s, n), what, node_kind(n));
  return n.Scalar();
}

// A scalar of the key's type, as text ("2", "ring", "true").
std::string scalar(const Sweep& s, const std::string& key, const YAML::Node& v) {
  auto it = param_kinds().find(key);
  AD_CHECK(it != param_kinds().end(), "{}: unknown key '{}' (expected one of: {})", where(s, v), key, known_keys());
  AD_CHECK(v.IsScalar(), "{}: '{}' must be a single value here, got a {}", where(s, v), key, node_kind(v));
  const std::string text = v.as<std::string>();
  if (it->second == Kind::Int) {
    long long x = 0;
    AD_CHECK(YAML::convert<long long>::decode(v, x), "{}: '{}' must be an integer, got '{}'", where(s, v), key, text);
    return std::to_string(x);
  }
  if (it->second == Kind::Bool) {
    bool b = false;
    AD_CHECK(YAML::convert<bool>::decode(v, b), "{}: '{}' must be true or false, got '{}'", where(s, v), key, text);
    return b ? "true" : "false";
  }
  return text;
}

}  // namespace

Sweep load_sweep(const std::string& path) {
  AD_CHECK(std::filesystem::is_regular_file(path), "sweep config {} does not exist", path);
  Sweep s;
  s.file = path;
  s.name = std::filesystem::path(path).stem().string();
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    AD_FAIL("{}:{}: not valid YAML: {}", path, e.mark.line + 1, e.msg);
  }
  AD_CHECK(root.IsMap(), "{}: the sweep config must be a map of keys (name, grid, fixed, ...)", path);
  bool has_grid = false;
  for (auto kv : root) {
    const std::string key = text_of(s, kv.first, "a key");
    const YAML::Node& v = kv.second;
    auto int_of = [&](const char* what) {
      long long x = 0;
      AD_CHECK(v.IsScalar() && YAML::convert<long long>::decode(v, x), "{}: '{}' must be an integer", where(s, v), what);
      return x;
    };
    if (key == "name") {
      s.name = text_of(s, v, "'name'");
    } else if (key == "command") {
      s.command = text_of(s, v, "'command'");
      AD_CHECK(s.command == "generate" || s.command == "comm-bench",
               "{}: command must be generate or comm-bench, got '{}'", where(s, v), s.command);
    } else if (key == "repeats") {
      s.repeats = static_cast<int>(int_of("repeats"));
      AD_CHECK(s.repeats >= 1, "{}: repeats must be >= 1", where(s, v));
    } else if (key == "warmup") {
      s.warmup = static_cast<int>(int_of("warmup"));
      AD_CHECK(s.warmup >= 0, "{}: warmup must be >= 0", where(s, v));
    } else if (key == "timeout_s") {
      s.timeout_s = static_cast<double>(int_of("timeout_s"));
    } else if (key == "fixed") {
      AD_CHECK(v.IsMap(), "{}: 'fixed' must be a map of key: value", where(s, v));
      for (auto f : v) {
        const std::string fk = text_of(s, f.first, "a key of 'fixed'");
        s.fixed[fk] = scalar(s, fk, f.second);
      }
    } else if (key == "grid") {
      has_grid = true;
      AD_CHECK(v.IsMap(), "{}: 'grid' must be a map of key: [values]", where(s, v));
      for (auto g : v) {
        const std::string gk = text_of(s, g.first, "a key of 'grid'");
        std::vector<std::string> vals;
        if (g.second.IsSequence()) {
          for (auto x : g.second) vals.push_back(scalar(s, gk, x));
        } else {
          vals.push_back(scalar(s, gk, g.second));
        }
        AD_CHECK(!vals.empty(), "{}: grid key '{}' has an empty list: the grid would have no points",
                 where(s, g.second), gk);
        s.grid.emplace_back(gk, std::move(vals));
      }
    } else if (param_kinds().count(key)) {
      s.fixed[key] = scalar(s, key, v);
    } else {
      AD_FAIL("{}: unknown key '{}' (expected name, command, repeats, warmup, timeout_s, grid, fixed or a "
              "parameter: {})",
              where(s, kv.first), key, known_keys());
    }
  }
  AD_CHECK(has_grid && !s.grid.empty(), "{}: the grid is empty: give 'grid:' with at least one key and its values",
           path);
  return s;
}

}  // namespace autodist::cli
