// defines: read_all (opens a checkpoint directory and reads every tensor it lists, whole and sliced, as the
//          loader would); shared by fuzz_safetensors and fuzz_safetensors_index
#pragma once
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_util.h"
#include "io/safetensors.h"

namespace autodist::fuzz {

// Returns the bytes of every tensor the checkpoint lists (each at most once, whatever the index says).
inline uint64_t read_all(const std::string& dir) {
  io::Checkpoint ck(dir);
  std::vector<float> buf, whole;
  uint64_t total = 0;
  for (const std::string& name : ck.names()) {
    const io::TensorInfo& t = ck.info(name);
    total += t.nbytes;
    if (t.nbytes > (size_t{1} << 22)) continue;  // the reads below are the point, not big copies
    std::vector<io::Slice> slices = {io::Slice::all(), io::Slice::rows(0, -1)};
    if (!t.shape.empty() && t.shape[0] > 1) slices.push_back(io::Slice::rows(1, t.shape[0] - 1));
    if (t.shape.size() == 2 && t.shape[1] > 1) slices.push_back(io::Slice::cols(1, t.shape[1] - 1));
    for (io::Slice s : slices) {
      std::vector<int64_t> shape = ck.slice_shape(name, s);
      size_t n = 1;
      for (int64_t d : shape) n *= static_cast<size_t>(d);
      buf.assign(n, 0.0f);
      ck.read_f32(name, s, buf.data());
      if (whole.empty() && shape == ck.info(name).shape) whole = buf;
      else if (shape == ck.info(name).shape)  // rows(0, -1) is the whole tensor: the same bytes
        fuzz_assert(std::memcmp(whole.data(), buf.data(), n * sizeof(float)) == 0, "a whole-tensor slice differs");
    }
    whole.clear();
  }
  return total;
}

}  // namespace autodist::fuzz
