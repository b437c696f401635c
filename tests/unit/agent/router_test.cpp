// The agent's routes on views built by hand: status codes, content types, the JSON each route
// gives, the history routes with and without a history, and bad queries.
#include "agent/router.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sys/socket.h>

#include <sqlite3.h>

#include "agent/history_series.h"
#include "agent/prometheus.h"
#include "rules/client_findings.h"
#include "rules/server_rules.h"
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
  v.history = HistoryStatus{"/data/history.db", HistoryWriterStats{.jobs_done = 7, .jobs_failed = 1, .jobs_dropped = 2, .maintenance_runs = 0, .last_error = std::nullopt}, 3};
  j = body_json(route(get("/api/v1/snapshot"), v));
  EXPECT_EQ(j.at("sampler").at("bpf").at("reason"), "the kernel has no BTF");
  EXPECT_EQ(j.at("history"), json::parse(R"({"file":"/data/history.db","writes":7,"failed":1,"dropped":2,
                                             "listeners_not_charted":3,"last_error":null})"));
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
        {.key = "", .finding_id = "tcp.orphans", .severity = "warning", .evidence_json = "{}"}};
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


// True when `s` has a CJK character (UTF-8 lead bytes of U+4E00..U+9FFF).
bool has_cjk(const std::string& s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto b = static_cast<unsigned char>(c);
    return b >= 0xE4 && b <= 0xE9;
  });
}

// A full sample whose one finding came from the server rules, rendered in English.
AgentView english_finding_view() {
  AgentView v = sample_view();
  rules::ServerEvidence e;
  e.rates = {{"OutRsts", 250}};
  auto full = std::make_shared<FullSample>(*v.full);
  full->findings = rules::evaluate_server(e, Lang::en);
  EXPECT_EQ(full->findings.size(), 1u);
  v.full = full;
  return v;
}

HttpRequest get_lang(std::string target, std::string accept_language) {
  HttpRequest r = get(std::move(target));
  r.accept_language = std::move(accept_language);
  return r;
}

TEST(AgentRouter, FindingsAreRenderedInTheReadersLanguage) {
  const AgentView v = english_finding_view();
  const std::string en = "250 resets/s sent";
  const std::string zh = "每秒发送 250 个 RST";
  // ?lang= first, then Accept-Language, then the agent's --lang.
  EXPECT_EQ(body_json(route(get("/api/v1/findings?lang=zh-CN"), v)).at("current")[0].at("summary"), zh);
  EXPECT_EQ(body_json(route(get_lang("/api/v1/findings", "zh-CN,zh;q=0.9,en;q=0.8"), v)).at("current")[0].at("summary"), zh);
  EXPECT_EQ(body_json(route(get_lang("/api/v1/findings?lang=en", "zh-CN"), v)).at("current")[0].at("summary"), en);
  EXPECT_EQ(body_json(route(get("/api/v1/findings"), v)).at("current")[0].at("summary"), en);
  AgentView chinese_agent = v;
  chinese_agent.lang = Lang::zh_CN;
  EXPECT_EQ(body_json(route(get("/api/v1/findings"), chinese_agent)).at("current")[0].at("summary"), zh);
  EXPECT_EQ(body_json(route(get_lang("/api/v1/findings", "fr-FR"), chinese_agent)).at("current")[0].at("summary"), zh);
  // The cause and fix too, and the snapshot's full sample.
  const auto current = body_json(route(get("/api/v1/findings?lang=zh-CN"), v)).at("current")[0];
  EXPECT_TRUE(has_cjk(current.at("cause").get<std::string>())) << current.dump();
  EXPECT_TRUE(has_cjk(current.at("fix").get<std::string>())) << current.dump();
  EXPECT_EQ(body_json(route(get("/api/v1/snapshot?lang=zh-CN"), v)).at("full").at("findings")[0].at("summary"), zh);
  // The evidence stays as recorded: tokens and numbers, no text.
  EXPECT_EQ(current.at("evidence"), json::parse(R"({"out_rsts_per_s":"250"})"));
  // An event stream keeps its reader's language: its channel, and its first events.
  const auto stream = route(get_lang("/api/v1/events", "zh-CN"), v);
  EXPECT_EQ(stream.stream_channel, "zh-CN");
  EXPECT_NE(stream.body.find(zh), std::string::npos);
}

