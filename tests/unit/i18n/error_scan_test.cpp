// No English outside the catalog, for errors: an Error's detail is a catalog message and its
// arguments (core/error_text.h: fail_text, error_text), said in the reader's language. This test
// reads the sources under src/ and lists every error built the old way, with a detail of free
// text (a literal sentence, fmt::format, a string from elsewhere):
//   fail(op, detail)                 every call: fail's detail is always free text
//   fail_errno(op, code, detail)     when a detail is given
//   Error{op, code, detail}          when a detail is given
// A call found here that is not in the allowlist below fails the test, and so does an allowlist
// entry that no longer matches anything (the list only shrinks). The op (first argument) is not
// judged: it names what was attempted as a token or a path ("sock_diag dump tcp", "/proc/net/tcp").

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <iostream>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace fs = std::filesystem;

struct Allowed {
  std::string_view file;     // relative to src/
  std::string_view snippet;  // a part of the call's text
};

// Details that are another library's own words (said by that library, in its language), or the
// kernel's: the catalog cannot hold them. Each names its source.
constexpr Allowed kLibraryText[] = {
    {"probe/dns.cpp", "ares_strerror(st)"},                    // c-ares
    {"probe/dns.cpp", "ares_strerror(gs)"},                    // c-ares
    {"probe/dns.cpp", "ares_strerror(ss)"},                    // c-ares
    {"probe/tls_probe.cpp", "openssl_reason(static_cast"},     // OpenSSL's reason for a handshake failure
    {"probe/tls_probe.cpp", "fail(\"SSL_CTX_new\""},           // OpenSSL
    {"probe/tls_probe.cpp", "SSL_CTX_set_cipher_list"},        // OpenSSL
    {"probe/tls_probe.cpp", "openssl_reason(ERR_get_error())}"},   // OpenSSL, configure_error
    {"probe/route.cpp", "reply->kernel_message"},              // the kernel's extended ack
    {"probe/talk.cpp", "ec.message()"},                        // Asio / OpenSSL / Beast error_code text
    {"agent/history.cpp", "std::move(detail), code"},          // SQLite's sqlite3_errmsg
    // Not a library's, but already the catalog's: an unknown --lang is said in the language of
    // the environment, before any other choice of language exists (core/locale.h).
    {"core/locale.cpp", "Msg::unknown_lang"},
};

// Not converted yet: files other changes of issue 14 rework (the doctor's options and redirects,
// trace and ICMP, the scan, serve, the agent's config and probes, the commands). Remove an entry
// when its file is converted; the test then keeps it converted.
constexpr Allowed kNotYetConverted[] = {
    {"agent/config.cpp", ""},
    {"agent/probes.cpp", ""},
    {"probe/doctor.cpp", ""},
    {"probe/icmp_echo.cpp", ""},
    {"probe/icmp_error.cpp", ""},
    {"probe/trace.cpp", ""},
    {"probe/scan.cpp", ""},
    {"probe/scan_stages.cpp", ""},
    {"probe/scan_input.cpp", ""},
    {"serve/", ""},
    {"cli/", ""},
    {"rules/", ""},
};

struct Found {
  std::string file;  // relative to src/
  int line = 0;
  std::string call;
};

// The index just past the bracket that closes the one at `open`, skipping string and character
// literals; npos when it never closes.
std::size_t skip_balanced(std::string_view s, std::size_t open) {
  int depth = 0;
  for (std::size_t i = open; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '"' || c == '\'') {
      for (++i; i < s.size() && s[i] != c; ++i)
        if (s[i] == '\\') ++i;
      continue;
    }
    if (c == '(' || c == '{' || c == '[') ++depth;
    if (c == ')' || c == '}' || c == ']') {
      if (--depth == 0) return i + 1;
    }
  }
  return std::string_view::npos;
}

// The top-level, comma-separated arguments inside the brackets of `call` (which starts with the
// opening bracket).
std::vector<std::string> arguments(std::string_view call) {
  std::vector<std::string> out(1);
  int depth = 0;
  for (std::size_t i = 1; i + 1 < call.size(); ++i) {
    const char c = call[i];
    if (c == '"' || c == '\'') {
      const std::size_t start = i;
      for (++i; i < call.size() && call[i] != c; ++i)
        if (call[i] == '\\') ++i;
      out.back() += call.substr(start, i - start + 1);
      continue;
    }
    if (c == '(' || c == '{' || c == '[') ++depth;
    if (c == ')' || c == '}' || c == ']') --depth;
    if (c == ',' && depth == 0) {
      out.emplace_back();
      continue;
    }
    out.back() += c;
  }
  return out;
}

// Is a detail argument text made here rather than a catalog message: anything but nothing
// ({}, "", std::string{})? A literal, text formatted on the spot, another library's string.
bool is_free_text(std::string arg) {
  std::erase_if(arg, [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; });
  return !(arg.empty() || arg == "{}" || arg == "\"\"" || arg == "std::string{}" || arg == "std::string()");
}

