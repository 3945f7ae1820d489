// defines: ProfileOptions, gemm_rows, measure_profile (times the kernels of a model's layers on one rank of a backend)
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "core/dtype.h"
#include "io/model_config.h"
#include "perf/profile.h"

namespace autodist::perf {

struct ProfileOptions {
  DType weight_dtype = DType::F32;
  std::vector<int64_t> batches{1, 8};       // decode rows the predictions will ask for
  std::vector<int64_t> lengths{128, 512};   // prompt lengths / chunk sizes (prefill rows)
  int max_tp = 8;                           // shapes for every valid tp up to this
  int64_t max_gemm_rows = 512;              // largest M timed (beyond: linear in M)
  int reps = 5;                             // timed repetitions per shape (median of the fastest half)
  int passes = 3;                           // sweeps over the GEMM shapes (each point: its fastest sweep)
  std::function<void(const std::string&)> progress;  // a line per kernel family (may be empty)
};

// The GEMM row counts a profile covers: powers of two up to the largest step (batch x length, at most
// max_gemm_rows), the batches and lengths themselves.
std::vector<int64_t> gemm_rows(const ProfileOptions& o);

// Uses only the backend's own kernels on buffers of the model's shapes (random weights: timing does not depend on
// the values). Single rank, no communication.
Profile measure_profile(Backend& be, const ModelConfig& c, const ProfileOptions& o);

}  // namespace autodist::perf