TEST(AgentRouter, AnUnknownLangIsA400NamingIt) {
  const AgentView v = english_finding_view();
  for (const char* target : {"/api/v1/findings?lang=fr", "/api/v1/snapshot?lang=fr", "/api/v1/probes?lang=fr",
                             "/api/v1/events?lang=fr", "/api/v1/texts?lang=fr"}) {
    const auto bad = route(get(target), v);
    EXPECT_EQ(bad.status, 400u) << target;
    EXPECT_NE(bad.body.find("\"fr\""), std::string::npos) << target << ": " << bad.body;
    EXPECT_NE(bad.body.find("zh-CN"), std::string::npos) << target << ": " << bad.body;
  }
}

TEST(AgentRouter, ProbeFindingsAreRenderedInTheReadersLanguage) {
  AgentView v = sample_view();
  v.probes = [] {
    ProbeStatus p;
    p.target = "db.example:5432";
    ProbeRun run;
    auto f = rules::make_client_finding("tcp.refused", {{"endpoint", "198.18.2.2:5432"}, {"port", "5432"}}, Lang::en);
    EXPECT_TRUE(f.has_value());
    run.findings.push_back({probe::StageId::connect, *f});
    p.last = run;
    return std::vector<ProbeStatus>{p};
  };
  const auto en = body_json(route(get("/api/v1/probes"), v)).at("probes")[0].at("last").at("findings")[0];
  const auto zh = body_json(route(get("/api/v1/probes?lang=zh-CN"), v)).at("probes")[0].at("last").at("findings")[0];
  EXPECT_FALSE(has_cjk(en.at("summary").get<std::string>())) << en.dump();
  EXPECT_TRUE(has_cjk(zh.at("summary").get<std::string>())) << zh.dump();
  EXPECT_EQ(zh.at("stage"), "connect");
  EXPECT_EQ(zh.at("evidence"), en.at("evidence"));
}

TEST(AgentRouter, AFindingWrittenToTheHistoryInEnglishIsReadInChinese) {
  test::TempDir dir;
  const AgentView english = english_finding_view();
  {
    auto w = HistoryStore::open(dir.db());
    ASSERT_TRUE(w.has_value()) << w.error().message();
    ASSERT_TRUE(w->record_findings(kNow - 5s, finding_observations(english.full->findings)));
  }
  auto reader = HistoryReader::open(dir.db());
  ASSERT_TRUE(reader.has_value()) << reader.error().message();
  AgentView v = english;
  v.reader = &*reader;
  const auto zh = body_json(route(get("/api/v1/findings?from=-1h&lang=zh-CN"), v)).at("events");
  ASSERT_EQ(zh.size(), 1u);
  EXPECT_EQ(zh[0].at("id"), "tcp.resets_high");
  EXPECT_EQ(zh[0].at("summary"), "每秒发送 250 个 RST");
  const auto en = body_json(route(get("/api/v1/findings?from=-1h"), v)).at("events");
  EXPECT_EQ(en[0].at("summary"), "250 resets/s sent");
}

TEST(AgentRouter, AHistoryWrittenByAnOlderAgentStillReads) {
  // Older agents stored the rendered summary (findings.summary, in their --lang). Such a row
  // renders like any other when its evidence does; when it does not (an id or evidence this
  // version has no text for), its stored summary is shown.
  test::TempDir dir;
  ASSERT_TRUE(HistoryStore::open(dir.db()).has_value());
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(dir.db().c_str(), &db), SQLITE_OK);
    const std::string insert =
        "INSERT INTO findings(key, finding, severity, summary, evidence, first_seen, last_seen, open) VALUES "
        "('tcp.resets_high', 'tcp.resets_high', 'warning', '250 resets/s sent', '{\"out_rsts_per_s\":\"250\"}', " +
        std::to_string(kNow.time_since_epoch().count() - 9000) + ", " + std::to_string(kNow.time_since_epoch().count() - 9000) +
        ", 0), ('tcp.gone', 'tcp.gone', 'warning', 'a finding of old', '{}', " +
        std::to_string(kNow.time_since_epoch().count() - 8000) + ", " + std::to_string(kNow.time_since_epoch().count() - 8000) + ", 0)";
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db, insert.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
    sqlite3_free(err);
    sqlite3_close(db);
  }
  auto reader = HistoryReader::open(dir.db());
  ASSERT_TRUE(reader.has_value()) << reader.error().message();
  AgentView v = sample_view();
  v.reader = &*reader;
  const auto events = body_json(route(get("/api/v1/findings?from=-1h&lang=zh-CN"), v)).at("events");
  ASSERT_EQ(events.size(), 2u) << events.dump();
  EXPECT_EQ(events[0].at("id"), "tcp.gone");
  EXPECT_EQ(events[0].at("summary"), "a finding of old");
  EXPECT_EQ(events[1].at("summary"), "每秒发送 250 个 RST");
}

}  // namespace
}  // namespace connscope::agent
