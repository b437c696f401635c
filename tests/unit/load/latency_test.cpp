// Latency percentiles over Boost.Histogram: within one bin (3.3 %) of the exact order statistic,
// never above the largest value.
#include "load/latency.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace connscope::load {
namespace {

using std::chrono::microseconds;

TEST(LoadLatency, EmptyHasNoPercentiles) {
  const LatencyHistogram h;
  const auto s = h.summary();
  EXPECT_EQ(s.count, 0u);
  EXPECT_FALSE(s.p50);
  EXPECT_FALSE(s.max);
}

TEST(LoadLatency, PercentilesAreWithinOneBinOfTheExactValue) {
  // A long tail, as a storm with SYN retransmissions has: most near 100 µs, 1 % at 1 s, 0.1 % at 3 s.
  std::mt19937 rng(7);
  std::lognormal_distribution<double> fast(std::log(100.0), 0.5);
  std::vector<std::int64_t> values;
  LatencyHistogram h;
  for (int i = 0; i < 100'000; ++i) {
    std::int64_t v = static_cast<std::int64_t>(fast(rng)) + 1;
    if (i % 100 == 0) v = 1'000'000 + i;
    if (i % 1000 == 0) v = 3'000'000 + i;
    values.push_back(v);
    h.add(microseconds(v));
  }
  std::sort(values.begin(), values.end());
  auto exact = [&](double q) { return values[static_cast<std::size_t>(std::ceil(q * values.size())) - 1]; };
  const auto s = h.summary();
  EXPECT_EQ(s.count, 100'000u);
  for (auto [q, got] : {std::pair{0.5, *s.p50}, std::pair{0.9, *s.p90}, std::pair{0.99, *s.p99}, std::pair{0.999, *s.p999}}) {
    const double want = static_cast<double>(exact(q));
    EXPECT_GE(static_cast<double>(got.count()), want) << q;
    EXPECT_LE(static_cast<double>(got.count()), want * 1.034 + 1) << q;
  }
  EXPECT_EQ(s.max->count(), values.back());
  EXPECT_LE(s.p999->count(), s.max->count());
}

TEST(LoadLatency, OutsideTheAxisIsCountedToo) {
  LatencyHistogram h;
  h.add(microseconds(0));
  h.add(microseconds(200'000'000));  // 200 s: past the axis
  EXPECT_EQ(h.count(), 2u);
  EXPECT_EQ(h.quantile(0.5), microseconds(1));  // the underflow bin's edge
  EXPECT_EQ(h.quantile(1.0), microseconds(200'000'000));
}

}  // namespace
}  // namespace connscope::load
