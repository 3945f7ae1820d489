// defines: guarded (runs a subcommand, turns any error into one clear message and an exit code),
//          version_string
#pragma once
#include <string>

#include "cli/commands.h"

namespace autodist::cli {

// Runs fn; on an exception logs "error: <what>" with the rank and exits non-zero. With several MPI
// ranks the whole job is aborted so that no peer waits forever in a collective.
int guarded(CommandFn fn, int argc, char** argv);
std::string version_string();

}  // namespace autodist::cli
