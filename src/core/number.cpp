#include "core/number.h"
#include "core/error_text.h"

#include <charconv>

#include <fmt/format.h>

namespace connscope {

Result<std::int64_t> parse_int(std::string_view text, std::string_view what, std::int64_t min,
                               std::int64_t max) {
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || ptr != text.data() + text.size() || text.empty() || v < min || v > max) {
    return fail_text(fmt::format("{} \"{}\"", what, text), Msg::in_not_whole_number,
                     {{"min", std::to_string(min)}, {"max", std::to_string(max)}});
  }
  return v;
}

}  // namespace connscope
