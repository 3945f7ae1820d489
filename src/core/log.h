// defines: log levels, log::info/warn/error/debug with the rank in every line
#pragma once
#include <fmt/core.h>
#include <string>

namespace autodist::log {

enum class Level { Debug = 0, Info = 1, Warn = 2, Error = 3, Off = 4 };

void set_rank(int rank, int world);
void set_level(Level level);
Level level();
Level parse_level(const std::string& s);  // debug|info|warn|error|off
void write(Level level, const std::string& msg);
// Plain output for the CLI's results (stdout, no prefix). Only cli/ uses it.
void out(const std::string& msg);

template <typename... Args>
void debug(fmt::format_string<Args...> f, Args&&... a) {
  if (level() <= Level::Debug) write(Level::Debug, fmt::format(f, std::forward<Args>(a)...));
}
template <typename... Args>
void info(fmt::format_string<Args...> f, Args&&... a) {
  if (level() <= Level::Info) write(Level::Info, fmt::format(f, std::forward<Args>(a)...));
}
template <typename... Args>
void warn(fmt::format_string<Args...> f, Args&&... a) {
  if (level() <= Level::Warn) write(Level::Warn, fmt::format(f, std::forward<Args>(a)...));
}
template <typename... Args>
void error(fmt::format_string<Args...> f, Args&&... a) {
  if (level() <= Level::Error) write(Level::Error, fmt::format(f, std::forward<Args>(a)...));
}

}  // namespace autodist::log
