#pragma once

#include <functional>

#include "cli/context.h"

// Declared, not included: CLI11 is a large header-only library; the command's .cpp and main.cpp
// include it.
namespace CLI {
class App;
}  // namespace CLI

namespace connscope::cli {

// Adds `inspect`; the returned function runs it after parsing (-1 when not chosen).
std::function<int()> register_inspect(CLI::App& app, const GlobalOptions& global);

}  // namespace connscope::cli
