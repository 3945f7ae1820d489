// fuzz_config: the input is config.json, optionally followed by kSep and generation_config.json. The model
// directory is read as the loader reads it (family, block recipe, validation), then the checkpoint's tensor list and
// the parameter counts are derived from it.
#include "fuzz_util.h"
#include "model/family.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace autodist::fuzz;
  FuzzDir& d = FuzzDir::get();
  d.clear();
  auto parts = split_parts(data, size, 2);
  d.write("config.json", parts[0]);
  if (parts.size() > 1) d.write("generation_config.json", parts[1]);
  expected([&] {
    autodist::ModelConfig c = autodist::load_model_config(d.path());
    fuzz_assert(c.n_layers >= 1 && c.hidden >= 1 && c.n_heads >= 1 && c.vocab >= 1, "an accepted config has sizes >= 1");
    fuzz_assert(c.n_kv_heads >= 1 && c.n_heads % c.n_kv_heads == 0, "kv heads divide the heads");
    (void)autodist::family_of(c);
    (void)autodist::checkpoint_tensors(c);
    (void)c.layer_params();
  });
  return 0;
}
