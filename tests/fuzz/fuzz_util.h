// defines: kSep, split_parts, FuzzDir (the files a harness hands to the public API by path), write_input,
//          expected (runs a parser call, letting the project's reported errors through)
//
// Inputs that hold several files (config.json + generation_config.json, an index + its shards, tokenizer.json +
// the text to encode) separate them with kSep; every target's dictionary has it, so libFuzzer inserts it.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace autodist::fuzz {

// A harness's oracle: a property every accepted input must have. A violation is a finding (abort: libFuzzer keeps
// the input as the reproducer).
inline void fuzz_assert(bool ok, const char* property) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_assert failed: %s\n", property);
  std::abort();
}

inline constexpr std::string_view kSep = "\n#~#\n";

inline std::vector<std::string_view> split_parts(const uint8_t* data, size_t size, size_t max_parts = 16) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> parts;
  while (parts.size() + 1 < max_parts) {
    size_t at = in.find(kSep);
    if (at == std::string_view::npos) break;
    parts.push_back(in.substr(0, at));
    in.remove_prefix(at + kSep.size());
  }
  parts.push_back(in);
  return parts;
}

// One directory per process in /dev/shm (RAM: no disk I/O per run), emptied before each input, removed at exit.
class FuzzDir {
 public:
  static FuzzDir& get() {
    static FuzzDir d;
    return d;
  }
  const std::string& path() const { return dir_; }
  std::string file(const std::string& name) const { return dir_ + "/" + name; }
  // Removes every file the previous input left.
  void clear() const {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir_, ec)) std::filesystem::remove_all(e.path(), ec);
  }
  std::string write(const std::string& name, std::string_view bytes) const {
    std::string p = file(name);
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!f) std::abort();  // the harness's own failure, not the parser's
    return p;
  }
  ~FuzzDir() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

 private:
  FuzzDir() {
    std::string base = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path().string();
    dir_ = base + "/autodist-fuzz-" + std::to_string(::getpid());
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec) std::abort();
  }
  std::string dir_;
};

// A single-file input: a fresh FuzzDir holding only NAME with the input's bytes; returns its path.
inline std::string write_input(const std::string& name, const uint8_t* data, size_t size) {
  FuzzDir& d = FuzzDir::get();
  d.clear();
  return d.write(name, std::string_view(reinterpret_cast<const char*>(data), size));
}

// Runs f; an autodist::Error is the parser refusing the input as documented, so it is not a finding. Anything
// else (another exception type escaping, a crash, a sanitizer report, a leak, a hang) is.
template <typename F>
bool expected(F&& f) {
  try {
    f();
    return true;
  } catch (const autodist::Error&) {
    return false;
  }
}

}  // namespace autodist::fuzz
