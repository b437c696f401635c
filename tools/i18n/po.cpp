#include "tools/i18n/po.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

namespace connscope::po {

namespace {

// The body of a "..." literal, unescaped; nullopt when `s` is not one literal.
std::optional<std::string> literal(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  if (s.size() < 2 || s.front() != '"' || s.back() != '"') return std::nullopt;
  s = s.substr(1, s.size() - 2);
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '"') return std::nullopt;  // an unescaped quote: two literals on one line
    if (c != '\\') {
      out += c;
      continue;
    }
    if (++i == s.size()) return std::nullopt;
    switch (s[i]) {
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case 'r': out += '\r'; break;
      case 'a': out += '\a'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'v': out += '\v'; break;
      case '"': out += '"'; break;
      case '\\': out += '\\'; break;
      default: return std::nullopt;
    }
  }
  return out;
}

std::string_view trim_left(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

std::map<std::string, std::string> parse_header(std::string_view text) {
  std::map<std::string, std::string> h;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    const auto line = text.substr(0, nl);
    if (const auto colon = line.find(':'); colon != std::string_view::npos) {
      h.emplace(std::string(line.substr(0, colon)), std::string(trim_left(line.substr(colon + 1))));
    }
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return h;
}

}  // namespace

ParseResult parse(std::string_view text) {
  File file;
  Entry cur;
  bool started = false;  // cur has a keyword
  bool id_seen = false;   // cur has its msgid
  bool flags_fuzzy = false;
  std::string* target = nullptr;  // where a continuation line goes
  int line_no = 0;

  auto flush = [&] {
    if (started) {
      if (cur.id.empty() && !cur.context && !cur.obsolete) {
        file.header = parse_header(cur.strs.empty() ? std::string() : cur.strs[0]);
      } else {
        file.entries.push_back(std::move(cur));
      }
    }
    cur = Entry{};
    started = false;
    id_seen = false;
    target = nullptr;
  };

  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const auto error = [&](std::string_view why) {
      return ParseResult{std::nullopt, "line " + std::to_string(line_no) + ": " + std::string(why) + ": " +
                                           std::string(line)};
    };
    if (trim_left(line).empty()) {
      flush();
      flags_fuzzy = false;
      continue;
    }
    bool obsolete = false;
    if (line.starts_with("#~")) {
      if (line.starts_with("#~|")) continue;  // an obsolete entry's previous msgid
      obsolete = true;
      line = trim_left(line.substr(2));
    } else if (line.starts_with("#,")) {
      if (line.find("fuzzy") != std::string_view::npos) flags_fuzzy = true;
      continue;
    } else if (line.starts_with("#")) {
      continue;
    }
    line = trim_left(line);
    if (line.starts_with("\"")) {
      auto s = literal(line);
      if (!s) return error("not a string");
      if (target == nullptr) return error("a string with no keyword before it");
      *target += *s;
      continue;
    }
    const auto space = line.find_first_of(" \t");
    if (space == std::string_view::npos) return error("no string after the keyword");
    const auto keyword = line.substr(0, space);
    auto value = literal(trim_left(line.substr(space)));
    if (!value) return error("not a string");
    // A msgctxt, or a second msgid, starts the next entry even without a blank line.
    if ((keyword == "msgctxt" && started) || (keyword == "msgid" && (id_seen || !cur.strs.empty()))) flush();
    if (!started) {
      cur.line = line_no;
      cur.fuzzy = flags_fuzzy;
      flags_fuzzy = false;
    }
    started = true;
    cur.obsolete = cur.obsolete || obsolete;
    if (keyword == "msgctxt") {
      cur.context = std::move(*value);
      target = &*cur.context;
    } else if (keyword == "msgid") {
      cur.id = std::move(*value);
      id_seen = true;
      target = &cur.id;
    } else if (keyword == "msgid_plural") {
      cur.id_plural = std::move(*value);
      target = &*cur.id_plural;
    } else if (keyword == "msgstr") {
      cur.strs.assign(1, std::move(*value));
      target = &cur.strs[0];
    } else if (keyword.starts_with("msgstr[") && keyword.ends_with("]")) {
      const auto index_text = keyword.substr(7, keyword.size() - 8);
      if (index_text.empty() || !std::ranges::all_of(index_text, [](char c) { return c >= '0' && c <= '9'; })) {
        return error("bad msgstr index");
      }
      const auto index = static_cast<std::size_t>(std::stoul(std::string(index_text)));
      if (index != cur.strs.size()) return error("msgstr index out of order");
      cur.strs.push_back(std::move(*value));
      target = &cur.strs.back();
    } else {
      return error("unknown keyword");
    }
  }
  flush();
  return ParseResult{std::move(file), {}};
}

