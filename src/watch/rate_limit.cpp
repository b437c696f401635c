#include "watch/rate_limit.h"

#include <algorithm>
#include <numeric>
#include <vector>

#include <fmt/format.h>

namespace connscope::watch {

static_assert(static_cast<std::size_t>(EventGroup::overflow) + 1 == 5, "RateLimiter::kGroups counts EventGroup's values");

void RateLimiter::close_window() {
  for (std::size_t g = 0; g < kGroups; ++g) pending_[g] += held_[g];
  held_.fill(0);
  admitted_ = 0;
  window_end_.reset();
}

bool RateLimiter::admit(time_point t, EventKind kind) {
  if (window_end_ && t >= *window_end_) close_window();
  if (!window_end_) window_end_ = t + std::chrono::seconds(1);
  if (admitted_ < per_second_) {
    ++admitted_;
    return true;
  }
  ++held_[static_cast<std::size_t>(group_of(kind))];
  ++suppressed_total_;
  return false;
}

void RateLimiter::add_held(EventGroup group, std::uint64_t n) {
  pending_[static_cast<std::size_t>(group)] += n;
  suppressed_total_ += n;
}

std::optional<std::string> RateLimiter::flush(time_point t, Lang lang) {
  if (window_end_ && t >= *window_end_) close_window();
  const std::uint64_t total = std::accumulate(pending_.begin(), pending_.end(), std::uint64_t{0});
  if (total == 0) return std::nullopt;
  // The groups with their counts, the largest first (ties in the groups' order).
  std::vector<std::size_t> order;
  for (std::size_t g = 0; g < kGroups; ++g) {
    if (pending_[g] > 0) order.push_back(g);
  }
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return pending_[a] > pending_[b]; });
  std::string groups;
  for (const std::size_t g : order) {
    if (!groups.empty()) groups += ", ";
    groups += fmt::format("{} {}", group_name(static_cast<EventGroup>(g)), pending_[g]);
  }
  pending_.fill(0);
  return tr(lang, Msg::watch_rate_limited, fmt::arg("count", total), fmt::arg("groups", groups));
}

}  // namespace connscope::watch
