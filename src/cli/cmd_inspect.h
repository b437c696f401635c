#pragma once

#include <functional>

#include <CLI/App.hpp>

#include "cli/context.h"

namespace connscope::cli {

// Adds `inspect`; the returned function runs it after parsing (-1 when not chosen).
std::function<int()> register_inspect(CLI::App& app, const GlobalOptions& global);

}  // namespace connscope::cli
