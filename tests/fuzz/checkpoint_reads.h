// defines: read_all (opens a checkpoint directory and reads every tensor it lists, whole and sliced, as the
//          loader would), hits_known_defect; shared by fuzz_safetensors and fuzz_safetensors_index
#pragma once
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_util.h"
#include "io/safetensors.h"

namespace autodist::fuzz {

// Known defects of the safetensors reader that issue 18 fixes separately (tensors misaligned for their dtype are
// read through misaligned pointers, a shape product can overflow int64): inputs that hit them are skipped, so they
// do not stop the run at the same place over and over. Remove this once the reader refuses both.
inline bool hits_known_defect(std::string_view file) {
  if (file.size() < 8) return false;
  uint64_t hlen = 0;
  std::memcpy(&hlen, file.data(), 8);
  if (hlen > file.size() - 8) return false;
  nlohmann::json h = nlohmann::json::parse(file.substr(8, hlen), nullptr, /*allow_exceptions=*/false);
  if (!h.is_object()) return false;
  for (auto& [name, v] : h.items()) {
    if (!v.is_object()) continue;
    auto dt = v.find("dtype"), sh = v.find("shape"), off = v.find("data_offsets");
    if (dt != v.end() && dt->is_string() && off != v.end() && off->is_array() && !off->empty() &&
        (*off)[0].is_number_unsigned()) {
      const std::string d = dt->get<std::string>();
      const uint64_t size = d == "F32" || d == "I32" ? 4 : d == "I64" ? 8 : 2;
      if ((8 + hlen + (*off)[0].get<uint64_t>()) % size != 0) return true;
    }
    if (sh != v.end() && sh->is_array()) {
      int64_t n = 1;
      for (auto& x : *sh)
        if (x.is_number_integer() && x.get<int64_t>() > 0 && __builtin_mul_overflow(n, x.get<int64_t>(), &n))
          return true;
    }
  }
  return false;
}

inline void read_all(const std::string& dir) {
  io::Checkpoint ck(dir);
  std::vector<float> buf, whole;
  for (const std::string& name : ck.names()) {
    const io::TensorInfo& t = ck.info(name);
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
        fuzz_check(std::memcmp(whole.data(), buf.data(), n * sizeof(float)) == 0, "a whole-tensor slice differs");
    }
    whole.clear();
  }
}

}  // namespace autodist::fuzz
