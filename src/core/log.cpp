#include "core/log.h"

#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "core/error.h"

namespace autodist::log {
namespace {
// Under mpirun/srun the launcher's environment names the rank before MPI_Init runs, so even
// errors in option parsing say which rank saw them.
int env_int(const char* a, const char* b, int def) {
  const char* v = std::getenv(a);
  if (!v) v = std::getenv(b);
  return v ? std::atoi(v) : def;
}
int g_rank = env_int("OMPI_COMM_WORLD_RANK", "PMI_RANK", 0);
int g_world = env_int("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", 1);
Level g_level = [] {
  const char* e = std::getenv("AUTODIST_LOG");
  return e ? parse_level(e) : Level::Info;
}();
std::mutex g_mu;
const char* tag(Level l) {
  switch (l) {
    case Level::Debug: return "debug";
    case Level::Info: return "info";
    case Level::Warn: return "warn";
    case Level::Error: return "error";
    default: return "";
  }
}
}  // namespace

void set_rank(int rank, int world) { g_rank = rank, g_world = world; }
void set_level(Level l) { g_level = l; }
Level level() { return g_level; }

Level parse_level(const std::string& s) {
  if (s == "debug") return Level::Debug;
  if (s == "info") return Level::Info;
  if (s == "warn") return Level::Warn;
  if (s == "error") return Level::Error;
  if (s == "off") return Level::Off;
  AD_FAIL("unknown log level '{}' (expected debug, info, warn, error or off)", s);
}

void write(Level l, const std::string& msg) {
  std::lock_guard<std::mutex> lk(g_mu);
  fmt::print(stderr, "[{}/{}] {}: {}\n", g_rank, g_world, tag(l), msg);
  std::fflush(stderr);
}

void out(const std::string& msg) {
  std::lock_guard<std::mutex> lk(g_mu);
  std::fwrite(msg.data(), 1, msg.size(), stdout);
  std::fflush(stdout);
}

}  // namespace autodist::log
