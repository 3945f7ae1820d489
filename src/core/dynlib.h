// defines: DynLib (a shared library opened with dlopen and kept open for the process, with named entry points)
//
// For the libraries the project opens on first use instead of linking (cuBLAS: a second of static initialisers per
// process; NCCL: absent on some machines), so that one loader and one set of messages serve them all.
#pragma once
#include <string>
#include <vector>

namespace autodist {

class DynLib {
 public:
  // The first of `names` that opens (empty names are skipped), RTLD_NOW | RTLD_LOCAL. Throws autodist::Error:
  // "<owner>: cannot load <label> (<the loader's messages>); <hint>".
  static DynLib open_first(const std::vector<std::string>& names, const std::string& owner, const std::string& label,
                           const std::string& hint);
  // fn = the entry point `name`; throws "<owner>: <name> is missing from the loaded <label>".
  template <class F>
  void bind(F& fn, const char* name) const {
    fn = reinterpret_cast<F>(symbol(name));
  }
  void* symbol(const char* name) const;

 private:
  void* handle_ = nullptr;  // never closed: the entry points stay valid until the process ends
  std::string owner_, label_;
};

}  // namespace autodist
