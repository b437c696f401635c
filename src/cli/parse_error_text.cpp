#include "cli/parse_error_text.h"

#include <regex>

namespace connscope::cli {

namespace {

// The parts of CLI11's English (CLI/Error.hpp of Debian 12's CLI11 2.3) that name things.
std::optional<std::smatch> match(const std::string& text, const char* pattern) {
  std::smatch m;
  if (std::regex_match(text, m, std::regex(pattern))) return m;
  return std::nullopt;
}

std::size_t words(const std::string& s) {
  std::size_t n = 0;
  bool in_word = false;
  for (const char c : s) {
    if (c == ' ') {
      in_word = false;
    } else if (!in_word) {
      in_word = true;
      ++n;
    }
  }
  return n;
}

}  // namespace

std::string parse_error_text(Lang lang, const CLI::ParseError& e) {
  std::string what = e.what();
  for (auto& ch : what) {
    if (ch == '\n') ch = ' ';
  }
  if (dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr) {
    if (auto m = match(what, "The following arguments? (?:was|were) not expected: (.*)")) {
      const std::string args = (*m)[1];
      return trn(lang, Msg::cli_unexpected_args, words(args), fmt::arg("args", args));
    }
  } else if (dynamic_cast<const CLI::RequiredError*>(&e) != nullptr) {
    if (auto m = match(what, "(\\S+) is required")) return tr(lang, Msg::cli_required, fmt::arg("name", (*m)[1].str()));
  } else if (dynamic_cast<const CLI::ArgumentMismatch*>(&e) != nullptr) {
    if (auto m = match(what, "(\\S+): [0-9]+ required (\\S+) missing")) {
      return tr(lang, Msg::cli_value_missing, fmt::arg("option", (*m)[1].str()), fmt::arg("type", (*m)[2].str()));
    }
  } else if (dynamic_cast<const CLI::ConversionError*>(&e) != nullptr) {
    if (auto m = match(what, "Could not convert: (\\S+) = (.*)")) {
      return tr(lang, Msg::cli_not_convertible, fmt::arg("option", (*m)[1].str()), fmt::arg("value", (*m)[2].str()));
    }
  } else if (dynamic_cast<const CLI::RequiresError*>(&e) != nullptr) {
    if (auto m = match(what, "(\\S+) requires (\\S+)")) {
      return tr(lang, Msg::cli_requires, fmt::arg("option", (*m)[1].str()), fmt::arg("other", (*m)[2].str()));
    }
  } else if (dynamic_cast<const CLI::ExcludesError*>(&e) != nullptr) {
    if (auto m = match(what, "(\\S+) excludes (\\S+)")) {
      return tr(lang, Msg::cli_excludes, fmt::arg("option", (*m)[1].str()), fmt::arg("other", (*m)[2].str()));
    }
  }
  return what;
}

}  // namespace connscope::cli
