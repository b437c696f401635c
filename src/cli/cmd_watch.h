#pragma once

#include <functional>

#include <CLI/App.hpp>

#include "cli/context.h"

namespace connscope::cli {

// Adds `watch` to the app; the returned function runs it after parsing and returns the exit
// code (-1 when another subcommand was chosen).
std::function<int()> register_watch(CLI::App& app, const GlobalOptions& global);

}  // namespace connscope::cli
