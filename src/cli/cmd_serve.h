#pragma once

#include <functional>

#include <CLI/App.hpp>

#include "cli/context.h"

namespace connscope::cli {

// Adds `serve` to the app; the returned function runs it after parsing and returns the exit code.
std::function<int()> register_serve(CLI::App& app, const GlobalOptions& global);

}  // namespace connscope::cli
