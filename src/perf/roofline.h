// defines: DeviceSpec, device_spec (named accelerators' datasheet figures), roofline_profile (a profile priced from a
//          device's peak FLOP/s and memory bandwidth instead of measured)
//
// For planning on hardware that is not at hand (docs/perf-model.md, "Profiles on paper"): every kernel of the
// measured profile (perf/profiler.h) gets the time of the roofline, the larger of its FLOPs over the usable peak
// and its bytes over the usable bandwidth, plus a fixed launch cost. GEMMs read bf16/f16/f32 weights and write
// 16-bit activations; attention reads a 16-bit KV cache (shared by the q heads of a kv head); elementwise kernels
// read and write what the runtime keeps (f32 residual stream). Devices do not slow each other (contention 1), and
// the layer is the sum of its kernels (composition 1). A measured profile of the real device is always better.
#pragma once
#include <string>

#include "io/model_config.h"
#include "perf/profile.h"
#include "perf/profiler.h"

namespace autodist::perf {

struct DeviceSpec {
  std::string name;
  double peak_tflops = 0;       // dense 16-bit tensor-core FLOP/s, 1e12
  double mem_gbps = 0;          // memory bandwidth, GB/s (1e9 bytes)
  double memory_gb = 0;         // device memory, GB
  double flops_efficiency = 0.7;  // the fraction of the peak a large GEMM reaches
  double mem_efficiency = 0.85;   // the fraction of the bandwidth a streaming kernel reaches
  double launch_us = 4;           // fixed cost of every kernel
};

// h100-sxm, h200, a100-sxm (80 GB), l40s; throws listing them for another name.
DeviceSpec device_spec(const std::string& name);
Profile roofline_profile(const ModelConfig& c, const ProfileOptions& o, const DeviceSpec& d);

}  // namespace autodist::perf