bool starts_identifier(std::string_view s, std::size_t at) {
  return at > 0 && (std::isalnum(static_cast<unsigned char>(s[at - 1])) != 0 || s[at - 1] == '_' ||
                    s[at - 1] == ':' || s[at - 1] == '.');
}

std::vector<Found> scan(const fs::path& root) {
  struct Pattern {
    std::string_view name;
    std::size_t detail_from;  // the first argument that is a detail
  };
  constexpr Pattern kPatterns[] = {{"fail(", 1}, {"fail_errno(", 2}, {"Error{", 2}};
  std::vector<Found> out;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    const auto ext = entry.path().extension();
    if (!entry.is_regular_file() || (ext != ".cpp" && ext != ".h")) continue;
    const std::string rel = entry.path().lexically_relative(root).generic_string();
    if (rel == "core/error.h") continue;  // where fail and fail_errno are defined
    std::ifstream in(entry.path());
    std::stringstream buf;
    buf << in.rdbuf();
    const std::string text = buf.str();
    for (const auto& p : kPatterns) {
      for (auto at = text.find(p.name); at != std::string::npos; at = text.find(p.name, at + 1)) {
        // fail( but not my_fail( or x.fail(; Error{ but not MyError{.
        if (p.name != "Error{" && starts_identifier(text, at)) continue;
        if (p.name == "Error{" && at > 0 &&
            (std::isalnum(static_cast<unsigned char>(text[at - 1])) != 0 || text[at - 1] == '_')) {
          continue;
        }
        const std::size_t open = at + p.name.size() - 1;
        const std::size_t close = skip_balanced(text, open);
        if (close == std::string::npos) continue;
        const auto call = std::string_view(text).substr(open, close - open);
        const auto args = arguments(call);
        bool free = false;
        for (std::size_t i = p.detail_from; i < args.size(); ++i) free = free || is_free_text(args[i]);
        if (!free) continue;
        const auto line =
            static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(at), '\n')) + 1;
        out.push_back({rel, line, std::string(p.name.substr(0, p.name.size() - 1)) + std::string(call)});
      }
    }
  }
  return out;
}

bool matches(const Allowed& a, const Found& f) {
  const bool file = a.snippet.empty() ? f.file.starts_with(a.file) : f.file == a.file;
  return file && f.call.find(a.snippet) != std::string::npos;
}

const std::vector<Found>& found() {
  static const std::vector<Found> all = scan(fs::path(CONNSCOPE_SOURCE_DIR) / "src");
  return all;
}

// With CONNSCOPE_ERROR_SCAN_LIST=1 it also prints every call found, allowed or not (to count
// what is left).
TEST(ErrorText, NoEnglishDetailsOutsideTheAllowlist) {
  const bool print_all = std::getenv("CONNSCOPE_ERROR_SCAN_LIST") != nullptr;
  std::string unlisted;
  for (const auto& f : found()) {
    if (print_all) std::cout << "src/" << f.file << ":" << f.line << ": " << f.call.substr(0, 120) << "\n";
    const auto listed = [&](const auto& list) {
      return std::any_of(std::begin(list), std::end(list), [&](const Allowed& a) { return matches(a, f); });
    };
    if (listed(kLibraryText) || listed(kNotYetConverted)) continue;
    unlisted += "\n  src/" + f.file + ":" + std::to_string(f.line) + ": " + f.call.substr(0, 160);
  }
  EXPECT_TRUE(unlisted.empty())
      << "errors with an English detail: make it a catalog message (core/text_errors.h, "
         "fail_text / error_text), or, for a library's own words, add it to kLibraryText:"
      << unlisted;
}

TEST(ErrorText, EveryAllowlistEntryStillMatches) {
  const auto check = [](const auto& list) {
    for (const Allowed& a : list) {
      const bool used = std::any_of(found().begin(), found().end(), [&](const Found& f) { return matches(a, f); });
      EXPECT_TRUE(used) << "stale allowlist entry: " << a.file << " \"" << a.snippet << "\"";
    }
  };
  check(kLibraryText);
  check(kNotYetConverted);
}

// The scanner itself: what it must catch and what it must leave alone.
TEST(ErrorText, TheScannerTellsSentencesFromTokens) {
  EXPECT_TRUE(is_free_text(" \"the dump ended early\""));
  EXPECT_TRUE(is_free_text("fmt::format(\"{} of {}\", a, b)"));
  EXPECT_TRUE(is_free_text("openssl_reason(e)"));
  EXPECT_FALSE(is_free_text(" {}"));
  EXPECT_FALSE(is_free_text(" \"\""));
  const auto args = arguments("(op, fmt::format(\"a, b\", x), \"c(\")");
  ASSERT_EQ(args.size(), 3u);
  EXPECT_EQ(args[2], " \"c(\"");
}

}  // namespace
