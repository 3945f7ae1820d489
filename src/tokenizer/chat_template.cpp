#include "tokenizer/chat_template.h"

#include <ctime>

#include "core/error.h"
#include "tokenizer/utf8.h"

namespace autodist::tokenizer {

namespace {

bool has(const std::string& s, const char* what) { return s.find(what) != std::string::npos; }

// Jinja string-literal escapes that occur in chat templates.
std::string unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      char c = s[++i];
      out += c == 'n' ? '\n' : c == 't' ? '\t' : c;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The default system prompt of a ChatML template: a literal '<|im_start|>system\n...<|im_end|>'
// (Qwen2: "You are a helpful assistant.", Qwen2.5: "You are Qwen, created by Alibaba Cloud. ...").
std::string chatml_default_system(const std::string& jinja) {
  const std::string head = "<|im_start|>system\\n", tail = "<|im_end|>";
  for (size_t p = jinja.find(head); p != std::string::npos; p = jinja.find(head, p + 1)) {
    size_t b = p + head.size(), e = jinja.find(tail, b);
    if (e == std::string::npos) break;
    std::string_view body(jinja.data() + b, e - b);
    if (!body.empty() && body.find_first_of("'\"+{}") == std::string_view::npos) return unescape(body);
  }
  return "";
}

// Llama 3.1's "Today Date": the template's fixed date_string, or today's date where the template
// asks transformers' strftime_now for it (Llama 3.2).
std::string llama31_date(const std::string& jinja) {
  if (has(jinja, "strftime_now")) {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    localtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%d %b %Y", &tm);
    return buf;
  }
  const std::string key = "date_string = \"";
  size_t p = jinja.find(key);
  if (p != std::string::npos) {
    size_t b = p + key.size(), e = jinja.find('"', b);
    if (e != std::string::npos) return jinja.substr(b, e - b);
  }
  return "26 Jul 2024";
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool ends_with(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}
std::string_view lstrip_nl(std::string_view s) {
  while (!s.empty() && s.front() == '\n') s.remove_prefix(1);
  return s;
}
std::string_view rstrip_nl(std::string_view s) {
  while (!s.empty() && s.back() == '\n') s.remove_suffix(1);
  return s;
}

}  // namespace

ChatTemplate ChatTemplate::detect(const std::string& jinja, bool vocab_has_im_start, bool vocab_has_header,
                                  const std::string& bos) {
  ChatTemplate t;
  t.bos_ = bos.empty() ? "<|begin_of_text|>" : bos;
  if (jinja.empty()) {
    if (vocab_has_im_start) t.kind_ = Kind::ChatML;
    else if (vocab_has_header) t.kind_ = Kind::Llama3;
    return t;
  }
  if (has(jinja, "<|im_start|>")) {
    // Qwen3's template moves reasoning into <think> blocks; Qwen2/2.5 are plain ChatML.
    t.kind_ = has(jinja, "</think>") ? Kind::Qwen3 : Kind::ChatML;
    if (t.kind_ == Kind::ChatML) t.default_system_ = chatml_default_system(jinja);
  } else if (has(jinja, "<|start_header_id|>")) {
    t.kind_ = has(jinja, "Cutting Knowledge Date") ? Kind::Llama31 : Kind::Llama3;
    if (t.kind_ == Kind::Llama31) t.date_ = llama31_date(jinja);
    t.always_generation_prompt_ = !has(jinja, "add_generation_prompt");
  }
  return t;
}

std::string ChatTemplate::name() const {
  switch (kind_) {
    case Kind::ChatML: return "chatml";
    case Kind::Qwen3: return "qwen3";
    case Kind::Llama3: return "llama3";
    case Kind::Llama31: return "llama3.1";
    default: return "none";
  }
}

std::string ChatTemplate::end_token() const {
  switch (kind_) {
    case Kind::ChatML:
    case Kind::Qwen3: return "<|im_end|>";
    case Kind::Llama3:
    case Kind::Llama31: return "<|eot_id|>";
    default: return "";
  }
}

std::string ChatTemplate::render(const std::vector<ChatMessage>& m, bool add_generation_prompt,
                                 const std::string& source) const {
  switch (kind_) {
    case Kind::ChatML:
    case Kind::Qwen3: return render_chatml(m, add_generation_prompt);
    case Kind::Llama3:
    case Kind::Llama31: return render_llama3(m, add_generation_prompt);
    default:
      AD_FAIL("{}: unknown chat template (supported: ChatML as in Qwen2/2.5/3, Llama 3/3.1 headers); "
              "render the prompt yourself and pass it as plain text",
              source);
  }
}

// Qwen2.5 / Qwen3 templates without tools. Qwen3: assistant turns after the last user query carry
// a <think> block (empty for the final turn when the content has none), earlier ones lose it.
std::string ChatTemplate::render_chatml(const std::vector<ChatMessage>& m, bool add_generation_prompt) const {
  std::string out;
  size_t first = 0;
  if (!m.empty() && m[0].role == "system") {
    out += "<|im_start|>system\n" + m[0].content + "<|im_end|>\n";
    first = 1;
  } else if (!default_system_.empty()) {
    out += "<|im_start|>system\n" + default_system_ + "<|im_end|>\n";
  }
  size_t last_query = m.empty() ? 0 : m.size() - 1;
  for (size_t k = m.size(); k-- > 0;) {
    const std::string& c = m[k].content;
    if (m[k].role == "user" && !(starts_with(c, "<tool_response>") && ends_with(c, "</tool_response>"))) {
      last_query = k;
      break;
    }
  }
  for (size_t i = first; i < m.size(); ++i) {
    const ChatMessage& msg = m[i];
    if (msg.role == "user" || msg.role == "system") {
      out += "<|im_start|>" + msg.role + "\n" + msg.content + "<|im_end|>\n";
    } else if (msg.role == "assistant") {
      std::string_view content = msg.content, reasoning;
      if (kind_ == Kind::Qwen3) {
        size_t close = content.rfind("</think>");
        if (close != std::string_view::npos) {
          std::string_view before = content.substr(0, content.find("</think>"));
          content = lstrip_nl(content.substr(close + 8));
          before = rstrip_nl(before);
          size_t open = before.rfind("<think>");
          reasoning = lstrip_nl(open == std::string_view::npos ? before : before.substr(open + 7));
        }
      }
      out += "<|im_start|>assistant\n";
      if (kind_ == Kind::Qwen3 && i > last_query && (i + 1 == m.size() || !reasoning.empty())) {
        out += "<think>\n";
        out += lstrip_nl(rstrip_nl(reasoning));
        out += "\n</think>\n\n";
        out += lstrip_nl(content);
      } else {
        out += content;
      }
      out += "<|im_end|>\n";
    } else if (msg.role == "tool") {
      if (i == 0 || m[i - 1].role != "tool") out += "<|im_start|>user";
      out += "\n<tool_response>\n" + msg.content + "\n</tool_response>";
      if (i + 1 == m.size() || m[i + 1].role != "tool") out += "<|im_end|>\n";
    } else {
      AD_FAIL("chat message role '{}' is not one of system, user, assistant, tool", msg.role);
    }
  }
  if (add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

// Llama 3: header blocks with trimmed content, bos before the first. Llama 3.1 always opens with a
// system block holding the knowledge-cutoff lines and the (trimmed) system message, if any.
std::string ChatTemplate::render_llama3(const std::vector<ChatMessage>& m, bool add_generation_prompt) const {
  auto block = [](const std::string& role, const std::string& content) {
    return "<|start_header_id|>" + role + "<|end_header_id|>\n\n" + content + "<|eot_id|>";
  };
  std::string out;
  size_t first = 0;
  if (kind_ == Kind::Llama31) {
    std::string system;
    if (!m.empty() && m[0].role == "system") {
      system = strip_unicode_whitespace(m[0].content);
      first = 1;
    }
    out += bos_;
    out += block("system", "Cutting Knowledge Date: December 2023\nToday Date: " + date_ + "\n\n" + system);
  }
  for (size_t i = first; i < m.size(); ++i) {
    if (kind_ == Kind::Llama3 && i == 0) out += bos_;
    out += block(m[i].role, strip_unicode_whitespace(m[i].content));
  }
  if (add_generation_prompt || always_generation_prompt_) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return out;
}

}  // namespace autodist::tokenizer
