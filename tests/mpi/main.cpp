// MPI unit tests: run under mpirun (ranks 2, 3, 4; see tests/cmake/dist.cmake). Every rank runs every
// test case; rank 0 reports in full, the others print only their failures. The exit code is
// non-zero on every rank when any rank failed.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <memory>

#include "dist/mpi_env.h"
#include "mpi_test_util.h"

namespace autodist::test {
namespace {
std::unique_ptr<dist::Communicator> g_world;
}
dist::Communicator& world() { return *g_world; }
}  // namespace autodist::test

using namespace autodist;

int main(int argc, char** argv) {
  auto& env = dist::MpiEnv::init();
  test::g_world = dist::make_mpi_world_communicator();
  doctest::Context ctx(argc, argv);
  ctx.setOption("no-colors", true);  // output goes through mpirun's pipes into ctest logs
  if (env.rank() != 0) ctx.setOption("minimal", true);
  int rc = ctx.run();
  if (ctx.shouldExit()) return rc;
  int32_t failed = rc != 0;
  test::world().all_reduce(Tensor(&failed, DType::I32, Shape{1}), dist::ReduceOp::Max);
  test::g_world.reset();  // free the MPI communicator before MPI_Finalize
  return failed ? 1 : 0;
}
