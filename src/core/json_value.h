// defines: json_describe (a JSON value's type and text, for messages), json_int, json_number, json_bool,
//          json_string (a value of a file read in the type it is used in, or an autodist::Error naming it)
//
// config.json, tokenizer.json and their companions are read through these, so that a mistyped or out-of-range
// value is refused where it is read ("config.json: hidden_size: expected an integer, got string \"64\"") instead
// of surfacing as a json exception or being truncated into the type it is stored in.
#pragma once
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

namespace autodist {

// `string "64"`, `number 3.7`, `boolean true`, `null`, `an array`, `an object` (long texts shortened).
std::string json_describe(const nlohmann::json& v);

// v as an integer in [lo, hi]. `what` names the value in messages ("FILE: hidden_size"). Floats are refused,
// integral ones too: these files write integers as integers, and a 4.0 is a sign the file was not made by HF.
int64_t json_int(const nlohmann::json& v, const std::string& what, int64_t lo = std::numeric_limits<int64_t>::min(),
                 int64_t hi = std::numeric_limits<int64_t>::max());
// json_int's check without the message (for loops over large tables): true, with x, when v is in [lo, hi].
bool json_int_ok(const nlohmann::json& v, int64_t lo, int64_t hi, int64_t& x);
// v as a finite number (an integer or a float).
double json_number(const nlohmann::json& v, const std::string& what);
bool json_bool(const nlohmann::json& v, const std::string& what);
std::string json_string(const nlohmann::json& v, const std::string& what);

}  // namespace autodist
