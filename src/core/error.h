// defines: autodist::Error, AD_CHECK, AD_FAIL
#pragma once
#include <fmt/core.h>
#include <stdexcept>
#include <string>

namespace autodist {

// Every user-facing failure: what failed and what to do about it.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) {
  throw Error(fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace autodist

#define AD_FAIL(...) ::autodist::fail(__VA_ARGS__)
#define AD_CHECK(cond, ...)                 \
  do {                                      \
    if (!(cond)) ::autodist::fail(__VA_ARGS__); \
  } while (0)
