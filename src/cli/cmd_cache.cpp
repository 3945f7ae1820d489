// autodist cache list|verify|clear: what the shard cache holds, whether it is intact, remove it.
#include "cli/commands.h"
#include "cli/run_options.h"
#include "core/error.h"
#include "core/log.h"
#include "io/shard_cache.h"

#include <filesystem>

namespace autodist::cli {
namespace {

int run(int argc, char** argv) {
  std::string action, dir;
  po::options_description d("cache options");
  d.add_options()
    ("action", po::value(&action)->required(), "list | verify | clear")
    ("cache-dir", po::value(&dir)->required(), "the directory given to --cache-dir");
  po::positional_options_description pos;
  pos.add("action", 1);
  po::variables_map vm;
  if (!parse_args(argc, argv, d, vm, "usage: autodist cache list|verify|clear --cache-dir DIR", &pos)) return 0;
  AD_CHECK(action == "list" || action == "verify" || action == "clear",
           "unknown cache action '{}' (expected list, verify or clear)", action);
  if (action == "clear") {
    size_t freed = io::clear_cache(dir);
    log::out(fmt::format("cleared {}: {:.1f} MB freed\n", dir, freed / 1e6));
    return 0;
  }
  bool verify = action == "verify";
  auto files = io::list_cache(dir, verify);
  std::string s = fmt::format("# shard cache {}: {} rank files\n", dir, files.size());
  s += fmt::format("{:<44} {:<40} {:>5} {:>12} {:<21}{}\n", "model fingerprint", "layout", "rank", "MB", "created",
                   verify ? " status" : "");
  size_t total = 0, bad = 0;
  for (auto& f : files) {
    auto fp = std::filesystem::path(f.entry_dir).parent_path().filename().string();
    s += fmt::format("{:<44} {:<40} {:>5} {:>12.1f} {:<21}{}\n", fp, f.layout, f.rank, f.size / 1e6, f.created,
                     verify ? " " + f.status : "");
    total += f.size;
    bad += verify && f.status != "ok";
  }
  // Interrupted writes leave full-size temporaries: they take disk space too, so they are counted.
  auto temps = io::cache_temp_files(dir);
  size_t temp_bytes = 0, stale = 0;
  for (auto& t : temps) {
    s += fmt::format("# temporary file {} ({:.1f} MB, {} by pid {}{}{})\n", t.path, t.size / 1e6,
                     t.stale ? "stale: left" : "being written", t.pid, t.host.empty() ? "" : " on ", t.host);
    temp_bytes += t.size;
    stale += t.stale;
  }
  s += fmt::format("# total {:.1f} MB{}\n", total / 1e6, verify ? fmt::format(", {} bad", bad) : "");
  s += fmt::format("# {} temporary files ({:.1f} MB), {} stale{}\n", temps.size(), temp_bytes / 1e6, stale,
                   stale ? " (removed by the next run that uses their entry, or by cache clear)" : "");
  log::out(s);
  return bad ? 1 : 0;
}

}  // namespace
AUTODIST_COMMAND("cache", "list, verify or clear the shard cache (--cache-dir)", run);
}  // namespace autodist::cli
