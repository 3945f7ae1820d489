#include "backend/cuda/cublas_lazy.h"

#include <string>

#include "core/dynlib.h"

#ifndef AUTODIST_CUBLAS_DIR
#define AUTODIST_CUBLAS_DIR ""
#endif

namespace autodist::cuda {
namespace {

Cublas load() {
  const std::string major = std::to_string(CUBLAS_VER_MAJOR);
  // The toolkit the build used first (not every binary has it on its run path), then the loader's search path.
  const std::string dir = AUTODIST_CUBLAS_DIR;
  const DynLib lib = DynLib::open_first(
      {dir.empty() ? std::string() : dir + "/libcublas.so." + major, "libcublas.so." + major, "libcublas.so"},
      "cuda backend", "cuBLAS " + major, "add the CUDA toolkit's lib directory to LD_LIBRARY_PATH");
  Cublas c;
  lib.bind(c.create, "cublasCreate_v2");
  lib.bind(c.destroy, "cublasDestroy_v2");
  lib.bind(c.set_stream, "cublasSetStream_v2");
  lib.bind(c.set_math_mode, "cublasSetMathMode");
  lib.bind(c.sgemm, "cublasSgemm_v2");
  lib.bind(c.status_string, "cublasGetStatusString");
  lib.bind(c.status_name, "cublasGetStatusName");
  return c;
}

}  // namespace

const Cublas& cublas() {
  static const Cublas api = load();  // a throwing load is retried by the next call
  return api;
}

}  // namespace autodist::cuda
