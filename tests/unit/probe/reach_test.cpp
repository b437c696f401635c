#include "probe/reach_result.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace connscope::probe {
namespace {

using std::chrono::microseconds;

const char* const kR1v4 = "198.18.1.1";

ProbeResult probe(std::uint16_t seq, ProbeStatus status, std::optional<int> rtt_us = {},
                  std::optional<ReachIcmpError> err = {}) {
  ProbeResult p;
  p.sequence = seq;
  p.status = status;
  if (rtt_us) p.rtt = microseconds(*rtt_us);
  p.error = std::move(err);
  if (status == ProbeStatus::send_failed) p.send_error = ENETUNREACH;
  return p;
}

ReachIcmpError icmp_err(ErrOrigin origin, std::uint8_t type, std::uint8_t code,
                        std::uint16_t seq) {
  return ReachIcmpError{origin, type, code, kR1v4, seq, 0};
}

TEST(ReachStats, Table) {
  using P = ProbeStatus;
  struct Case {
    const char* name;
    std::vector<ProbeResult> probes;
    ReachStats expected;
  };
  const std::vector<Case> cases = {
      {"all replied",
       {probe(1, P::replied, 300), probe(2, P::replied, 100), probe(3, P::replied, 201)},
       {3, 3, 0.0, microseconds(100), microseconds(200), microseconds(300)}},
      {"one lost",
       {probe(1, P::replied, 100), probe(2, P::timed_out), probe(3, P::replied, 300)},
       {3, 2, 100.0 / 3.0, microseconds(100), microseconds(200), microseconds(300)}},
      {"none", {probe(1, P::timed_out), probe(2, P::icmp_error)}, {2, 0, 100.0, {}, {}, {}}},
      {"unsent requests do not count",
       {probe(1, P::replied, 50), probe(2, P::send_failed), probe(3, P::not_sent)},
       {1, 1, 0.0, microseconds(50), microseconds(50), microseconds(50)}},
      {"nothing sent", {probe(1, P::send_failed)}, {0, 0, 0.0, {}, {}, {}}},
      {"empty", {}, {0, 0, 0.0, {}, {}, {}}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const ReachStats s = reach_stats(c.probes);
    EXPECT_EQ(s.sent, c.expected.sent);
    EXPECT_EQ(s.received, c.expected.received);
    EXPECT_DOUBLE_EQ(s.loss_percent, c.expected.loss_percent);
    EXPECT_EQ(s.rtt_min, c.expected.rtt_min);
    EXPECT_EQ(s.rtt_avg, c.expected.rtt_avg);
    EXPECT_EQ(s.rtt_max, c.expected.rtt_max);
  }
}

TEST(ClassifyReach, Table) {
  using P = ProbeStatus;
  const auto unreach = icmp_err(ErrOrigin::icmp, 3, 1, 1);
  const auto prohibited = icmp_err(ErrOrigin::icmp, 3, 13, 1);
  const auto prohibited6 = icmp_err(ErrOrigin::icmp6, 1, 1, 2);
  const auto ttl = icmp_err(ErrOrigin::icmp, 11, 0, 1);
  const auto frag = icmp_err(ErrOrigin::icmp, 3, 4, 1);
  const auto local = icmp_err(ErrOrigin::local, 0, 0, 1);
  struct Case {
    const char* name;
    std::vector<ProbeResult> probes;
    ReachOutcome expected;
  };
  const std::vector<Case> cases = {
      {"all replied", {probe(1, P::replied, 1), probe(2, P::replied, 1)}, ReachOutcome::replied},
      {"one of two", {probe(1, P::replied, 1), probe(2, P::timed_out)}, ReachOutcome::partial_loss},
      {"a reply beats an error", {probe(1, P::icmp_error, {}, unreach), probe(2, P::replied, 1)},
       ReachOutcome::partial_loss},
      {"silence", {probe(1, P::timed_out), probe(2, P::timed_out)}, ReachOutcome::no_reply},
      {"host unreachable", {probe(1, P::icmp_error, {}, unreach), probe(2, P::timed_out)},
       ReachOutcome::unreachable},
      {"time exceeded", {probe(1, P::icmp_error, {}, ttl)}, ReachOutcome::unreachable},
      {"admin prohibited", {probe(1, P::icmp_error, {}, prohibited)}, ReachOutcome::prohibited},
      {"icmpv6 admin prohibited", {probe(1, P::timed_out), probe(2, P::icmp_error, {}, prohibited6)},
       ReachOutcome::prohibited},
      {"the first ending error decides",
       {probe(1, P::icmp_error, {}, frag), probe(2, P::icmp_error, {}, unreach),
        probe(3, P::icmp_error, {}, prohibited)},
       ReachOutcome::unreachable},
      {"frag needed alone says nothing about reachability", {probe(1, P::icmp_error, {}, frag)},
       ReachOutcome::no_reply},
      {"a local error alone neither", {probe(1, P::icmp_error, {}, local)}, ReachOutcome::no_reply},
      {"nothing left this host", {probe(1, P::send_failed), probe(2, P::send_failed)},
       ReachOutcome::send_failed},
      {"some left", {probe(1, P::send_failed), probe(2, P::timed_out)}, ReachOutcome::no_reply},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(reach_outcome_name(classify_reach(c.probes)), reach_outcome_name(c.expected));
  }
}

TEST(ReachNames, OutcomesMethodsStatuses) {
  const std::vector<std::tuple<ReachOutcome, std::string_view, std::optional<std::string_view>>>
      outcomes = {
          {ReachOutcome::replied, "replied", std::nullopt},
          {ReachOutcome::partial_loss, "partial_loss", "path.loss"},
          {ReachOutcome::no_reply, "no_reply", std::nullopt},
          {ReachOutcome::unreachable, "unreachable", "net.host_unreachable"},
          {ReachOutcome::prohibited, "prohibited", "net.admin_prohibited"},
          {ReachOutcome::unavailable, "unavailable", std::nullopt},
          {ReachOutcome::send_failed, "send_failed", std::nullopt},
          {ReachOutcome::error, "error", std::nullopt},
      };
  for (const auto& [outcome, name, finding] : outcomes) {
    EXPECT_EQ(reach_outcome_name(outcome), name);
    EXPECT_EQ(reach_finding_id(outcome), finding) << name;
  }
  EXPECT_EQ(reach_method_name(ReachMethod::ping_socket), "ping_socket");
  EXPECT_EQ(reach_method_name(ReachMethod::raw_socket), "raw_socket");
  EXPECT_EQ(reach_method_name(ReachMethod::unavailable), "unavailable");
  EXPECT_EQ(probe_status_name(ProbeStatus::replied), "replied");
  EXPECT_EQ(probe_status_name(ProbeStatus::icmp_error), "icmp_error");
  EXPECT_EQ(probe_status_name(ProbeStatus::timed_out), "timed_out");
  EXPECT_EQ(probe_status_name(ProbeStatus::send_failed), "send_failed");
  EXPECT_EQ(probe_status_name(ProbeStatus::not_sent), "not_sent");
}

}  // namespace
}  // namespace connscope::probe
