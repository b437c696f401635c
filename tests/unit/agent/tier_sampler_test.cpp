// The sampler by tiers: how long the full tier waits, and what the agent's core receives from it
// (on the server's thread, the first fast sample before start returns, nothing after stop).
#include "agent/tier_sampler.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <thread>

namespace connscope::agent {
namespace {

using namespace std::chrono_literals;

TEST(TierSampler, TheFullTierStretchesItsIntervalToStayWithinItsCpuBudget) {
  // Cheap dumps keep the interval; a dump of 270 ms at 1.25 % waits 21.6 s; no budget, no stretch.
  EXPECT_EQ(full_wait(10s, 50ms, 0.0125), 10s);
  EXPECT_EQ(full_wait(10s, 125ms, 0.0125), 10s);
  EXPECT_EQ(full_wait(10s, 270ms, 0.0125), 21600ms);
  EXPECT_EQ(full_wait(10s, 270ms, 0.0), 10s);
  EXPECT_EQ(full_wait(1s, 0ms, 0.0125), 1s);
}

TierSamplerOptions intervals(std::chrono::milliseconds fast, std::chrono::milliseconds full) {
  TierSamplerOptions o;
  o.fast_interval = fast;
  o.full_interval = full;
  return o;
}

TEST(TierSampler, DescribesItselfWithTheReasonItWasGiven) {
  boost::asio::io_context io(1);
  auto o = intervals(1s, 10s);
  auto plain = TierSampler::create(io.get_executor(), o);
  ASSERT_TRUE(plain.has_value()) << plain.error().message();
  const auto info = (*plain)->info();
  EXPECT_EQ(info.kind, "tiers");
  EXPECT_EQ(info.fast_interval, 1s);
  EXPECT_EQ(info.full_interval, 10s);
  EXPECT_FALSE(info.bpf);
  EXPECT_EQ(info.bpf_off_reason, "");
  o.bpf_off_reason = "no CAP_BPF";
  auto with_reason = TierSampler::create(io.get_executor(), o);
  ASSERT_TRUE(with_reason.has_value()) << with_reason.error().message();
  EXPECT_EQ((*with_reason)->info().bpf_off_reason, "no CAP_BPF");
}

TEST(TierSampler, DeliversOnTheServersThreadAndNothingAfterStop) {
  boost::asio::io_context io(1);
  auto made = TierSampler::create(io.get_executor(), intervals(20ms, 1s));
  ASSERT_TRUE(made.has_value()) << made.error().message();
  auto& sampler = **made;
  const auto server_thread = std::this_thread::get_id();
  int fast = 0;
  int full = 0;
  int errors = 0;
  std::chrono::nanoseconds full_cpu{};
  bool elsewhere = false;
  sampler.start(SampleSink{
      .fast = [&](std::shared_ptr<const FastSample> s) {
        elsewhere |= std::this_thread::get_id() != server_thread;
        if (s) ++fast;
      },
      .full = [&](std::shared_ptr<const FullSample> s) {
        elsewhere |= std::this_thread::get_id() != server_thread;
        if (s && s->wall > 0ns) ++full;
        if (s) full_cpu = s->cpu;
      },
      .error = [&](SampleTier, const Error&) { ++errors; },
  });
  EXPECT_EQ(fast, 1);  // before start returned
  EXPECT_EQ(sampler.full_wait(), 0ms);
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while ((full == 0 || fast < 3) && std::chrono::steady_clock::now() < deadline) io.run_one_for(50ms);
  EXPECT_GE(fast, 3);
  // The first full dump comes at once, the next after full_interval.
  EXPECT_EQ(full, 1);
  EXPECT_EQ(errors, 0);
  EXPECT_FALSE(elsewhere);
  // The interval, or longer when the dump cost more than the budget (an ASan build's may).
  EXPECT_EQ(sampler.full_wait(), full_wait(1s, full_cpu, TierSamplerOptions{}.full_cpu_budget));
  EXPECT_GE(sampler.full_wait(), 1s);

  sampler.stop();
  const int fast_at_stop = fast;
  io.restart();
  io.run_for(100ms);
  EXPECT_EQ(fast, fast_at_stop);
}

}  // namespace
}  // namespace connscope::agent
