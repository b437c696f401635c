// The agent's samples as history series and its findings as observations.
#include "agent/history_series.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace connscope::agent {
namespace {

std::map<std::string, double> as_map(const std::vector<SeriesValue>& v) {
  std::map<std::string, double> m;
  for (const auto& s : v) EXPECT_TRUE(m.emplace(s.series, s.value).second) << "twice: " << s.series;
  return m;
}

TEST(HistorySeries, NamesEscapeTheLabelValue) {
  EXPECT_EQ(series_name("listen_queue", "listener", "[::]:80"), R"(listen_queue{listener="[::]:80"})");
  EXPECT_EQ(series_name("x", "l", "a\"b\\c\nd"), R"(x{l="a\"b\\c\nd"})");
}

TEST(HistorySeries, FastSample) {
  FastSample s;
  sys::SocketSummary sum;
  sum.v4.tcp_inuse = 10;
  sum.v4.tcp_tw = 3;
  sum.v4.tcp_orphan = 1;
  sys::Sockstat6 v6;
  v6.tcp6_inuse = 5;
  sum.v6 = v6;
  s.sockstat = sum;
  s.counters["Tcp.CurrEstab"] = 7;
  sys::CounterRates rates;
  auto& overflows = rates.by_counter[static_cast<std::size_t>(sys::RateCounter::listen_overflows)];
  overflows.status = sys::RateStatus::ok;
  overflows.per_second = 2.5;
  s.rates = rates;  // the others are not ok: left out
  inspect::ListenerRow l;
  l.local = Endpoint{AF_INET, "0.0.0.0", 80};
  l.accept_queue = 4;
  l.accept_queue_limit = 128;
  s.listeners.push_back(l);
  const ListenerSeriesGate all({std::chrono::milliseconds(0), 1024});
  ListenerSeriesGate gate = all;
  gate.update(s.listeners, HistoryTime{});
  const auto m = as_map(fast_series(s, gate));
  const std::map<std::string, double> want{
      {"tcp_in_use", 15},
      {"tcp_time_wait", 3},
      {"tcp_orphans", 1},
      {"tcp_established_or_close_wait", 7},
      {R"(rate{counter="TcpExt.ListenOverflows"})", 2.5},
      {R"(listen_queue{listener="0.0.0.0:80"})", 4},
      {R"(listen_queue_limit{listener="0.0.0.0:80"})", 128},
  };
  EXPECT_EQ(m, want);
}

TEST(HistorySeries, AFastSampleWithoutSockstatOrRatesHasOnlyWhatItHas) {
  FastSample s;
  EXPECT_TRUE(fast_series(s, ListenerSeriesGate({})).empty());
}

inspect::ListenerRow listener(std::uint16_t port) {
  inspect::ListenerRow l;
  l.local = Endpoint{AF_INET, "127.0.0.1", port};
  l.accept_queue_limit = 128;
  return l;
}

std::size_t listener_series(const FastSample& s, const ListenerSeriesGate& gate) {
  std::size_t n = 0;
  for (const auto& v : fast_series(s, gate)) n += v.series.rfind("listen_queue", 0) == 0;
  return n;
}

HistoryTime at_s(int s) { return HistoryTime{std::chrono::seconds(s)}; }

TEST(ListenerSeriesGate, AListenerIsChartedOnceItHasListenedForTheMinimumAge) {
  ListenerSeriesGate gate({std::chrono::seconds(60), 1024});
  FastSample s;
  s.listeners = {listener(80)};
  for (int t = 0; t < 60; ++t) {
    gate.update(s.listeners, at_s(t));
    EXPECT_EQ(listener_series(s, gate), 0u) << "at " << t << " s";
  }
  gate.update(s.listeners, at_s(60));
  EXPECT_EQ(listener_series(s, gate), 2u);
  EXPECT_TRUE(gate.admits("127.0.0.1:80"));
  // Gone for one sample: it starts its minute again.
  gate.update({}, at_s(61));
  EXPECT_FALSE(gate.admits("127.0.0.1:80"));
  gate.update(s.listeners, at_s(62));
  EXPECT_FALSE(gate.admits("127.0.0.1:80"));
  gate.update(s.listeners, at_s(122));
  EXPECT_TRUE(gate.admits("127.0.0.1:80"));
}

