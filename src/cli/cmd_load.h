#pragma once

#include <functional>

#include "cli/context.h"

// Declared, not included: CLI11 is a large header-only library; the command's .cpp and main.cpp
// include it.
namespace CLI {
class App;
}  // namespace CLI

namespace connscope::cli {

// Adds `load` to the app; the returned function runs it after parsing and returns the exit
// code (-1 when another subcommand was chosen).
std::function<int()> register_load(CLI::App& app, const GlobalOptions& global);

}  // namespace connscope::cli
