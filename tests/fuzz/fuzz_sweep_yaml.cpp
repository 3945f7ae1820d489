// fuzz_sweep_yaml: the input is a sweep YAML file, read by the parser of `autodist sweep`.
#include "cli/sweep_spec.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace autodist::fuzz;
  std::string path = write_input("sweep.yaml", data, size);
  expected([&] { (void)autodist::cli::load_sweep(path); });
  return 0;
}
