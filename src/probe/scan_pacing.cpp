#include "probe/scan.h"

// How fast and how wide a scan goes: the rate limit, the concurrency an fd limit allows, the
// number of epoll shards.

#include <algorithm>

namespace connscope::probe {

using std::chrono::duration_cast;

Pacer::Pacer(std::optional<double> per_second) {
  if (per_second && *per_second > 0) {
    interval_ = duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / *per_second));
  }
}

bool Pacer::try_take(Clock::time_point now) {
  if (!interval_) return true;
  if (started_ && now < next_) return false;
  // From the actual start, not the scheduled one: a late poll never lets a burst through.
  next_ = now + *interval_;
  started_ = true;
  return true;
}

std::optional<Clock::time_point> Pacer::next_at() const {
  if (!interval_) return std::nullopt;
  return started_ ? next_ : Clock::time_point{};
}

std::size_t concurrency_for_fd_limit(std::size_t wanted, std::uint64_t soft_limit,
                                     std::uint64_t open_fds) {
  const std::uint64_t used = open_fds + kFdReserve;
  if (soft_limit <= used) return 0;
  return static_cast<std::size_t>(std::min<std::uint64_t>(wanted, soft_limit - used));
}

std::size_t scan_shards(std::size_t endpoints, const ScanOptions& options, unsigned cores) {
  // A rate limit, not the CPU, bounds a paced scan; one pacer keeps it exact.
  if (options.rate || cores <= 1) return 1;
  const std::size_t by_size = endpoints / kMinShardEndpoints;
  const std::size_t by_concurrency = options.concurrency / kMinShardConcurrency;
  return std::max<std::size_t>(1, std::min({std::size_t{cores}, kMaxShards, by_size, by_concurrency}));
}

}  // namespace connscope::probe
