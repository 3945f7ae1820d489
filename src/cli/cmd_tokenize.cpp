// autodist tokenize: encode/decode text with a tokenizer.json, check it against HF reference files,
// measure encoding throughput.
#include <algorithm>
#include <cmath>
#include <boost/program_options.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "cli/run_options.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "tokenizer/tokenizer.h"

namespace autodist::cli {
namespace {

namespace po = boost::program_options;
using nlohmann::json;
using tokenizer::Tokenizer;

std::string ids_str(const std::vector<int32_t>& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + std::to_string(ids[i]);
  return s;
}

// The {"text", "ids", "decoded"} lines of a reference file such as tests/data/tokenizers/qwen3.jsonl.
struct Case {
  std::string text, decoded;
  std::vector<int32_t> ids;
};

std::vector<Case> read_cases(const std::string& path) {
  std::ifstream f(path);
  AD_CHECK(f, "cannot open {}", path);
  std::vector<Case> cases;
  std::string line;
  for (size_t n = 1; std::getline(f, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      json j = json::parse(line);
      Case c{j.at("text").get<std::string>(), j.value("decoded", std::string()), {}};
      if (j.contains("ids")) c.ids = j["ids"].get<std::vector<int32_t>>();
      if (!j.contains("decoded")) c.decoded = c.text;
      cases.push_back(std::move(c));
    } catch (const json::exception& e) {
      AD_FAIL("{}:{}: expected a JSON object with \"text\" (and \"ids\", \"decoded\"): {}", path, n, e.what());
    }
  }
  AD_CHECK(!cases.empty(), "{}: no test lines", path);
  return cases;
}

std::string clip(const std::string& s) {
  std::string j = json(s).dump(-1, ' ', false, json::error_handler_t::replace);
  return j.size() > 120 ? j.substr(0, 117) + "..." : j;
}

// First position where two id lists differ, with a little context.
std::string id_diff(const std::vector<int32_t>& want, const std::vector<int32_t>& got) {
  size_t i = 0;
  while (i < want.size() && i < got.size() && want[i] == got[i]) ++i;
  auto around = [&](const std::vector<int32_t>& v) {
    size_t b = i > 3 ? i - 3 : 0, e = std::min(v.size(), i + 5);
    return ids_str(std::vector<int32_t>(v.begin() + b, v.begin() + e));
  };
  return fmt::format("ids differ at {} (expected {} ids, got {}): expected ...{}... got ...{}...", i, want.size(),
                     got.size(), around(want), around(got));
}

int check(const Tokenizer& tok, const std::string& path) {
  auto cases = read_cases(path);
  size_t bad = 0, shown = 0;
  for (size_t n = 0; n < cases.size(); ++n) {
    const Case& c = cases[n];
    std::vector<int32_t> ids = tok.encode(c.text);
    std::string dec = tok.decode(c.ids);
    bool ok_ids = ids == c.ids, ok_dec = dec == c.decoded;
    if (ok_ids && ok_dec) continue;
    ++bad;
    if (shown++ >= 20) continue;
    std::string s = fmt::format("MISMATCH line {}: text {}\n", n + 1, clip(c.text));
    if (!ok_ids) s += "  " + id_diff(c.ids, ids) + "\n";
    if (!ok_dec) s += fmt::format("  decoded {}\n  expected {}\n", clip(dec), clip(c.decoded));
    log::out(s);
  }
  log::out(fmt::format("{}: {}/{} lines match (ids and decoded text){}\n", path, cases.size() - bad, cases.size(),
                       bad ? fmt::format(", {} MISMATCHED", bad) : ""));
  return bad ? 1 : 0;
}

int chat_check(const Tokenizer& tok, const std::string& path) {
  std::ifstream f(path);
  AD_CHECK(f, "cannot open {}", path);
  json j;
  try {
    j = json::parse(f);
  } catch (const json::exception& e) {
    AD_FAIL("{}: malformed JSON: {}", path, e.what());
  }
  AD_CHECK(j.is_array() && !j.empty(), "{}: expected a non-empty array of conversations", path);
  size_t bad = 0;
  for (size_t n = 0; n < j.size(); ++n) {
    std::vector<tokenizer::ChatMessage> msgs;
    std::string want;
    std::vector<int32_t> want_ids;
    try {
      for (auto& m : j[n].at("messages"))
        msgs.push_back({m.at("role").get<std::string>(), m.at("content").get<std::string>()});
      want = j[n].at("text").get<std::string>();
      want_ids = j[n].at("ids").get<std::vector<int32_t>>();
    } catch (const json::exception& e) {
      AD_FAIL("{}: conversation {} lacks messages/text/ids: {}", path, n + 1, e.what());
    }
    std::string text = tok.render_chat(msgs, true);
    std::vector<int32_t> ids = tok.encode(text);
    if (text == want && ids == want_ids) continue;
    ++bad;
    std::string s = fmt::format("MISMATCH conversation {}:\n", n + 1);
    if (text != want) s += fmt::format("  rendered {}\n  expected {}\n", clip(text), clip(want));
    if (ids != want_ids) s += "  " + id_diff(want_ids, ids) + "\n";
    log::out(s);
  }
  log::out(fmt::format("{}: {}/{} conversations match (template {}){}\n", path, j.size() - bad, j.size(),
                       tok.chat_template_name(), bad ? fmt::format(", {} MISMATCHED", bad) : ""));
  return bad ? 1 : 0;
}

// Encoding throughput on one thread, median of repeated passes over the corpus: cold (the
// pre-token cache emptied before each pass) and warm (every word cached).
int bench(const Tokenizer& tok, const std::string& path, double seconds) {
  auto cases = read_cases(path);
  size_t bytes = 0, ntok = 0;
  for (auto& c : cases) bytes += c.text.size();
  auto median_ms = [&](bool cold) {
    std::vector<double> ms;
    Stopwatch total;
    while (ms.size() < 5 || total.ms() < seconds * 500) {
      if (cold) tok.clear_cache();
      Stopwatch sw;
      size_t n = 0;
      for (auto& c : cases) n += tok.encode(c.text).size();
      ms.push_back(sw.ms());
      ntok = n;
    }
    std::sort(ms.begin(), ms.end());
    return std::pair{ms[ms.size() / 2], ms.size()};
  };
  auto [cold_ms, cold_n] = median_ms(true);
  auto [warm_ms, warm_n] = median_ms(false);
  std::vector<int32_t> all;
  for (auto& c : cases) {
    auto ids = tok.encode(c.text);
    all.insert(all.end(), ids.begin(), ids.end());
  }
  std::string text;
  Stopwatch sw;
  int dpasses = 0;
  while (dpasses == 0 || sw.ms() < 200) {
    text = tok.decode(all);
    ++dpasses;
  }
  double dec_ms = sw.ms() / dpasses;
  log::out(fmt::format(
      "{}: {} texts, {:.1f} KB, {} tokens ({:.2f} bytes/token), one thread, median of passes\n"
      "encode cold cache: {:6.1f} MB/s ({:.2f} ms/pass, {} passes)\n"
      "encode warm cache: {:6.1f} MB/s ({:.2f} ms/pass, {} passes)\n"
      "decode:            {:6.1f} MB/s\n",
      path, cases.size(), bytes / 1e3, ntok, double(bytes) / ntok, bytes / (cold_ms * 1e3), cold_ms, cold_n,
      bytes / (warm_ms * 1e3), warm_ms, warm_n, text.size() / (dec_ms * 1e3)));
  return 0;
}

int run(int argc, char** argv) {
  std::string path, text, text_file, ids, check_file, chat_file, bench_file;
  bool decode = false, no_special = false, help = false;
  double seconds = 2.0;
  po::options_description d("tokenize options");
  d.add_options()
    ("tokenizer", po::value(&path), "tokenizer.json, or a directory holding it (and tokenizer_config.json)")
    ("text", po::value(&text), "encode TEXT and print the ids")
    ("text-file", po::value(&text_file), "encode the bytes of FILE and print the ids")
    ("decode", po::bool_switch(&decode), "with --text/--text-file: also print the ids decoded back")
    ("no-special", po::bool_switch(&no_special), "with --text/--text-file: encode special-token text as plain text")
    ("ids", po::value(&ids), "decode a comma-separated id list and print the text")
    ("check", po::value(&check_file), "compare with a reference FILE.jsonl of {text, ids, decoded} lines")
    ("chat-check", po::value(&chat_file), "compare rendered chats with a reference FILE.json")
    ("bench", po::value(&bench_file), "encoding throughput (MB/s, one thread) over the texts of FILE.jsonl")
    ("seconds", po::value(&seconds)->default_value(2.0), "with --bench: seconds of timed passes")
    ("help,h", po::bool_switch(&help), "show this help");
  po::variables_map vm;
  po::store(po::parse_command_line(argc, argv, d), vm);
  po::notify(vm);
  const char* usage =
      "usage: autodist tokenize --tokenizer PATH MODE\n"
      "  MODE: (--text TEXT | --text-file FILE) [--decode] [--no-special] | --ids 1,2,3 |\n"
      "        --check FILE.jsonl | --chat-check FILE.json | --bench FILE.jsonl";
  if (help) {
    std::ostringstream ss;
    ss << usage << "\n\n" << d << "\n";
    log::out(ss.str());
    return 0;
  }
  if (vm.count("text-file")) {
    std::ifstream f(text_file, std::ios::binary);
    AD_CHECK(f, "cannot open {}", text_file);
    std::ostringstream ss;
    ss << f.rdbuf();
    text = ss.str();
  }
  size_t modes = vm.count("text") + vm.count("text-file") + vm.count("ids") + vm.count("check") +
                 vm.count("chat-check") + vm.count("bench");
  if (path.empty() || modes == 0) {
    log::error("{}", path.empty() ? "--tokenizer is required"
                                  : "nothing to do: give --text, --text-file, --ids, --check, --chat-check or --bench");
    log::out(std::string(usage) + "\n");
    return 2;
  }
  Tokenizer tok = Tokenizer::load(path);
  int rc = 0;
  if (vm.count("text") || vm.count("text-file")) {
    auto v = tok.encode(text, !no_special);
    log::out(fmt::format("{}\n", ids_str(v)));
    if (decode) log::out(tok.decode(v) + "\n");
  }
  if (vm.count("ids")) log::out(tok.decode(parse_id_list(ids)) + "\n");
  if (vm.count("check")) rc |= check(tok, check_file);
  if (vm.count("chat-check")) rc |= chat_check(tok, chat_file);
  AD_CHECK(std::isfinite(seconds) && seconds > 0, "--seconds must be a number > 0, got {}", seconds);
  if (vm.count("bench")) rc |= bench(tok, bench_file, seconds);
  return rc;
}

}  // namespace
AUTODIST_COMMAND("tokenize", "encode/decode text, check against HF references, bench the tokenizer", run);
}  // namespace autodist::cli
