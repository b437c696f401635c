#pragma once
// Whole numbers from the command line, with errors that name the option and the range.

#include <cstdint>
#include <string_view>

#include "core/error.h"

namespace connscope {

Result<std::int64_t> parse_int(std::string_view text, std::string_view what, std::int64_t min,
                               std::int64_t max);

}  // namespace connscope
