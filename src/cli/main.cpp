// autodist: one binary, subcommands registered by the cmd_*.cpp files.
#include <cstring>
#include <exception>

#include "cli/commands.h"
#include "cli/run_guard.h"
#include "core/log.h"

namespace autodist::cli {
std::map<std::string, Command>& command_registry() {
  static std::map<std::string, Command> r;
  return r;
}
}  // namespace autodist::cli

using namespace autodist;

static void usage() {
  std::string s = "usage: autodist <command> [options]   (autodist <command> --help for its options)\n\ncommands:\n";
  for (auto& [name, c] : cli::command_registry()) s += fmt::format("  {:<12} {}\n", name, c.summary);
  s += "\n  --version    version, git revision and compiled-in backends\n";
  log::out(s);
}

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    usage();
    return argc < 2 ? 2 : 0;
  }
  if (!std::strcmp(argv[1], "--version")) {
    log::out(cli::version_string());
    return 0;
  }
  auto& reg = cli::command_registry();
  auto it = reg.find(argv[1]);
  if (it == reg.end()) {
    log::error("unknown command '{}'; run 'autodist --help' for the list", argv[1]);
    return 2;
  }
  return cli::guarded(it->second.run, argc - 1, argv + 1);
}
