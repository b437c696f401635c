#include "cli/context.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

namespace connscope::cli {

bool decide_color(bool no_color_flag, int fd) {
  if (no_color_flag) return false;
  if (const char* nc = std::getenv("NO_COLOR"); nc != nullptr && nc[0] != '\0') return false;
  if (const char* term = std::getenv("TERM"); term != nullptr && std::strcmp(term, "dumb") == 0) {
    return false;
  }
  return ::isatty(fd) == 1;
}

int report(const GlobalOptions& g, const Error& e, ExitCode code) {
  std::string line = e.message(g.lang);
  // A message must stay one line whatever a library put into it.
  for (auto& ch : line) {
    if (ch == '\n' || ch == '\r') ch = ' ';
  }
  fmt::print(stderr, "{}\n", tr(g.lang, Msg::run_error, line));
  return static_cast<int>(code);
}

}  // namespace connscope::cli
