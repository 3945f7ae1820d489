// defines: filled, concurrent_slowdown, sync_slowdown (the profile's measurements of ranks computing at once, with
//          threads: perf/profiler.cpp's parts)
#pragma once
#include <cstdint>
#include <random>
#include <vector>

#include "backend/backend.h"
#include "core/dtype.h"
#include "io/model_config.h"

namespace autodist::perf {

// Buffer of `shape` in dtype, filled with small values (f32: uniform +-0.05; half types: one small constant).
Buffer filled(Backend& be, DType t, Shape s, std::mt19937& rng);

// Slowdown of k threads (k = 1 .. hardware threads) each running the tp-1 layer GEMMs at M rows on its own buffers,
// against one alone: what ranks sharing a host's memory and caches cost each other. Index k-1.
std::vector<double> concurrent_slowdown(Backend& be, const ModelConfig& c, DType t, int64_t M, std::mt19937& rng);

// What tensor-parallel ranks lose waiting for the slowest at each block's all_reduce, as a factor on their compute,
// for k = 1 .. min(hardware threads, max_tp) ranks (index k-1; 1 at k = 1).
std::vector<double> sync_slowdown(Backend& be, const ModelConfig& c, DType t, int64_t M, int max_tp,
                                  std::mt19937& rng);

}  // namespace autodist::perf
