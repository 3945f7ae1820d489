// defines: the unit tests' scratch files: TempDir (a fresh directory per test, removed after it), error_of
#pragma once
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <string>

#include "core/error.h"

namespace autodist::test {

// A fresh directory, TMPDIR/autodist_<tag>_<pid>_<n>, removed at the end of the scope.
struct TempDir {
  std::filesystem::path dir;
  explicit TempDir(const std::string& tag = "test") {
    static int n = 0;
    dir = std::filesystem::temp_directory_path() /
          ("autodist_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(n++));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
  }
  ~TempDir() { std::filesystem::remove_all(dir); }
  std::string operator/(const std::string& name) const { return (dir / name).string(); }
};

// The message of the autodist::Error that f throws ("" when it throws none).
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace autodist::test
