#include "cli/run_guard.h"

#include <boost/program_options/errors.hpp>
#include <exception>

#include "core/error.h"
#include "core/log.h"
#include "dist/mpi_env.h"

namespace autodist::cli {

int guarded(CommandFn fn, int argc, char** argv) {
  int code = 0;
  try {
    code = fn(argc, argv);
  } catch (const boost::program_options::invalid_option_value& e) {
    // lexical_cast refuses numbers beyond the option's type (--max-output-length 99999999999999999999) as "invalid".
    log::error("{}: not a number, or out of range for the option (see 'autodist {} --help')", e.what(), argv[0]);
    code = 2;
  } catch (const boost::program_options::error& e) {
    log::error("{} (see 'autodist {} --help')", e.what(), argv[0]);
    code = 2;
  } catch (const Error& e) {
    log::error("{}", e.what());
    code = 1;
  } catch (const std::exception& e) {
    log::error("internal error: {}", e.what());
    code = 1;
  }
  if (code != 0 && dist::MpiEnv::initialized()) dist::abort_world(code);
  return code;
}

std::string version_string() {
  std::string backends = "cpu";
#ifdef AUTODIST_HAVE_CUDA
  backends += ", cuda (not yet verified on a GPU)";
#endif
  return fmt::format("autodist {} (git {}), backends: {}, communicators: mpi{}\n", AUTODIST_VERSION,
                     AUTODIST_GIT_REV, backends,
#ifdef AUTODIST_HAVE_NCCL
                     ", nccl (libnccl opened at run time, not yet verified on a GPU)"
#else
                     ""
#endif
  );
}

}  // namespace autodist::cli