TEST(ListenerSeriesGate, ListenersThatComeAndGoLeaveNoSeriesNames) {
  // A test runner's listeners on ephemeral ports: 540 over an hour, each for 20 s, beside a
  // service that listens throughout. Only the service's two names are ever written.
  ListenerSeriesGate gate({std::chrono::seconds(60), 1024});
  std::set<std::string> names;
  std::vector<inspect::ListenerRow> now;
  for (int t = 0; t < 3600; ++t) {
    FastSample s;
    s.listeners.push_back(listener(8080));
    for (int k = 0; k < 3; ++k) {
      const int born = t - (t % 20);  // three new ones every 20 s
      s.listeners.push_back(listener(static_cast<std::uint16_t>(32768 + (born * 3 + k) % 20000)));
    }
    gate.update(s.listeners, at_s(t));
    for (const auto& v : fast_series(s, gate)) {
      if (v.series.rfind("listen_queue", 0) == 0) names.insert(v.series);
    }
  }
  EXPECT_EQ(names, (std::set<std::string>{R"(listen_queue{listener="127.0.0.1:8080"})",
                                          R"(listen_queue_limit{listener="127.0.0.1:8080"})"}));
  EXPECT_EQ(gate.over_limit(), 0u);
}

TEST(ListenerSeriesGate, AtMostMaxAreChartedTheOldestFirst) {
  ListenerSeriesGate gate({std::chrono::seconds(0), 2});
  std::vector<inspect::ListenerRow> ls = {listener(3000)};
  gate.update(ls, at_s(0));
  ls.push_back(listener(1000));
  gate.update(ls, at_s(1));
  ls.push_back(listener(2000));
  gate.update(ls, at_s(2));
  // 3000 came first, then 1000; 2000 is the third and waits, counted.
  EXPECT_TRUE(gate.admits("127.0.0.1:3000"));
  EXPECT_TRUE(gate.admits("127.0.0.1:1000"));
  EXPECT_FALSE(gate.admits("127.0.0.1:2000"));
  EXPECT_EQ(gate.over_limit(), 1u);
  // One of the charted goes away: the waiting one takes its place.
  ls.erase(ls.begin());
  gate.update(ls, at_s(3));
  EXPECT_TRUE(gate.admits("127.0.0.1:2000"));
  EXPECT_EQ(gate.over_limit(), 0u);
  // max 0: no listener is charted; every old-enough one is counted.
  ListenerSeriesGate none({std::chrono::seconds(0), 0});
  none.update(ls, at_s(0));
  EXPECT_EQ(none.over_limit(), 2u);
  FastSample s;
  s.listeners = ls;
  EXPECT_EQ(listener_series(s, none), 0u);
}

TEST(HistorySeries, FullSampleSumsBothFamiliesPerState) {
  FullSample s;
  s.collected.snapshot.v4[1] = 100;  // ESTABLISHED
  s.collected.snapshot.v6[1] = 20;
  s.collected.snapshot.v6[10] = 3;  // LISTEN
  const auto m = as_map(full_series(s));
  EXPECT_EQ(m.size(), 11u);
  EXPECT_EQ(m.at(R"(tcp_sockets{state="ESTABLISHED"})"), 120);
  EXPECT_EQ(m.at(R"(tcp_sockets{state="LISTEN"})"), 3);
  EXPECT_EQ(m.at(R"(tcp_sockets{state="TIME_WAIT"})"), 0);
}

TEST(HistorySeries, FindingObservationsAreKeyedByWhatTheyAreAbout) {
  rules::Finding a;
  a.id = "listen.accept_queue_full";
  a.severity = rules::Severity::critical;
  a.summary = "queue full";
  a.evidence = {{"address", "0.0.0.0:80"}, {"accept_queue", "129"}};
  rules::Finding b = a;
  b.evidence["address"] = "0.0.0.0:443";
  rules::Finding c;
  c.id = "sysctl.somaxconn_low";
  c.severity = rules::Severity::warning;
  const auto obs = finding_observations({a, b, c});
  ASSERT_EQ(obs.size(), 3u);
  EXPECT_EQ(obs[0].key, "listen.accept_queue_full address=0.0.0.0:80");
  EXPECT_EQ(obs[1].key, "listen.accept_queue_full address=0.0.0.0:443");
  EXPECT_EQ(obs[2].key, "sysctl.somaxconn_low");
  EXPECT_EQ(obs[0].severity, "critical");
  EXPECT_EQ(obs[0].evidence_json, R"({"accept_queue":"129","address":"0.0.0.0:80"})");
  EXPECT_EQ(obs[2].evidence_json, "{}");
}

}  // namespace
}  // namespace connscope::agent
