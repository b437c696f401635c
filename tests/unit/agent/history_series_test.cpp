// The agent's samples as history series and its findings as observations.
#include "agent/history_series.h"

#include <gtest/gtest.h>

#include <map>

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
  const auto m = as_map(fast_series(s));
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
  EXPECT_TRUE(fast_series(s).empty());
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
