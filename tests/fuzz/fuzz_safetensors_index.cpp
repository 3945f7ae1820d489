// fuzz_safetensors_index: the input is model.safetensors.index.json, then shard files, each as kSep, a file name
// (one line), then its bytes. Names other than plain [A-Za-z0-9._-] file names are dropped. The checkpoint is
// opened through the index and every tensor read, whole and sliced.
#include "checkpoint_reads.h"
#include "fuzz_util.h"

namespace {
bool plain_name(std::string_view n) {
  if (n.empty() || n.size() > 64 || n == "." || n == ".." || n == "model.safetensors.index.json") return false;
  for (char c : n)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) return false;
  return true;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace autodist::fuzz;
  FuzzDir& d = FuzzDir::get();
  d.clear();
  auto parts = split_parts(data, size);
  d.write("model.safetensors.index.json", parts[0]);
  for (size_t i = 1; i < parts.size(); ++i) {
    std::string_view p = parts[i];
    size_t nl = p.find('\n');
    if (nl == std::string_view::npos || !plain_name(p.substr(0, nl))) continue;
    d.write(std::string(p.substr(0, nl)), p.substr(nl + 1));
  }
  expected([&] {
    // Every tensor lies in one shard, each shard's bytes are part of the input: more would be data made up.
    fuzz_assert(read_all(d.path()) <= size, "tensors of an accepted index exceed the shards' bytes");
  });
  return 0;
}
