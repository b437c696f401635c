// The query strings of /api/v1/history and /api/v1/findings: times absolute and relative, the
// default step, repeated series, percent-encoding (Boost.URL), and each bad input's message.
#include "agent/api_query.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace connscope::agent {
namespace {

using namespace std::chrono_literals;

const HistoryTime kNow{std::chrono::milliseconds{1'700'000'000'000}};

TEST(ApiQuery, HistoryDefaultsToTheLastFifteenMinutesAtOneSecond) {
  auto r = parse_history_request("/api/v1/history?series=tcp_in_use", kNow);
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->series.size(), 1u);
  EXPECT_EQ(r->series[0], "tcp_in_use");
  EXPECT_EQ(r->to, kNow);
  EXPECT_EQ(r->from, kNow - 15min);
  EXPECT_EQ(r->step, 1s);  // 900 points
}

TEST(ApiQuery, HistorySeriesAreRepeatedAndPercentDecoded) {
  auto r = parse_history_request(
      "/api/v1/history?series=tcp_sockets%7Bstate%3D%22ESTABLISHED%22%7D&series=rate{counter=\"Tcp.OutRsts\"}&from=-1h&to=now&step=10s",
      kNow);
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->series.size(), 2u);
  EXPECT_EQ(r->series[0], "tcp_sockets{state=\"ESTABLISHED\"}");
  EXPECT_EQ(r->series[1], "rate{counter=\"Tcp.OutRsts\"}");
  EXPECT_EQ(r->from, kNow - 1h);
  EXPECT_EQ(r->step, 10s);
}

TEST(ApiQuery, HistoryChoosesTheSmallestWholeSecondStepWithinTheLimit) {
  struct Case {
    const char* range;
    std::chrono::milliseconds step;
  };
  for (const Case& c : {Case{"from=-1h", 4s}, Case{"from=-1000s", 2s}, Case{"from=-999s", 1s},
                        Case{"from=-30d", 2593s}, Case{"from=-10s", 1s}}) {
    auto r = parse_history_request(std::string("/api/v1/history?series=x&") + c.range, kNow);
    ASSERT_TRUE(r) << c.range << ": " << r.error().message();
    EXPECT_EQ(r->step, c.step) << c.range;
    EXPECT_LT((r->to - r->from) / r->step, 1000) << c.range;
  }
}

TEST(ApiQuery, HistoryAbsoluteTimes) {
  auto r = parse_history_request("/api/v1/history?series=x&from=1699999000000&to=1699999060000&step=1m", kNow);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(unix_ms(r->from), 1'699'999'000'000);
  EXPECT_EQ(unix_ms(r->to), 1'699'999'060'000);
  EXPECT_EQ(r->step, 1min);
}

TEST(ApiQuery, HistoryWithoutSeriesListsNames) {
  auto r = parse_history_request("/api/v1/history", kNow);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r->series.empty());
}

TEST(ApiQuery, BadHistoryRequestsSayWhatIsWrong) {
  struct Case {
    const char* target;
    const char* message;
  };
  for (const Case& c : {
           Case{"/api/v1/history?series=x&from=yesterday", "query: from \"yesterday\": use Unix milliseconds"},
           Case{"/api/v1/history?series=x&from=-3x", "query: "},
           Case{"/api/v1/history?series=x&from=now&to=-1h", "query: from is after to"},
           Case{"/api/v1/history?series=x&step=0s", "query: step must be at least 1ms"},
           Case{"/api/v1/history?series=x&from=-1h&step=100ms", "query: step 100ms gives more than 11000 points"},
           Case{"/api/v1/history?series=", "query: series is empty"},
           Case{"/api/v1/history?serie=x", "query: unknown parameter \"serie\""},
           Case{"/api/v1/history?series=%zz", "query: "},
       }) {
    auto r = parse_history_request(c.target, kNow);
    ASSERT_FALSE(r) << c.target;
    EXPECT_EQ(r.error().message().rfind(c.message, 0), 0u) << c.target << " -> " << r.error().message();
  }
  std::string wide = "/api/v1/history?from=-3h&step=1s";
  for (int i = 0; i < 20; ++i) wide += "&series=s" + std::to_string(i);
  auto too_wide = parse_history_request(wide, kNow);
  ASSERT_FALSE(too_wide);
  EXPECT_EQ(too_wide.error().message(),
            "query: 20 series of 10801 points is more than 200000 points: use a larger step or fewer series");

  std::string many = "/api/v1/history?";
  for (int i = 0; i < 65; ++i) many += "series=s" + std::to_string(i) + "&";
  auto r = parse_history_request(many, kNow);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "query: 65 series asked, at most 64 per request");
}

TEST(ApiQuery, EventRequests) {
  auto r = parse_event_request("/api/v1/findings", kNow, 1h);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->from, kNow - 1h);
  EXPECT_EQ(r->to, kNow);
  EXPECT_EQ(r->limit, 1000u);
  r = parse_event_request("/api/v1/findings?from=-1d&limit=5", kNow, 1h);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->from, kNow - std::chrono::hours(24));
  EXPECT_EQ(r->limit, 5u);
  for (const char* bad : {"/api/v1/findings?limit=0", "/api/v1/findings?limit=10001", "/api/v1/findings?limit=5x",
                          "/api/v1/findings?series=x"}) {
    EXPECT_FALSE(parse_event_request(bad, kNow, 1h)) << bad;
  }
}

TEST(ApiQuery, HistoryJson) {
  HistoryRequest req;
  req.series = {"tcp_in_use"};
  req.from = kNow - 2s;
  req.to = kNow;
  req.step = 1s;
  HistorySeries s;
  s.series = "tcp_in_use";
  s.step = 1s;
  s.source = HistorySource::raw;
  s.points.push_back(HistoryPoint{kNow - 2s, 5, 4, 6, 2});
  const auto j = history_json(req, {s});
  EXPECT_EQ(j.dump(),
            R"({"from_ms":1699999998000,"series":[{"name":"tcp_in_use","points":[{"avg":5.0,"count":2,"max":6.0,)"
            R"("min":4.0,"t":1699999998000}],"source":"raw"}],"step_ms":1000,"to_ms":1700000000000})");
}

TEST(ApiQuery, FindingEventsJson) {
  FindingEvent e;
  e.key = "listen.accept_queue_full listener=0.0.0.0:80";
  e.finding_id = "listen.accept_queue_full";
  e.severity = "critical";
  e.summary = "full";
  e.evidence_json = R"({"accept_queue":"128"})";
  e.first_seen = kNow - 10s;
  e.last_seen = kNow;
  e.open = true;
  const auto j = finding_events_json({e}, Lang::en);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["evidence"]["accept_queue"], "128");
  // Evidence that does not render (too little of it here): the summary it was stored with.
  EXPECT_EQ(j[0]["summary"], "full");
  EXPECT_EQ(j[0]["first_seen_ms"], 1'699'999'990'000);
  EXPECT_EQ(j[0]["open"], true);
}

}  // namespace
}  // namespace connscope::agent
