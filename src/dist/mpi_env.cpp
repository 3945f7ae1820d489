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

ThreadLevel parse_thread_level(const std::string& s) {
  for (auto t : {ThreadLevel::Single, ThreadLevel::Funneled, ThreadLevel::Serialized, ThreadLevel::Multiple})
    if (s == thread_level_name(t)) return t;
  AD_FAIL("unknown MPI thread level '{}' (expected single, funneled, serialized or multiple)", s);
}

const char* thread_level_name(ThreadLevel t) {
  switch (t) {
    case ThreadLevel::Single: return "single";
    case ThreadLevel::Funneled: return "funneled";
    case ThreadLevel::Serialized: return "serialized";
    case ThreadLevel::Multiple: return "multiple";
  }
  return "?";
}

MpiEnv& MpiEnv::init(ThreadLevel level) {
  if (!g_env) g_env.reset(new MpiEnv(level));
  return *g_env;
}

MpiEnv::MpiEnv(ThreadLevel level) {
  static constexpr int kMpiLevels[] = {MPI_THREAD_SINGLE, MPI_THREAD_FUNNELED, MPI_THREAD_SERIALIZED,
                                       MPI_THREAD_MULTIPLE};
  int provided = 0;
  int rc = MPI_Init_thread(nullptr, nullptr, kMpiLevels[static_cast<int>(level)], &provided);
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
  for (int i = 0; i < 4; ++i)
    if (provided >= kMpiLevels[i]) provided_ = static_cast<ThreadLevel>(i);
  if (provided_ < level)
    log::warn("MPI provides thread level {}, less than the {} asked for", thread_level_name(provided_),
              thread_level_name(level));
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
