#include "probe/scan.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace connscope::probe {
namespace {

using namespace std::chrono_literals;

QueuedError icmp(ErrOrigin origin, std::uint8_t type, std::uint8_t code, int err,
                 const char* from) {
  QueuedError q;
  q.origin = origin;
  q.type = type;
  q.code = code;
  q.error = err;
  q.offender = from;
  return q;
}

TEST(ScanClassification, MatchesTheConnectStageForEveryEnding) {
  struct Case {
    const char* name;
    int error;
    bool timed_out;
    std::optional<QueuedError> queued;
    ConnectFailure failure;
    ScanState state;
    std::string reason;
  };
  const auto v4 = ErrOrigin::icmp;
  const auto v6 = ErrOrigin::icmp6;
  const std::vector<Case> cases{
      {"connected", 0, false, std::nullopt, ConnectFailure::none, ScanState::open, "syn-ack"},
      {"reset after the handshake", ECONNRESET, false, std::nullopt, ConnectFailure::none,
       ScanState::open, "reset-after-handshake"},
      {"RST", ECONNREFUSED, false, std::nullopt, ConnectFailure::refused, ScanState::closed,
       "conn-refused"},
      {"silence", 0, true, std::nullopt, ConnectFailure::filtered, ScanState::filtered, "no-response"},
      {"v4 port unreachable", ECONNREFUSED, false, icmp(v4, 3, 3, ECONNREFUSED, "198.18.2.2"),
       ConnectFailure::rejected_icmp, ScanState::unreachable, "port-unreachable"},
      {"v4 admin prohibited", EHOSTUNREACH, false, icmp(v4, 3, 13, EHOSTUNREACH, "198.18.2.2"),
       ConnectFailure::admin_prohibited, ScanState::unreachable, "admin-prohibited"},
      {"v4 host prohibited", EHOSTUNREACH, false, icmp(v4, 3, 10, EHOSTUNREACH, "198.18.2.2"),
       ConnectFailure::admin_prohibited, ScanState::unreachable, "host-prohibited"},
      {"v4 host unreachable", EHOSTUNREACH, false, icmp(v4, 3, 1, EHOSTUNREACH, "198.18.1.1"),
       ConnectFailure::host_unreachable, ScanState::unreachable, "host-unreachable"},
      {"v4 net unreachable", ENETUNREACH, false, icmp(v4, 3, 0, ENETUNREACH, "198.18.1.1"),
       ConnectFailure::host_unreachable, ScanState::unreachable, "net-unreachable"},
      {"v4 time exceeded", EHOSTUNREACH, false, icmp(v4, 11, 0, EHOSTUNREACH, "198.18.1.1"),
       ConnectFailure::host_unreachable, ScanState::unreachable, "time-exceeded"},
      {"v6 port unreachable", ECONNREFUSED, false, icmp(v6, 1, 4, ECONNREFUSED, "2001:db8:2::2"),
       ConnectFailure::rejected_icmp, ScanState::unreachable, "port-unreachable"},
      {"v6 admin prohibited", EACCES, false, icmp(v6, 1, 1, EACCES, "2001:db8:2::2"),
       ConnectFailure::admin_prohibited, ScanState::unreachable, "admin-prohibited"},
      {"v6 address unreachable", EHOSTUNREACH, false, icmp(v6, 1, 3, EHOSTUNREACH, "2001:db8:1::1"),
       ConnectFailure::host_unreachable, ScanState::unreachable, "addr-unreachable"},
      {"soft ICMP kept until the deadline", 0, true, icmp(v4, 3, 1, EHOSTUNREACH, "198.18.1.1"),
       ConnectFailure::host_unreachable, ScanState::unreachable, "host-unreachable"},
      {"frag-needed at the deadline is still silence", 0, true, icmp(v4, 3, 4, EMSGSIZE, "198.18.2.2"),
       ConnectFailure::filtered, ScanState::filtered, "no-response"},
      {"no route here", ENETUNREACH, false, std::nullopt, ConnectFailure::no_route,
       ScanState::unreachable, "no-route"},
      {"local firewall", EPERM, false, std::nullopt, ConnectFailure::admin_prohibited,
       ScanState::unreachable, "local-firewall"},
      {"no local port", EADDRNOTAVAIL, false, std::nullopt, ConnectFailure::local_port_exhaustion,
       ScanState::error, "local-port-exhaustion"},
      {"something else", EINVAL, false, std::nullopt, ConnectFailure::other, ScanState::error, "error"},
  };
  for (const auto& c : cases) {
    const ScanVerdict v = scan_verdict(c.error, c.timed_out, c.queued);
    EXPECT_EQ(v.failure, c.failure) << c.name;
    EXPECT_EQ(scan_state(v.failure), c.state) << c.name;
    EXPECT_EQ(scan_reason(v.failure, v.reset_after_handshake, c.queued), c.reason) << c.name;
  }
}

TEST(ScanClassification, StateNames) {
  EXPECT_EQ(scan_state_name(ScanState::open), "open");
  EXPECT_EQ(scan_state_name(ScanState::closed), "closed");
  EXPECT_EQ(scan_state_name(ScanState::filtered), "filtered");
  EXPECT_EQ(scan_state_name(ScanState::unreachable), "unreachable");
  EXPECT_EQ(scan_state_name(ScanState::error), "error");
}

TEST(Pacer, WithoutARateAllowsEverything) {
  Pacer p(std::nullopt);
  const Clock::time_point t{};
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(p.try_take(t));
  EXPECT_FALSE(p.next_at());
}

TEST(Pacer, SpacesStartsOneIntervalApartFromTheActualStart) {
  Pacer p(100.0);  // 10 ms
  const Clock::time_point t0 = Clock::time_point{} + 1h;
  EXPECT_TRUE(p.try_take(t0));
  EXPECT_EQ(*p.next_at(), t0 + 10ms);
  EXPECT_FALSE(p.try_take(t0));
  EXPECT_FALSE(p.try_take(t0 + 9999us));
  EXPECT_TRUE(p.try_take(t0 + 10ms));
  // A late poll (after a stall) allows one start, not a burst that catches up.
  EXPECT_TRUE(p.try_take(t0 + 500ms));
  EXPECT_FALSE(p.try_take(t0 + 500ms));
  EXPECT_FALSE(p.try_take(t0 + 509ms));
  EXPECT_TRUE(p.try_take(t0 + 510ms));
}

TEST(Pacer, NoOneSecondWindowSeesMoreThanTheRate) {
  // Polled every 0.7 ms with jitter: starts per sliding 1 s window never exceed 250.
  Pacer p(250.0);
  std::vector<Clock::time_point> starts;
  Clock::time_point t = Clock::time_point{} + 1h;
  for (int i = 0; i < 10000; ++i) {
    t += std::chrono::microseconds(700 + (i * 7919) % 500);
    if (p.try_take(t)) starts.push_back(t);
  }
  ASSERT_GT(starts.size(), 500u);
  std::size_t lo = 0;
  for (std::size_t hi = 0; hi < starts.size(); ++hi) {
    while (starts[hi] - starts[lo] >= 1s) ++lo;
    EXPECT_LE(hi - lo + 1, 250u);
  }
}

TEST(FdLimit, ConcurrencyFitsUnderTheSoftLimit) {
  EXPECT_EQ(concurrency_for_fd_limit(1000, 1024, 4), 1000u - 12u);  // 1024 - 4 - 32 = 988
  EXPECT_EQ(concurrency_for_fd_limit(1000, 1u << 20, 4), 1000u);
  EXPECT_EQ(concurrency_for_fd_limit(1000, 256, 10), 256u - 10u - kFdReserve);
  EXPECT_EQ(concurrency_for_fd_limit(10, 36, 4), 0u);
  EXPECT_EQ(concurrency_for_fd_limit(10, 20, 4), 0u);
  EXPECT_EQ(concurrency_for_fd_limit(10, 37, 4), 1u);
}

TEST(ScanShards, OnlyUnpacedLargeScansSplit) {
  ScanOptions o;
  o.concurrency = 1000;
  EXPECT_EQ(scan_shards(65535, o, 2), 2u);
  EXPECT_EQ(scan_shards(65535, o, 8), kMaxShards);
  EXPECT_EQ(scan_shards(65535, o, 1), 1u);
  EXPECT_EQ(scan_shards(2 * kMinShardEndpoints - 1, o, 4), 1u);  // too few to be worth a thread
  EXPECT_EQ(scan_shards(3 * kMinShardEndpoints, o, 4), 3u);
  o.concurrency = 2 * kMinShardConcurrency - 1;  // each shard would get too few slots
  EXPECT_EQ(scan_shards(65535, o, 4), 1u);
  o.concurrency = 1000;
  o.rate = 500.0;  // one pacer keeps the rate exact
  EXPECT_EQ(scan_shards(65535, o, 4), 1u);
}

TEST(SetupFailure, IsAnErrorWithTheOperation) {
  const ScanResult r = setup_failure("socket", EMFILE);
  EXPECT_EQ(r.state, ScanState::error);
  EXPECT_EQ(r.failed_op, "socket");
  EXPECT_EQ(r.error, EMFILE);
  EXPECT_EQ(r.reason, "error");
}

}  // namespace
}  // namespace connscope::probe
