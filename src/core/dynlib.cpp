#include "core/dynlib.h"

#include <dlfcn.h>

#include "core/error.h"

namespace autodist {

DynLib DynLib::open_first(const std::vector<std::string>& names, const std::string& owner, const std::string& label,
                          const std::string& hint) {
  DynLib lib;
  lib.owner_ = owner;
  lib.label_ = label;
  std::string errors;
  for (const auto& n : names) {
    if (n.empty()) continue;
    lib.handle_ = dlopen(n.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib.handle_) return lib;
    const char* e = dlerror();
    errors += (errors.empty() ? "" : "; ") + std::string(e ? e : n);
  }
  AD_FAIL("{}: cannot load {} ({}); {}", owner, label, errors.empty() ? "no file names given" : errors, hint);
}

void* DynLib::symbol(const char* name) const {
  void* p = dlsym(handle_, name);
  AD_CHECK(p, "{}: {} is missing from the loaded {}", owner_, name, label_);
  return p;
}

}  // namespace autodist
