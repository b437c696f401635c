#include "watch/rate_limit.h"

#include <gtest/gtest.h>

namespace connscope::watch {
namespace {

using namespace std::chrono;
using tp = system_clock::time_point;

const tp kStart = tp(seconds(1'800'000'000));

tp at(milliseconds ms) { return kStart + ms; }

TEST(RateLimit, UnderTheLimitEverythingIsPrintedAndNothingIsSaid) {
  RateLimiter r(50);
  for (int i = 0; i < 50; ++i) EXPECT_TRUE(r.admit(at(milliseconds(i * 10)), EventKind::state)) << i;
  EXPECT_FALSE(r.flush(at(milliseconds(1500)), Lang::en).has_value());
  EXPECT_EQ(r.suppressed_total(), 0u);
}

TEST(RateLimit, AFloodPrintsNAndCountsTheRestByGroup) {
  RateLimiter r(50);
  int printed = 0;
  // 210 events in 0.7 s: 160 state changes then 50 drops.
  for (int i = 0; i < 210; ++i) {
    const auto kind = i < 160 ? EventKind::state : EventKind::drop;
    if (r.admit(at(milliseconds(i * 700 / 210)), kind)) ++printed;
  }
  EXPECT_EQ(printed, 50);
  // Not before the second is over.
  EXPECT_FALSE(r.flush(at(milliseconds(999)), Lang::en).has_value());
  const auto line = r.flush(at(milliseconds(1000)), Lang::en);
  ASSERT_TRUE(line.has_value());
  EXPECT_EQ(*line, "… 160 more events in the last second (state 110, drop 50)");
  EXPECT_EQ(r.suppressed_total(), 160u);
  // Said once.
  EXPECT_FALSE(r.flush(at(milliseconds(1100)), Lang::en).has_value());
}

TEST(RateLimit, TheNextSecondStartsAfresh) {
  RateLimiter r(2);
  EXPECT_TRUE(r.admit(at(milliseconds(0)), EventKind::reset_sent));
  EXPECT_TRUE(r.admit(at(milliseconds(1)), EventKind::reset_sent));
  EXPECT_FALSE(r.admit(at(milliseconds(2)), EventKind::reset_received));
  EXPECT_FALSE(r.admit(at(milliseconds(3)), EventKind::retransmit));
  // The caller forgot to flush: the next event still opens a new window, and the held-back
  // counts wait for the next flush.
  EXPECT_TRUE(r.admit(at(milliseconds(1200)), EventKind::accept_overflow));
  EXPECT_TRUE(r.admit(at(milliseconds(1201)), EventKind::syn_queue_drop));
  EXPECT_FALSE(r.admit(at(milliseconds(1202)), EventKind::accept_overflow));
  EXPECT_EQ(*r.flush(at(milliseconds(2300)), Lang::en),
            "… 3 more events in the last second (reset 1, retransmit 1, overflow 1)");
}

TEST(RateLimit, EqualCountsKeepTheGroupsOrder) {
  RateLimiter r(0);
  EXPECT_FALSE(r.admit(at(milliseconds(0)), EventKind::drop));
  EXPECT_FALSE(r.admit(at(milliseconds(1)), EventKind::state));
  EXPECT_EQ(*r.flush(at(seconds(1)), Lang::en), "… 2 more events in the last second (state 1, drop 1)");
}

TEST(RateLimit, WhatTheKernelHeldBackIsSaidWithTheRest) {
  RateLimiter r(1);
  EXPECT_TRUE(r.admit(at(milliseconds(0)), EventKind::state));
  EXPECT_FALSE(r.admit(at(milliseconds(10)), EventKind::state));
  r.add_held(EventGroup::state, 900);
  r.add_held(EventGroup::reset, 3);
  EXPECT_EQ(*r.flush(at(seconds(1)), Lang::en), "… 904 more events in the last second (state 901, reset 3)");
  EXPECT_EQ(r.suppressed_total(), 904u);
  EXPECT_FALSE(r.flush(at(seconds(2)), Lang::en).has_value());
}

}  // namespace
}  // namespace connscope::watch
