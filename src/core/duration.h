#pragma once
// Durations as a person types them: "500ms", "3s", "1.5s", "1m", "2h", "250us"; a bare number
// means seconds, as in timeout(1) and curl.

#include <chrono>
#include <string>
#include <string_view>

#include "core/error.h"

namespace connscope {

// `what` names the input in the error, e.g. "--timeout".
Result<std::chrono::nanoseconds> parse_duration(std::string_view text, std::string_view what);

// The shortest exact spelling that parse_duration reads back: 1500ms -> "1.5s", 60s -> "1m".
std::string format_duration(std::chrono::nanoseconds d);
// A measured time for people, three significant digits: "87us", "4.74ms", "1.50s", "2m03s".
// Not for parsing back (format_duration is).
std::string format_elapsed(std::chrono::nanoseconds d);

}  // namespace connscope
