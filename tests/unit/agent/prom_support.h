#pragma once
// Prometheus support for the agent's unit tests: a metric family by name, and `promtool check
// metrics` (Debian's prometheus package). Under CI a missing promtool fails the test; elsewhere
// it is skipped with the reason.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "agent/prometheus.h"

namespace connscope::agent::prom_support {

inline const prom::MetricFamily* find_family(const std::vector<prom::MetricFamily>& fs, const std::string& name) {
  for (const auto& f : fs) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

inline std::optional<std::string> find_on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return std::nullopt;
  std::stringstream dirs(path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    const std::string candidate = dir + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

struct Checked {
  int status = -1;  // promtool's exit status
  std::string output;
};

// Reads the page on stdin and prints lint problems.
inline Checked promtool_check(const std::string& promtool, const std::string& page) {
  const auto file = std::filesystem::temp_directory_path() /
                    ("connscope_promtool_" + std::to_string(::getpid()) + ".txt");
  {
    std::ofstream out(file, std::ios::binary);
    out << page;
  }
  Checked c;
  const std::string cmd = "'" + promtool + "' check metrics < '" + file.string() + "' 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p != nullptr) {
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) c.output.append(buf, n);
    const int raw = ::pclose(p);
    c.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  }
  std::filesystem::remove(file);
  return c;
}

}  // namespace connscope::agent::prom_support

// Sets `var` to promtool's path, or fails (CI) or skips the calling test.
#define CONNSCOPE_REQUIRE_PROMTOOL(var)                                                              \
  const auto var = ::connscope::agent::prom_support::find_on_path("promtool");                          \
  if (!var) {                                                                                      \
    const char* ci_ = std::getenv("CI");                                                           \
    if (ci_ != nullptr && std::string(ci_) == "true") {                                            \
      FAIL() << "promtool is not on PATH (Debian package prometheus; scripts/install-deps)";       \
    }                                                                                              \
    GTEST_SKIP() << "promtool is not on PATH: install Debian's prometheus package to run this";    \
  }