Placeholders placeholders(std::string_view s) {
  Placeholders p;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '}') {
      if (i + 1 < s.size() && s[i + 1] == '}') {
        ++i;
        continue;
      }
      p.error = "a '}' with no '{' before it";
      return p;
    }
    if (s[i] != '{') continue;
    if (i + 1 < s.size() && s[i + 1] == '{') {
      ++i;
      continue;
    }
    // The replacement field up to its matching brace (a spec may nest one: {:>{width}}).
    int depth = 0;
    std::size_t j = i;
    for (; j < s.size(); ++j) {
      if (s[j] == '{') ++depth;
      if (s[j] == '}' && --depth == 0) break;
    }
    if (j == s.size()) {
      p.error = "a '{' with no '}' after it";
      return p;
    }
    std::string field(s.substr(i, j - i + 1));
    const char first = field.size() > 2 ? field[1] : '}';
    if (first == '}' || first == ':' || first == '!') {
      p.positional.push_back(std::move(field));
    } else {
      p.named.push_back(std::move(field));
    }
    i = j;
  }
  std::ranges::sort(p.named);
  return p;
}

namespace {

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += ' ';
    out += s;
  }
  return out.empty() ? "none" : out;
}

}  // namespace

std::string compare(std::string_view english, std::string_view translation) {
  const auto en = placeholders(english);
  const auto tr = placeholders(translation);
  if (!en.error.empty()) return "the English has " + en.error;
  if (!tr.error.empty()) return "the translation has " + tr.error + " (write {{ or }} for a brace)";
  if (en.named != tr.named) {
    return "named placeholders differ: English " + join(en.named) + ", translation " + join(tr.named);
  }
  if (en.positional != tr.positional) {
    return "positional placeholders differ (count and order count): English " + join(en.positional) +
           ", translation " + join(tr.positional);
  }
  if (english.ends_with('\n') != translation.ends_with('\n')) return "the final newline differs";
  return {};
}

std::vector<Problem> check(const File& file) {
  std::vector<Problem> out;
  for (const auto& e : file.entries) {
    const std::string& english = e.id_plural ? *e.id_plural : e.id;
    for (std::size_t i = 0; i < e.strs.size(); ++i) {
      if (e.strs[i].empty()) continue;
      if (auto why = compare(english, e.strs[i]); !why.empty()) {
        if (e.strs.size() > 1 || e.id_plural) why = "msgstr[" + std::to_string(i) + "]: " + why;
        out.push_back({e.line, e.context.value_or(""), std::move(why)});
      }
    }
  }
  return out;
}

std::string escape(std::string_view s) {
  std::string out;
  for (const char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default: out += c;
    }
  }
  return out;
}

namespace {

// `keyword "text"`, or for a text with inner newlines `keyword ""` and one line per piece.
std::string field(std::string_view keyword, std::string_view text) {
  const auto inner = text.find('\n');
  if (inner == std::string_view::npos || inner + 1 == text.size()) {
    std::string out(keyword);
    out += " \"";
    out += escape(text);
    out += "\"\n";
    return out;
  }
  std::string out(keyword);
  out += " \"\"\n";
  while (!text.empty()) {
    const auto nl = text.find('\n');
    const auto piece = text.substr(0, nl == std::string_view::npos ? text.size() : nl + 1);
    out += '"';
    out += escape(piece);
    out += "\"\n";
    text.remove_prefix(piece.size());
  }
  return out;
}

}  // namespace

std::string pot_entry(std::string_view context, std::string_view id, std::optional<std::string_view> id_plural,
                      std::string_view comment) {
  std::string out;
  if (!comment.empty()) out += "#. " + std::string(comment) + "\n";
  out += field("msgctxt", context);
  out += field("msgid", id);
  if (id_plural) {
    out += field("msgid_plural", *id_plural);
    out += "msgstr[0] \"\"\nmsgstr[1] \"\"\n";
  } else {
    out += "msgstr \"\"\n";
  }
  return out;
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace connscope::po
