#pragma once
// The terminal's rate limit: when events flood, at most N lines a second are printed and the
// rest are counted, and once the second is over one line says how many were held back, by group
// ("… 160 more events in the last second (state 120, drop 40)"). JSON output is never limited
// (cmd_watch's decision). Pure: fed with times, no clock of its own. One thread.

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "core/text.h"
#include "watch/event.h"

namespace connscope::watch {

class RateLimiter {
 public:
  using time_point = std::chrono::system_clock::time_point;
  static constexpr std::uint32_t kDefaultPerSecond = 50;

  explicit RateLimiter(std::uint32_t per_second = kDefaultPerSecond) : per_second_(per_second) {}

  // Whether the event at `t` gets its line (true) or is only counted (false). A second is a window
  // that starts with the first event after the previous one ended.
  bool admit(time_point t, EventKind kind);

  // The line for what was held back in the windows that ended by `t`, if any; call it before each
  // admit() and at least once a second (the poll timeout), so that the line follows its second.
  std::optional<std::string> flush(time_point t, Lang lang);

  // Events held back before they got here (the kernel's records_per_second), to be said with
  // the next line.
  void add_held(EventGroup group, std::uint64_t n);

  // Held back since the start (for the exit summary).
  [[nodiscard]] std::uint64_t suppressed_total() const { return suppressed_total_; }

 private:
  static constexpr std::size_t kGroups = 5;  // EventGroup's values
  void close_window();

  std::uint32_t per_second_;
  std::optional<time_point> window_end_;
  std::uint32_t admitted_ = 0;
  std::array<std::uint64_t, kGroups> held_{};     // in the current window
  std::array<std::uint64_t, kGroups> pending_{};  // in windows that ended, not yet reported
  std::uint64_t suppressed_total_ = 0;
};

}  // namespace connscope::watch
