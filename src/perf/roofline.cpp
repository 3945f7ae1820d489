#include "perf/roofline.h"

#include <algorithm>
#include <set>

#include "core/error.h"
#include "perf/shapes.h"

namespace autodist::perf {

DeviceSpec device_spec(const std::string& name) {
  // Datasheet figures (dense bf16, no sparsity).
  static const DeviceSpec specs[] = {
      {"h100-sxm", 989, 3350, 80},
      {"h200", 989, 4800, 141},
      {"a100-sxm", 312, 2039, 80},
      {"l40s", 362, 864, 48},
  };
  std::string names;
  for (const DeviceSpec& s : specs) {
    if (s.name == name) return s;
    names += (names.empty() ? "" : ", ") + s.name;
  }
  AD_FAIL("unknown device '{}' for a roofline profile (known: {}; or give --peak-tflops and --mem-gbps)", name, names);
}

Profile roofline_profile(const ModelConfig& c, const ProfileOptions& o, const DeviceSpec& d) {
  AD_CHECK(d.peak_tflops > 0 && d.mem_gbps > 0, "roofline profile: peak TFLOP/s and memory GB/s must be > 0, got {} "
                                                "and {}", d.peak_tflops, d.mem_gbps);
  AD_CHECK(d.flops_efficiency > 0 && d.flops_efficiency <= 1 && d.mem_efficiency > 0 && d.mem_efficiency <= 1,
           "roofline profile: efficiencies must be in (0, 1], got {} and {}", d.flops_efficiency, d.mem_efficiency);
  AD_CHECK(d.launch_us >= 0, "roofline profile: the launch cost must be >= 0 us, got {}", d.launch_us);
  AD_CHECK(o.max_tp >= 1, "profile: --max-tp must be >= 1, got {}", o.max_tp);
  const double flops = d.peak_tflops * 1e12 * d.flops_efficiency;
  const double bw = d.mem_gbps * 1e9 * d.mem_efficiency;
  const double launch = d.launch_us * 1e-6;
  const double wbytes = static_cast<double>(dtype_size(o.weight_dtype));
  constexpr double act = 2;  // 16-bit GEMM inputs and outputs, KV cache

  Profile p;
  p.dtype = dtype_name(o.weight_dtype);
  p.backend = "roofline:" + d.name;
  p.max_tp = o.max_tp;
  std::set<std::pair<int64_t, int64_t>> shapes;
  for (int tp : valid_tps(c, o.max_tp))
    for (const GemmShape& g : stage_shapes(c, tp).all()) shapes.insert({g.N, g.K});
  for (auto [N, K] : shapes) {
    GemmCurve cur{N, K, {}};
    for (int64_t M : gemm_rows(o)) {
      const double m = static_cast<double>(M), n = static_cast<double>(N), k = static_cast<double>(K);
      cur.pts.emplace_back(M, launch + std::max(2 * m * n * k / flops, (n * k * wbytes + m * (n + k) * act) / bw));
    }
    p.gemms.push_back(std::move(cur));
  }
  // Attention: work = rows x keys x head_dim per q head. One row reads K and V (2 x head_dim 16-bit values per key),
  // shared by the group of q heads of its kv head; a block of rows does 4 FLOPs per unit of work (QK^T, PV), reading
  // the keys once per block of 128 rows.
  const double group = static_cast<double>(c.n_heads) / static_cast<double>(std::max<int64_t>(1, c.n_kv_heads));
  p.attn_decode = {0, 2 * act / (group * bw)};
  p.attn_prefill = {0, std::max(4 / flops, 2 * act / (group * 128 * bw))};
  // Elementwise kernels: bytes moved per element (f32 residual, 16-bit activations).
  const std::pair<const char*, double> per_element[] = {
      {"rmsnorm", 6},  {"layernorm", 6}, {"add", 12},        {"add_bias", 8},   {"silu_mul", 6},
      {"activation", 4}, {"split_qkv", 4}, {"rope", 4},      {"kv_append", 4},  {"embed", 6},
      {"gather_rows", 8}, {"argmax", 4},  {"pick", 8},
  };
  for (auto [name, bytes] : per_element) p.ops[name] = {launch, bytes / bw};
  return p;
}

}  // namespace autodist::perf
