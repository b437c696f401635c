#pragma once
// Latency percentiles of a storm, over Boost.Histogram: a log-scale axis from 1 µs to 100 s with
// 70 bins a decade, so a percentile is exact to 3.3 % (the bin's upper edge, never above the
// largest value seen), whatever the count. Memory is fixed (the 560 bins), so a long storm costs
// no more than a short one.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

namespace connscope::load {

struct LatencySummary {
  std::uint64_t count = 0;
  // Absent when count is 0.
  std::optional<std::chrono::microseconds> p50, p90, p99, p999, max;
};

class LatencyHistogram {
 public:
  LatencyHistogram();
  ~LatencyHistogram();
  LatencyHistogram(LatencyHistogram&&) noexcept;
  LatencyHistogram& operator=(LatencyHistogram&&) noexcept;

  void add(std::chrono::microseconds v);
  // The smallest bin edge below which at least `q` (0 < q <= 1) of the values lie, at most max.
  [[nodiscard]] std::optional<std::chrono::microseconds> quantile(double q) const;
  [[nodiscard]] LatencySummary summary() const;
  [[nodiscard]] std::uint64_t count() const { return count_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::uint64_t count_ = 0;
  std::chrono::microseconds max_{0};
};

}  // namespace connscope::load
