// fuzz_safetensors: the input is one model.safetensors file (8-byte header length, JSON header, data); the
// checkpoint is opened and every tensor read, whole and sliced.
#include "checkpoint_reads.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace autodist::fuzz;
  write_input("model.safetensors", data, size);
  expected([&] {
    // An accepted file's tensors lie inside its data section: they cannot add up to more than the input.
    fuzz_assert(read_all(FuzzDir::get().path()) + 8 <= size, "tensors of an accepted file exceed its bytes");
  });
  return 0;
}
