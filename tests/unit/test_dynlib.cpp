// DynLib (src/core/dynlib.h): the loader of cuBLAS and NCCL, and nccl_loadable.
#include <doctest/doctest.h>

#include <string>

#include "core/dynlib.h"
#include "core/error.h"
#include "dist/nccl_communicator.h"

using namespace autodist;

TEST_CASE("DynLib: the first name that opens, its entry points, and messages naming what is missing") {
  const DynLib m = DynLib::open_first({"", "libautodist-not-there.so.9", "libm.so.6"}, "test", "libm", "none");
  double (*cosine)(double) = nullptr;
  m.bind(cosine, "cos");
  const bool bound = cosine != nullptr;
  REQUIRE(bound);
  CHECK(cosine(0.0) == 1.0);
  CHECK_THROWS_WITH_AS(m.symbol("autodist_no_such_symbol"),
                       doctest::Contains("test: autodist_no_such_symbol is missing from the loaded libm"), Error);
  CHECK_THROWS_WITH_AS(DynLib::open_first({"libautodist-not-there.so.9"}, "nccl", "libx", "fix it"),
                       doctest::Contains("nccl: cannot load libx (libautodist-not-there.so.9"), Error);
  CHECK_THROWS_WITH_AS(DynLib::open_first({}, "nccl", "libx", "fix it"),
                       doctest::Contains("(no file names given); fix it"), Error);
}

TEST_CASE("nccl_loadable: true where the build found libnccl, else it says why") {
  std::string why;
  const bool ok = dist::nccl_loadable(&why);
#ifdef AUTODIST_HAVE_NCCL
  INFO(why);
  CHECK(ok);  // AUTODIST_NCCL_DIR points at the library the build found
#else
  CHECK_FALSE(ok);
  CHECK(why.find("no NCCL") != std::string::npos);
#endif
}
