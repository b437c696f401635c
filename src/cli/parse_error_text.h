#pragma once
// CLI11's parse errors in the reader's language: the kinds a person meets (an argument too many,
// a required one missing, an option without its value, a value that does not convert, options
// that need or exclude each other) are said from the catalog with the names CLI11 put in its
// English; any other is CLI11's own text.

#include <string>

#include <CLI/Error.hpp>

#include "core/text.h"

namespace connscope::cli {

// The error's line, without the "connscope: " prefix and the help hint.
std::string parse_error_text(Lang lang, const CLI::ParseError& e);

}  // namespace connscope::cli
