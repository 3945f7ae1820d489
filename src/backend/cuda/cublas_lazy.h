// defines: Cublas (the cuBLAS entry points the CUDA backend uses), cublas() (loads libcublas on first use)
//
// Why not link libcublas: its static initialisers cost every process that links it about a second at startup
// (0.9-1.1 s measured on the build machine, with or without a GPU), also runs that never touch the GPU and every
// rank of every mpirun test. So it is opened with dlopen when the first CudaBackend is created.
#pragma once
#include <cublas_v2.h>

namespace autodist::cuda {

struct Cublas {
  decltype(&cublasCreate_v2) create = nullptr;
  decltype(&cublasDestroy_v2) destroy = nullptr;
  decltype(&cublasSetStream_v2) set_stream = nullptr;
  decltype(&cublasSetMathMode) set_math_mode = nullptr;
  decltype(&cublasSgemm_v2) sgemm = nullptr;
  decltype(&cublasGetStatusString) status_string = nullptr;
  decltype(&cublasGetStatusName) status_name = nullptr;
};

// Loaded once per process (thread-safe) and kept loaded. Throws autodist::Error naming the library and the
// loader's message when libcublas cannot be opened.
const Cublas& cublas();

}  // namespace autodist::cuda
