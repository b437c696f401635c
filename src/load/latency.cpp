#include "load/latency.h"

#include <algorithm>
#include <cmath>

#include <boost/histogram.hpp>

namespace connscope::load {

namespace {

namespace bh = boost::histogram;
using LogAxis = bh::axis::regular<double, bh::axis::transform::log>;

constexpr unsigned kBins = 8 * 70;  // 1 µs .. 100 s, 70 a decade
constexpr double kLowUs = 1;
constexpr double kHighUs = 1e8;

}  // namespace

struct LatencyHistogram::Impl {
  decltype(bh::make_histogram(LogAxis(kBins, kLowUs, kHighUs))) h =
      bh::make_histogram(LogAxis(kBins, kLowUs, kHighUs));
};

LatencyHistogram::LatencyHistogram() : impl_(std::make_unique<Impl>()) {}
LatencyHistogram::~LatencyHistogram() = default;
LatencyHistogram::LatencyHistogram(LatencyHistogram&&) noexcept = default;
LatencyHistogram& LatencyHistogram::operator=(LatencyHistogram&&) noexcept = default;

void LatencyHistogram::add(std::chrono::microseconds v) {
  // Below 1 µs goes to the underflow bin, at or above 100 s to the overflow bin: both counted.
  impl_->h(static_cast<double>(std::max<std::int64_t>(v.count(), 0)));
  ++count_;
  max_ = std::max(max_, v);
}

std::optional<std::chrono::microseconds> LatencyHistogram::quantile(double q) const {
  if (count_ == 0) return std::nullopt;
  const auto want = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_)));
  std::uint64_t seen = 0;
  for (auto&& bin : bh::indexed(impl_->h, bh::coverage::all)) {
    seen += static_cast<std::uint64_t>(*bin);
    if (seen >= std::max<std::uint64_t>(want, 1)) {
      const int i = bin.index();
      // The underflow bin's edge is 1 µs; the overflow bin has none but the largest value.
      const double upper = i < 0 ? kLowUs : i >= static_cast<int>(kBins) ? static_cast<double>(max_.count())
                                                                          : bin.bin().upper();
      const auto edge = std::chrono::microseconds(static_cast<std::int64_t>(std::ceil(upper)));
      return std::min(edge, max_);
    }
  }
  return max_;
}

LatencySummary LatencyHistogram::summary() const {
  LatencySummary s;
  s.count = count_;
  if (count_ == 0) return s;
  s.p50 = quantile(0.5);
  s.p90 = quantile(0.9);
  s.p99 = quantile(0.99);
  s.p999 = quantile(0.999);
  s.max = max_;
  return s;
}

}  // namespace connscope::load
