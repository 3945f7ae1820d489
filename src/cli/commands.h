// defines: Command registry for the autodist subcommands (each cmd_*.cpp registers itself)
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace autodist::cli {

// A subcommand gets its own arguments (argv[0] is the subcommand name) and returns the exit code.
using CommandFn = int (*)(int argc, char** argv);

struct Command {
  std::string name;
  std::string summary;
  CommandFn run;
};

std::map<std::string, Command>& command_registry();

inline bool register_command(const std::string& name, const std::string& summary, CommandFn fn) {
  command_registry()[name] = Command{name, summary, fn};
  return true;
}

}  // namespace autodist::cli

#define AUTODIST_COMMAND(NAME, SUMMARY, FN) \
  static const bool autodist_cmd_registered_##FN = ::autodist::cli::register_command(NAME, SUMMARY, FN)
