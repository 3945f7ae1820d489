// The cuda tests' driver: doctest, then exit code 77 (ctest's SKIP_RETURN_CODE) when the "cuda kernels" suite ran
// without a GPU and every case returned early; any failure keeps its own exit code.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstring>

#include "backend/backend.h"

int main(int argc, char** argv) {
  doctest::Context ctx(argc, argv);
  const int rc = ctx.run();
  if (ctx.shouldExit()) return rc;
  bool kernels = false;
  for (int i = 1; i < argc; ++i) kernels = kernels || std::strstr(argv[i], "cuda kernels") != nullptr;
  if (rc == 0 && kernels && autodist::cuda_device_count() == 0) return 77;
  return rc;
}
