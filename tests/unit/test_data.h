// defines: the unit tests' access to tests/data: data(path), hub_config_text(name) (tests/data/hub_configs)
#pragma once
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace autodist::test {

inline std::string data(const std::string& rel) { return std::string(AUTODIST_TEST_DATA) + "/" + rel; }

// The text of tests/data/hub_configs/NAME.config.json (a published config.json).
inline std::string hub_config_text(const std::string& name) {
  std::ifstream f(data("hub_configs/" + name + ".config.json"));
  REQUIRE(f.good());
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace autodist::test
