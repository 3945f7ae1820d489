// defines: CudaBackend::SampleJob (one sampling job of the cuda backend: pinned logits, a snapshot of the plan's
//          output rows, the reference sampler, run by a host function in stream order; cuda_sample.cpp)
#pragma once
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "backend/cuda/cuda_backend.h"
#include "backend/sampling.h"

namespace autodist {

struct CudaBackend::SampleJob {
  SamplingOptions opt;
  int64_t R = 0, V = 0, n_banned = 0;
  std::vector<int64_t> position;  // per output row: the position of the token it samples
  std::vector<uint8_t> ban;       // per output row: the plan's ban flag
  float* logits = nullptr;        // pinned [R, V]
  int32_t* banned = nullptr;      // pinned [n_banned]
  int32_t* tokens = nullptr;      // pinned [R]
  size_t logits_cap = 0, banned_cap = 0, tokens_cap = 0;
  RowSampler sampler;
  CUevent_st* done = nullptr;  // after the tokens' copy back to the device
  bool pending = false;
  std::mutex mu;
  std::string error;  // set by the host function when the sampler throws

  ~SampleJob();
  void run() noexcept;  // the host function: samples every row into tokens
};

}  // namespace autodist
