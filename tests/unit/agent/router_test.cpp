// The agent's routes on views built by hand: status codes, content types, the JSON each route
// gives, the history routes with and without a history, and bad queries.
#include "agent/router.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sys/socket.h>

#include "agent/prometheus.h"
#include "http_support.h"
#include "temp_dir.h"

namespace connscope::agent {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const HistoryTime kNow{std::chrono::milliseconds{1'700'000'040'000}};

using test::header;

HttpRequest get(std::string target, std::string method = "GET") { return test::request(std::move(method), std::move(target)); }

json body_json(const HttpResponse& res) {
  EXPECT_EQ(res.content_type, "application/json");
  EXPECT_FALSE(res.body.empty());
  return json::parse(res.body);
}

// A view with a fast sample (one listener), a full sample (one finding) and two probes.
AgentView sample_view() {
  AgentView v;
  auto fast = std::make_shared<FastSample>();
  fast->time = std::chrono::system_clock::time_point(kNow.time_since_epoch());
  fast->counters = {{"Tcp.CurrEstab", 8}};
  inspect::ListenerRow l;
  l.local = Endpoint{AF_INET, "127.0.0.1", 8080};
  l.accept_queue = 3;
  l.accept_queue_limit = 128;
  fast->listeners = {l};
  v.fast = fast;
  auto full = std::make_shared<FullSample>();
  full->time = fast->time;
  full->collected.snapshot.sockets = 11;
  full->collected.snapshot.v4[1] = 8;
  rules::Finding f;
  f.id = "tcp.close_wait_leak";
  f.severity = rules::Severity::warning;
  full->findings = {f};
  v.full = full;
  v.full_wait = 10s;
  v.sampler = SamplerInfo{.kind = "tiers", .fast_interval = 1s, .full_interval = 10s, .bpf = false, .bpf_off_reason = ""};
  v.probes = [] {
    ProbeStatus a;
    a.target = "db.example:5432";
    ProbeStatus b;
    b.target = "127.0.0.1:22";
    b.source = ProbeSource::listener;
    return std::vector<ProbeStatus>{a, b};
  };
  v.now = kNow;
  return v;
}

TEST(AgentRouter, OnlyGetAndHeadAreAnswered) {
  const AgentView v = sample_view();
  for (const char* method : {"POST", "PUT", "DELETE", "OPTIONS"}) {
    const auto res = route(get("/api/v1/snapshot", method), v);
    EXPECT_EQ(res.status, 405u) << method;
    EXPECT_EQ(header(res, "Allow"), "GET, HEAD") << method;
  }
  EXPECT_EQ(route(get("/api/v1/snapshot", "HEAD"), v).status, 200u);
}

TEST(AgentRouter, UnknownPathsAre404NamingThePath) {
  const AgentView v = sample_view();
  for (const char* target : {"/nowhere", "/api/v1", "/api/v1/snapshot/", "/api/v2/snapshot", "/assets/missing.js"}) {
    const auto res = route(get(target), v);
    EXPECT_EQ(res.status, 404u) << target;
    EXPECT_EQ(res.body, "not found: " + std::string(target) + "\n");
  }
  // The query is not part of the path.
  EXPECT_EQ(route(get("/nowhere?x=1"), v).body, "not found: /nowhere\n");
}

TEST(AgentRouter, SnapshotCarriesTheSamplesTheSamplerAndTheHistory) {
  AgentView v = sample_view();
  v.full_error = Error{"dump", 0, "no luck"};
  auto j = body_json(route(get("/api/v1/snapshot?x=1"), v));
  EXPECT_EQ(j.at("fast").at("curr_estab"), 8);
  EXPECT_EQ(j.at("fast").at("listeners").size(), 1u);
  EXPECT_EQ(j.at("full").at("sockets"), 11);
  EXPECT_EQ(j.at("full").at("states").at("ipv4").at("ESTABLISHED"), 8);
  EXPECT_EQ(j.at("full_wait_ms"), 10000);
  EXPECT_TRUE(j.at("fast_error").is_null());
  EXPECT_EQ(j.at("full_error"), "dump: no luck");
  EXPECT_TRUE(j.at("history").is_null());
  EXPECT_EQ(j.at("sampler"), json::parse(R"({"kind":"tiers","fast_interval_ms":1000,"full_interval_ms":10000,
                                             "bpf":{"enabled":false,"reason":null}})"));

  v.sampler.bpf_off_reason = "the kernel has no BTF";
  v.history = HistoryStatus{"/data/history.db", HistoryWriterStats{.jobs_done = 7, .jobs_failed = 1, .jobs_dropped = 2, .maintenance_runs = 0, .last_error = std::nullopt}};
  j = body_json(route(get("/api/v1/snapshot"), v));
  EXPECT_EQ(j.at("sampler").at("bpf").at("reason"), "the kernel has no BTF");
  EXPECT_EQ(j.at("history"), json::parse(R"({"file":"/data/history.db","writes":7,"failed":1,"dropped":2,
                                             "last_error":null})"));
}

TEST(AgentRouter, BeforeTheFirstSamplesTheSnapshotSaysNull) {
  AgentView v;
  v.fast_error = Error{"read /proc/net/snmp", 2, "gone"};
  const auto j = body_json(route(get("/api/v1/snapshot"), v));
  EXPECT_TRUE(j.at("fast").is_null());
  EXPECT_TRUE(j.at("full").is_null());
  EXPECT_EQ(j.at("full_wait_ms"), 0);
  EXPECT_NE(j.at("fast_error").get<std::string>().find("read /proc/net/snmp"), std::string::npos);
}

TEST(AgentRouter, TheEventStreamStartsWithTheLatestSamples) {
  const AgentView v = sample_view();
  const auto res = route(get("/api/v1/events"), v);
  EXPECT_EQ(res.status, 200u);
  EXPECT_TRUE(res.stream);
  EXPECT_EQ(res.body.rfind("retry: 2000\n\nevent: fast\ndata: {", 0), 0u) << res.body;
  EXPECT_NE(res.body.find("\n\nevent: full\ndata: {"), std::string::npos);
  EXPECT_EQ(res.body.substr(res.body.size() - 2), "\n\n");

  const auto empty = route(get("/api/v1/events"), AgentView{});
  EXPECT_TRUE(empty.stream);
  EXPECT_EQ(empty.body, "retry: 2000\n\n");
}

TEST(AgentRouter, SseEventsAreOneDataLine) {
  EXPECT_EQ(sse_event("probe", json{{"a", "x\ny"}}), "event: probe\ndata: {\"a\":\"x\\ny\"}\n\n");
}

TEST(AgentRouter, MetricsArePrometheusText) {
  const AgentView v = sample_view();
  const auto res = route(get("/metrics"), v);
  EXPECT_EQ(res.status, 200u);
  EXPECT_EQ(res.content_type, prom::kContentType);
  EXPECT_NE(res.body.find("connscope_tcp_sockets{family=\"ipv4\",state=\"ESTABLISHED\"} 8\n"), std::string::npos)
      << res.body;
  EXPECT_NE(res.body.find("connscope_probe_runs_total{target=\"db.example:5432\"} 0\n"), std::string::npos);
  // Without samples or probes: a page all the same (the probe families' HELP and TYPE).
  const auto bare = route(get("/metrics"), AgentView{});
  EXPECT_EQ(bare.status, 200u);
  EXPECT_EQ(bare.body.find("connscope_tcp_sockets{"), std::string::npos);
}

TEST(AgentRouter, ProbesListsEveryProbeInOrder) {
  const AgentView v = sample_view();
  const auto j = body_json(route(get("/api/v1/probes"), v));
  ASSERT_EQ(j.at("probes").size(), 2u);
  EXPECT_EQ(j.at("probes")[0].at("target"), "db.example:5432");
  EXPECT_EQ(j.at("probes")[1].at("target"), "127.0.0.1:22");
  EXPECT_EQ(body_json(route(get("/api/v1/probes"), AgentView{})).at("probes"), json::array());
}

TEST(AgentRouter, TheDashboardIsServedWithItsEtag) {
  const AgentView v;
  for (const char* path : {"/", "/index.html", "/assets/app.js", "/assets/style.css"}) {
    const auto res = route(get(path), v);
    EXPECT_EQ(res.status, 200u) << path;
    EXPECT_FALSE(res.body.empty()) << path;
    EXPECT_EQ(header(res, "Cache-Control"), "no-cache") << path;
    EXPECT_EQ(header(res, "ETag").front(), '"') << path;
  }
  EXPECT_EQ(route(get("/"), v).content_type.rfind("text/html", 0), 0u);
  EXPECT_EQ(route(get("/assets/app.js"), v).content_type.rfind("text/javascript", 0), 0u);
}

TEST(AgentRouter, WithoutHistoryTheHistoryRouteIs503AndFindingsHaveNoEvents) {
  const AgentView v = sample_view();
  const auto res = route(get("/api/v1/history?series=x"), v);
  EXPECT_EQ(res.status, 503u);
  EXPECT_EQ(res.body, "history is off (no data dir)\n");
  const auto j = body_json(route(get("/api/v1/findings"), v));
  EXPECT_TRUE(j.at("events").is_null());
  ASSERT_EQ(j.at("current").size(), 1u);
  EXPECT_EQ(j.at("current")[0].at("id"), "tcp.close_wait_leak");
}

TEST(AgentRouter, HistoryAndFindingsFromTheReader) {
  test::TempDir dir;
  {
    auto w = HistoryStore::open(dir.db());
    ASSERT_TRUE(w.has_value()) << w.error().message();
    for (int i = 0; i < 3; ++i) {
      const std::vector<SeriesValue> batch{{"tcp_time_wait", 10.0 + i}};
      ASSERT_TRUE(w->append_samples(kNow - std::chrono::seconds(10 - i), batch));
    }
    const std::vector<FindingObservation> present{
        {.key = "", .finding_id = "tcp.orphans", .severity = "warning", .summary = "s", .evidence_json = "{}"}};
    ASSERT_TRUE(w->record_findings(kNow - 5s, present));
  }
  auto reader = HistoryReader::open(dir.db());
  ASSERT_TRUE(reader.has_value()) << reader.error().message();
  AgentView v = sample_view();
  v.reader = &*reader;

  auto names = body_json(route(get("/api/v1/history"), v));
  EXPECT_EQ(names, json::parse(R"({"series_names":["tcp_time_wait"]})"));

  auto series = body_json(route(get("/api/v1/history?series=tcp_time_wait&from=-1m&step=1s"), v));
  ASSERT_EQ(series.at("series").size(), 1u);
  EXPECT_EQ(series.at("series")[0].at("points").size(), 3u) << series.dump();

  auto findings = body_json(route(get("/api/v1/findings?from=-1h"), v));
  ASSERT_EQ(findings.at("events").size(), 1u);
  EXPECT_EQ(findings.at("events")[0].at("id"), "tcp.orphans") << findings.dump();

  // Query errors are 400 with the parser's one line.
  for (const char* target : {"/api/v1/history?series=tcp_time_wait&from=yesterday",
                             "/api/v1/history?series=tcp_time_wait&step=0s",
                             "/api/v1/history?series=tcp_time_wait&from=-1h&to=-2h",
                             "/api/v1/findings?limit=0", "/api/v1/findings?from=soon"}) {
    const auto bad = route(get(target), v);
    EXPECT_EQ(bad.status, 400u) << target << ": " << bad.body;
    EXPECT_EQ(bad.body.back(), '\n') << target;
    EXPECT_EQ(bad.body.find('\n'), bad.body.size() - 1) << target;
  }
  // A series nobody wrote: an empty series, not an error.
  auto unknown = body_json(route(get("/api/v1/history?series=nothing"), v));
  EXPECT_EQ(unknown.at("series")[0].at("points"), json::array());
}

}  // namespace
}  // namespace connscope::agent
