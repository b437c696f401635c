#include "core/duration.h"
#include "core/error_text.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>

#include <fmt/format.h>

namespace connscope {

namespace {

struct Unit {
  std::string_view suffix;
  std::int64_t nanos;
};

// Longest suffixes first so that "ms" is not read as "m" + "s".
constexpr std::array<Unit, 7> kUnits{{
    {"ns", 1},
    {"us", 1'000},
    {"ms", 1'000'000},
    {"s", 1'000'000'000},
    {"m", 60'000'000'000},
    {"h", 3'600'000'000'000},
    {"d", 86'400'000'000'000},
}};

}  // namespace

Result<std::chrono::nanoseconds> parse_duration(std::string_view text, std::string_view what) {
  const std::string op{what};
  auto bad = [&](Msg why) { return fail_text(fmt::format("{} \"{}\"", op, text), why); };
  if (text.empty()) return bad(Msg::in_empty_duration);

  std::size_t num_end = 0;
  while (num_end < text.size() &&
         ((text[num_end] >= '0' && text[num_end] <= '9') || text[num_end] == '.')) {
    ++num_end;
  }
  const std::string_view number = text.substr(0, num_end);
  const std::string_view suffix = text.substr(num_end);
  if (number.empty() || number == ".") {
    return bad(Msg::in_not_duration);
  }

  std::int64_t unit_nanos = 1'000'000'000;  // bare number: seconds
  if (!suffix.empty()) {
    bool found = false;
    for (const auto& u : kUnits) {
      if (suffix == u.suffix) {
        unit_nanos = u.nanos;
        found = true;
        break;
      }
    }
    if (!found) return bad(Msg::in_unknown_unit);
  }

  double value = 0;
  auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), value,
                                   std::chars_format::fixed);
  if (ec != std::errc{} || ptr != number.data() + number.size()) {
    return bad(Msg::in_not_duration);
  }
  const double nanos = value * static_cast<double>(unit_nanos);
  // 2^62 ns is about 146 years: far beyond any sensible deadline and safe to add to a clock.
  if (!std::isfinite(nanos) || nanos > 4.6e18) return bad(Msg::in_duration_too_long);
  return std::chrono::nanoseconds(static_cast<std::int64_t>(std::llround(nanos)));
}

std::string format_duration(std::chrono::nanoseconds d) {
  const std::int64_t n = d.count();
  if (n == 0) return "0s";
  // Pick the largest unit in which the value has at most three decimals.
  for (auto it = kUnits.rbegin(); it != kUnits.rend(); ++it) {
    if (it->suffix == "d") continue;  // days read badly in output; stop at hours
    const std::int64_t unit = it->nanos;
    if (n % unit == 0) return fmt::format("{}{}", n / unit, it->suffix);
    if (unit >= 1000 && n % (unit / 1000) == 0 && n >= unit) {
      std::string s = fmt::format("{:.3f}", static_cast<double>(n) / static_cast<double>(unit));
      while (s.back() == '0') s.pop_back();
      return s + std::string(it->suffix);
    }
  }
  return fmt::format("{}ns", n);
}

std::string format_elapsed(std::chrono::nanoseconds d) {
  const double ns = static_cast<double>(d.count());
  auto three = [](double v, const char* unit) {
    if (v >= 100) return fmt::format("{:.0f}{}", v, unit);
    if (v >= 10) return fmt::format("{:.1f}{}", v, unit);
    return fmt::format("{:.2f}{}", v, unit);
  };
  if (ns < 1e3) return fmt::format("{:.0f}ns", ns);
  if (ns < 1e6) return three(ns / 1e3, "us");
  if (ns < 1e9) return three(ns / 1e6, "ms");
  if (ns < 60e9) return three(ns / 1e9, "s");
  const auto s = static_cast<std::int64_t>(ns / 1e9);
  return fmt::format("{}m{:02}s", s / 60, s % 60);
}

}  // namespace connscope
