#include "watch/census.h"

#include <gtest/gtest.h>

namespace connscope::watch {
namespace {

using namespace inspect::tcp_state;

std::size_t at(int from, int to) { return static_cast<std::size_t>(from) * kTcpStates + static_cast<std::size_t>(to); }

const auto kT0 = std::chrono::system_clock::time_point(std::chrono::seconds(1000));

TEST(Census, BirthsMovesAndDeathsFollowTheTransitions) {
  DumpCensus dump;
  dump.full[kListen] = 1;
  dump.full[kEstablished] = 5;
  Transitions base{};
  base[at(kClose, kSynSent)] = 100;  // before the dump: already in it
  Census c(dump, base, kT0);

  Transitions now = base;
  now[at(kClose, kSynSent)] += 2;        // two connects
  now[at(kSynSent, kEstablished)] += 2;  // both established
  now[at(kListen, kSynRecv)] += 2;       // their server ends: children of the listener
  now[at(kSynRecv, kEstablished)] += 2;
  now[at(kEstablished, kFinWait1)] += 1;  // one closes
  now[at(kFinWait1, kFinWait2)] += 1;
  now[at(kFinWait2, kClose)] += 1;       // into TIME_WAIT: a death of the full socket
  now[at(kEstablished, kCloseWait)] += 1;
  now[at(kCloseWait, kLastAck)] += 1;
  now[at(kLastAck, kClose)] += 1;
  c.advance(now, 1);

  const auto s = c.states();
  EXPECT_EQ(s[kListen], 1);  // a child does not take its listener away
  EXPECT_EQ(s[kEstablished], 5 + 2 + 2 - 1 - 1);
  EXPECT_EQ(s[kSynSent], 0);
  EXPECT_EQ(s[kSynRecv], 0);
  EXPECT_EQ(s[kFinWait1], 0);
  EXPECT_EQ(s[kFinWait2], 0);
  EXPECT_EQ(s[kCloseWait], 0);
  EXPECT_EQ(s[kLastAck], 0);
  EXPECT_EQ(s[kTimeWait], 1);  // sockstat's gauge
  EXPECT_EQ(s[kClose], 0);
}

TEST(Census, NotExactOnceTheKernelSkippedAStateChangeUntilTheNextDump) {
  DumpCensus dump;
  dump.full[kListen] = 1;
  Census c(dump, Transitions{}, kT0, 7);  // skipped before the dump: the dump has them
  EXPECT_TRUE(c.exact());
  Transitions now{};
  now[at(kClose, kSynSent)] = 1;
  c.advance(now, 0, 7);
  EXPECT_TRUE(c.exact());
  c.advance(now, 0, 9);  // two skipped: their transitions are in no counter
  EXPECT_FALSE(c.exact());
  EXPECT_EQ(c.missed_since_dump(), 2U);
  DumpCensus fresh;
  fresh.full[kListen] = 1;
  fresh.full[kSynSent] = 1;
  EXPECT_TRUE(c.check(fresh, now, kT0, 9).empty());
  EXPECT_TRUE(c.exact());  // the dump is the new base
}

TEST(Census, RequestSocketsComeFromTheLastDumpAndTimewaitFromSockstat) {
  DumpCensus dump;
  dump.requests = 7;
  dump.time_wait = 3;
  dump.full[kSynRecv] = 1;
  Census c(dump, Transitions{}, kT0);
  EXPECT_EQ(c.states()[kSynRecv], 8);
  EXPECT_EQ(c.states()[kTimeWait], 3);
  c.advance(Transitions{}, 40);
  EXPECT_EQ(c.states()[kTimeWait], 40);
  EXPECT_EQ(c.states()[kSynRecv], 8);
  EXPECT_EQ(c.requests_as_of(), kT0);
}

TEST(Census, ACounterThatWentBackAddsNothing) {
  DumpCensus dump;
  dump.full[kEstablished] = 4;
  Transitions base{};
  base[at(kEstablished, kClose)] = 10;
  Census c(dump, base, kT0);
  Transitions now{};  // reloaded programs: every counter back at 0
  c.advance(now, 0);
  EXPECT_EQ(c.states()[kEstablished], 4);
  now[at(kEstablished, kClose)] = 1;
  c.advance(now, 0);
  EXPECT_EQ(c.states()[kEstablished], 3);
}

TEST(Census, ACheckListsTheDriftAndRebasesOnTheDump) {
  DumpCensus dump;
  dump.full[kEstablished] = 10;
  Census c(dump, Transitions{}, kT0);
  Transitions now{};
  now[at(kEstablished, kClose)] = 2;
  c.advance(now, 0);

  DumpCensus fresh;
  fresh.full[kEstablished] = 9;  // one death was missed
  fresh.requests = 2;
  const auto later = kT0 + std::chrono::minutes(10);
  const auto drift = c.check(fresh, now, later);
  ASSERT_EQ(drift.size(), 1U);
  EXPECT_EQ(drift[0].state, kEstablished);
  EXPECT_EQ(drift[0].census, 8);
  EXPECT_EQ(drift[0].dump, 9);
  EXPECT_EQ(c.states()[kEstablished], 9);
  EXPECT_EQ(c.states()[kSynRecv], 2);
  EXPECT_EQ(c.requests_as_of(), later);

  // No drift when they agree.
  EXPECT_TRUE(c.check(fresh, now, later).empty());
}

TEST(Census, CountSocketSortsFullTimewaitAndRequestSockets) {
  DumpCensus d;
  inspect::SocketRecord r;
  r.state = kEstablished;
  count_socket(d, r);
  r.kind = inspect::SocketKind::time_wait;
  r.state = kFinWait2;  // a timewait minisocket in its FIN_WAIT2 substate
  count_socket(d, r);
  r.kind = inspect::SocketKind::request;
  r.state = kSynRecv;
  count_socket(d, r);
  EXPECT_EQ(d.full[kEstablished], 1);
  EXPECT_EQ(d.full[kFinWait2], 0);
  EXPECT_EQ(d.time_wait, 1);
  EXPECT_EQ(d.requests, 1);
}

}  // namespace
}  // namespace connscope::watch
