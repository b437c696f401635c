#pragma once
// What every subcommand gets: the global options, already validated, and the output streams.
// Only src/cli prints; everything below returns values.

#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/exit_code.h"
#include "core/text.h"

namespace connscope::cli {

struct GlobalOptions {
  bool json = false;
  bool color = false;  // decided from --no-color, NO_COLOR and whether stdout is a terminal
  std::chrono::nanoseconds timeout = std::chrono::seconds(3);
  bool timeout_given = false;  // --timeout was on the command line (a command may default otherwise)
  Lang lang = Lang::en;
  int verbose = 0;
};

// ANSI styling that collapses to nothing when colour is off.
struct Style {
  bool on = false;
  [[nodiscard]] std::string bold(std::string_view s) const { return wrap("1", s); }
  [[nodiscard]] std::string red(std::string_view s) const { return wrap("31", s); }
  [[nodiscard]] std::string green(std::string_view s) const { return wrap("32", s); }
  [[nodiscard]] std::string yellow(std::string_view s) const { return wrap("33", s); }
  [[nodiscard]] std::string dim(std::string_view s) const { return wrap("2", s); }

 private:
  [[nodiscard]] std::string wrap(const char* code, std::string_view s) const {
    if (!on) return std::string(s);
    return std::string("\x1b[") + code + "m" + std::string(s) + "\x1b[0m";
  }
};

// Colour only on a terminal, never with NO_COLOR (any value, per no-color.org) or --no-color,
// never on TERM=dumb.
bool decide_color(bool no_color_flag, int fd);

// Prints `connscope: <message>` on stderr as one line and returns the exit code to use.
int report(const GlobalOptions& g, const Error& e, ExitCode code);

}  // namespace connscope::cli
