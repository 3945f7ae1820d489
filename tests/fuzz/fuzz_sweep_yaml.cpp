// fuzz_sweep_yaml: the input is a sweep YAML file, read by the parser of `autodist sweep`.
#include "cli/sweep_spec.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace autodist::fuzz;
  std::string path = write_input("sweep.yaml", data, size);
  expected([&] {
    const auto sw = autodist::cli::load_sweep(path);
    fuzz_assert(!sw.grid.empty() && sw.repeats >= 1 && sw.warmup >= 0, "an accepted sweep has a grid and counts");
    for (const auto& [key, values] : sw.grid) fuzz_assert(!values.empty(), "every grid key has values");
  });
  return 0;
}
