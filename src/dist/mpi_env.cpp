#include "dist/mpi_env.h"

#include <mpi.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>

#include "core/error.h"
#include "core/log.h"

namespace autodist::dist {

static std::unique_ptr<MpiEnv> g_env;

bool MpiEnv::initialized() { return g_env != nullptr; }

MpiEnv& MpiEnv::init() {
  if (!g_env) g_env.reset(new MpiEnv());
  return *g_env;
}

MpiEnv::MpiEnv() {
  int provided = 0;
  int rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided);
  AD_CHECK(rc == MPI_SUCCESS, "MPI_Init_thread failed (code {})", rc);
  // Errors come back as codes we check, instead of MPI aborting inside the library.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &world_);
  MPI_Comm local;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local);
  MPI_Comm_rank(local, &local_rank_);
  MPI_Comm_size(local, &local_size_);
  MPI_Comm_free(&local);
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  hostname_ = host;
  log::set_rank(rank_, world_);
  if (provided < MPI_THREAD_MULTIPLE)
    log::debug("MPI provides thread level {} (< MULTIPLE); background communication threads are off", provided);
}

MpiEnv::~MpiEnv() {
  int fin = 0;
  MPI_Finalized(&fin);
  if (!fin) MPI_Finalize();
}

void abort_world(int code) {
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  if (init && !fin) {
    int size = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size > 1) MPI_Abort(MPI_COMM_WORLD, code);
  }
  std::_Exit(code);
}

}  // namespace autodist::dist
