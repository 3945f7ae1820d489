#include "core/json_value.h"

#include <cmath>

#include "core/error.h"

namespace autodist {

std::string json_describe(const nlohmann::json& v) {
  auto cut = [](std::string s) { return s.size() > 40 ? s.substr(0, 37) + "..." : s; };
  switch (v.type()) {
    case nlohmann::json::value_t::string: return "string " + cut(v.dump());
    case nlohmann::json::value_t::boolean: return std::string("boolean ") + (v.get<bool>() ? "true" : "false");
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
    case nlohmann::json::value_t::number_float: return "number " + v.dump();
    case nlohmann::json::value_t::null: return "null";
    case nlohmann::json::value_t::array: return "an array";
    case nlohmann::json::value_t::object: return "an object";
    default: return "a " + std::string(v.type_name());
  }
}

bool json_int_ok(const nlohmann::json& v, int64_t lo, int64_t hi, int64_t& x) {
  if (!v.is_number_integer()) return false;
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return false;
  x = v.get<int64_t>();
  return x >= lo && x <= hi;
}

int64_t json_int(const nlohmann::json& v, const std::string& what, int64_t lo, int64_t hi) {
  int64_t x = 0;
  if (json_int_ok(v, lo, hi, x)) return x;
  AD_CHECK(v.is_number_integer(), "{}: expected an integer, got {}", what, json_describe(v));
  // Unsigned values above INT64_MAX would wrap through get<int64_t>().
  AD_CHECK(!v.is_number_unsigned() || v.get<uint64_t>() <= static_cast<uint64_t>(hi),
           "{}: {} is too large (at most {})", what, v.dump(), hi);
  AD_CHECK(x >= lo, "{}: must be >= {}, got {}", what, lo, x);
  AD_FAIL("{}: {} is too large (at most {})", what, x, hi);
}

double json_number(const nlohmann::json& v, const std::string& what) {
  AD_CHECK(v.is_number(), "{}: expected a number, got {}", what, json_describe(v));
  const double x = v.get<double>();
  AD_CHECK(std::isfinite(x), "{}: expected a finite number, got {}", what, v.dump());
  return x;
}

bool json_bool(const nlohmann::json& v, const std::string& what) {
  AD_CHECK(v.is_boolean(), "{}: expected true or false, got {}", what, json_describe(v));
  return v.get<bool>();
}

std::string json_string(const nlohmann::json& v, const std::string& what) {
  AD_CHECK(v.is_string(), "{}: expected a string, got {}", what, json_describe(v));
  return v.get<std::string>();
}

}  // namespace autodist
