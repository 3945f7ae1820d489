#include "backend/cuda/cublas_lazy.h"

#include <dlfcn.h>

#include <string>

#include "core/error.h"

#ifndef AUTODIST_CUBLAS_DIR
#define AUTODIST_CUBLAS_DIR ""
#endif

namespace autodist::cuda {
namespace {

Cublas load() {
  const std::string major = std::to_string(CUBLAS_VER_MAJOR);
  // The toolkit the build used first (not every binary has it on its run path), then the loader's search path.
  const std::string dir = AUTODIST_CUBLAS_DIR;
  const std::string names[] = {dir.empty() ? std::string() : dir + "/libcublas.so." + major, "libcublas.so." + major,
                               "libcublas.so"};
  void* h = nullptr;
  std::string errors;
  for (const auto& n : names) {
    if (n.empty()) continue;
    h = dlopen(n.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (h) break;
    const char* e = dlerror();
    errors += (errors.empty() ? "" : "; ") + std::string(e ? e : n);
  }
  AD_CHECK(h, "cuda backend: cannot load cuBLAS {} ({}); add the CUDA toolkit's lib directory to LD_LIBRARY_PATH",
           major, errors);
  auto sym = [h](const char* name) {
    void* p = dlsym(h, name);
    AD_CHECK(p, "cuda backend: {} is missing from the loaded cuBLAS library", name);
    return p;
  };
  Cublas c;
  c.create = reinterpret_cast<decltype(c.create)>(sym("cublasCreate_v2"));
  c.destroy = reinterpret_cast<decltype(c.destroy)>(sym("cublasDestroy_v2"));
  c.set_stream = reinterpret_cast<decltype(c.set_stream)>(sym("cublasSetStream_v2"));
  c.set_math_mode = reinterpret_cast<decltype(c.set_math_mode)>(sym("cublasSetMathMode"));
  c.sgemm = reinterpret_cast<decltype(c.sgemm)>(sym("cublasSgemm_v2"));
  c.status_string = reinterpret_cast<decltype(c.status_string)>(sym("cublasGetStatusString"));
  c.status_name = reinterpret_cast<decltype(c.status_name)>(sym("cublasGetStatusName"));
  return c;
}

}  // namespace

const Cublas& cublas() {
  static const Cublas api = load();  // a throwing load is retried by the next call
  return api;
}

}  // namespace autodist::cuda
