// MpiEnv's settings of Open MPI, read back from the library itself (MPI_T control variables).
#include <doctest/doctest.h>
#include <mpi.h>

#include <cstdlib>
#include <string>

#include "dist/mpi_env.h"
#include "mpi_test_util.h"

using namespace autodist;

namespace {

// The value Open MPI uses for an integer control variable; -1 if it has none of that name.
long long cvar(const char* name) {
  int provided = 0, index = 0, count = 0;
  REQUIRE(MPI_T_init_thread(MPI_THREAD_SINGLE, &provided) == MPI_SUCCESS);
  long long v = -1;
  if (MPI_T_cvar_get_index(name, &index) == MPI_SUCCESS) {
    MPI_T_cvar_handle h;
    unsigned long long raw = 0;  // btl_tcp_eager_limit is a size_t (MPI_UNSIGNED_LONG)
    REQUIRE(MPI_T_cvar_handle_alloc(index, nullptr, &h, &count) == MPI_SUCCESS);
    REQUIRE(MPI_T_cvar_read(h, &raw) == MPI_SUCCESS);
    MPI_T_cvar_handle_free(&h);
    v = static_cast<long long>(raw);
  }
  MPI_T_finalize();
  return v;
}

}  // namespace

TEST_CASE("MpiEnv: messages over TCP up to 1 MiB go eagerly, unless the environment gives the limit") {
  test::world();  // MPI is initialised through MpiEnv
  // AUTODIST_TEST_USER_EAGER_LIMIT: the value the test's launcher gave (mpirun --mca btl_tcp_eager_limit N).
  const char* user = std::getenv("AUTODIST_TEST_USER_EAGER_LIMIT");
  const long long want = std::stoll(user ? user : dist::kTcpEagerLimit);
  CHECK(cvar("btl_tcp_eager_limit") == want);
}
