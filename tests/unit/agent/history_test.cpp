// The agent's SQLite history: raw samples and their step aggregation, minute rollups and the
// choice between raw and rollups, retention, finding and probe events, reopening, a kill -9 in
// the middle of writing, the move of complete minutes between its two sample tables, a reader
// connection beside the writer, and one clear error for each kind of bad input.
#include "agent/history.h"
#include "agent/history_writer.h"

#include <gtest/gtest.h>

#include "temp_dir.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace connscope::agent {
namespace {

using namespace std::chrono_literals;
using Ms = std::chrono::milliseconds;

// A minute boundary in 2023, so that rollup minutes line up with the samples' seconds.
const HistoryTime kT0{Ms{1'700'000'040'000}};

using test::TempDir;

HistoryStore open_ok(const std::filesystem::path& file, HistoryOptions o = {}) {
  auto s = HistoryStore::open(file, o);
  if (!s) {
    ADD_FAILURE() << s.error().message();
    std::abort();
  }
  return std::move(*s);
}

void append_ok(HistoryStore& s, HistoryTime t, std::vector<SeriesValue> batch) {
  const auto r = s.append_samples(t, batch);
  ASSERT_TRUE(r.has_value()) << r.error().message();
}

// On the writer or on a reader.
template <class Connection>
HistorySeries query_ok(Connection& s, std::string series, HistoryTime from, HistoryTime to,
                       Ms step) {
  auto r = s.query(HistoryQuery{.series = std::move(series), .from = from, .to = to, .step = step});
  EXPECT_TRUE(r.has_value()) << r.error().message();
  return r.value_or(HistorySeries{});
}

MaintenanceStats maintain_ok(HistoryStore& s, HistoryTime now) {
  auto r = s.maintain(now);
  EXPECT_TRUE(r.has_value()) << r.error().message();
  return r.value_or(MaintenanceStats{});
}

// Samples every second of minutes [0, minutes) after kT0: value minute*100 + second, so each
// minute's min, max and average are known: m*100, m*100 + 59, m*100 + 29.5.
void feed_minutes(HistoryStore& s, int minutes, const std::vector<std::string>& names) {
  for (int m = 0; m < minutes; ++m) {
    for (int sec = 0; sec < 60; ++sec) {
      std::vector<SeriesValue> batch;
      for (const auto& n : names) batch.push_back({n, m * 100.0 + sec});
      append_ok(s, kT0 + std::chrono::minutes(m) + std::chrono::seconds(sec), batch);
    }
  }
}

TEST(HistoryStore, AppendsAndQueriesRawSamples) {
  TempDir dir;
  auto s = open_ok(dir.db());
  const std::string est = R"(tcp_sockets{state="ESTABLISHED",family="ipv4"})";
  for (int i = 0; i < 10; ++i) {
    append_ok(s, kT0 + std::chrono::seconds(i), {{est, 100.0 + i}, {"listen_queue", 2.0 * i}});
  }
  EXPECT_EQ(s.series_names(), (std::vector<std::string>{"listen_queue", est}));

  const auto h = query_ok(s, est, kT0, kT0 + 9s, 1s);
  EXPECT_EQ(h.series, est);
  EXPECT_EQ(h.source, HistorySource::raw);
  ASSERT_EQ(h.points.size(), 10u);
  for (int i = 0; i < 10; ++i) {
    const auto& p = h.points[static_cast<std::size_t>(i)];
    EXPECT_EQ(p.time, kT0 + std::chrono::seconds(i));
    EXPECT_EQ(p.avg, 100.0 + i);
    EXPECT_EQ(p.min, 100.0 + i);
    EXPECT_EQ(p.max, 100.0 + i);
    EXPECT_EQ(p.count, 1);
  }
  // A sub-range, inclusive at both ends; the other series is not mixed in.
  const auto part = query_ok(s, "listen_queue", kT0 + 3s, kT0 + 5s, 1s);
  ASSERT_EQ(part.points.size(), 3u);
  EXPECT_EQ(part.points.front().avg, 6.0);
  EXPECT_EQ(part.points.back().avg, 10.0);
  // The same time again overwrites.
  append_ok(s, kT0 + 3s, {{"listen_queue", -1.0}});
  EXPECT_EQ(query_ok(s, "listen_queue", kT0 + 3s, kT0 + 3s, 1s).points.at(0).avg, -1.0);
}

TEST(HistoryStore, AggregatesRawSamplesToTheStep) {
  TempDir dir;
  auto s = open_ok(dir.db());
  for (int i = 0; i < 10; ++i) append_ok(s, kT0 + std::chrono::seconds(i), {{"x", double(i)}});
  // Nothing at 20..29 s: that bucket is left out, not filled with zeros.
  append_ok(s, kT0 + 31s, {{"x", 50.0}});

  const auto h = query_ok(s, "x", kT0, kT0 + 39s, 5s);
  ASSERT_EQ(h.points.size(), 3u);
  EXPECT_EQ(h.points[0].time, kT0);
  EXPECT_DOUBLE_EQ(h.points[0].avg, 2.0);
  EXPECT_EQ(h.points[0].min, 0.0);
  EXPECT_EQ(h.points[0].max, 4.0);
  EXPECT_EQ(h.points[0].count, 5);
  EXPECT_EQ(h.points[1].time, kT0 + 5s);
  EXPECT_DOUBLE_EQ(h.points[1].avg, 7.0);
  EXPECT_EQ(h.points[1].min, 5.0);
  EXPECT_EQ(h.points[1].max, 9.0);
  EXPECT_EQ(h.points[2].time, kT0 + 30s);
  EXPECT_EQ(h.points[2].avg, 50.0);
  EXPECT_EQ(h.points[2].count, 1);

  // Buckets start at `from`, not at a multiple of the step.
  const auto shifted = query_ok(s, "x", kT0 + 2s, kT0 + 9s, 4s);
  ASSERT_EQ(shifted.points.size(), 2u);
  EXPECT_DOUBLE_EQ(shifted.points[0].avg, 3.5);  // 2, 3, 4, 5
  EXPECT_DOUBLE_EQ(shifted.points[1].avg, 7.5);  // 6, 7, 8, 9
}

TEST(HistoryStore, RollsUpMinutesAndQueriesOldRangesFromThem) {
  TempDir dir;
  auto s = open_ok(dir.db(), HistoryOptions{.raw_retention = 2min});
  feed_minutes(s, 5, {"a", "b"});

  const auto st = maintain_ok(s, kT0 + 10min);
  EXPECT_EQ(st.minutes_rolled, 5u);
  EXPECT_EQ(st.raw_deleted, 2u * 5 * 60);  // every raw sample is older than 10 - 2 minutes
  EXPECT_FALSE(st.more);

  const auto h = query_ok(s, "a", kT0, kT0 + 5min - 1ms, 1min);
  EXPECT_EQ(h.source, HistorySource::rollup);
  ASSERT_EQ(h.points.size(), 5u);
  for (int m = 0; m < 5; ++m) {
    const auto& p = h.points[static_cast<std::size_t>(m)];
    EXPECT_EQ(p.time, kT0 + std::chrono::minutes(m));
    EXPECT_EQ(p.min, m * 100.0);
    EXPECT_EQ(p.max, m * 100.0 + 59);
    EXPECT_DOUBLE_EQ(p.avg, m * 100.0 + 29.5);
    EXPECT_EQ(p.count, 60);
  }
  // Two minutes per step: the average weighs each rollup by its sample count.
  const auto wide = query_ok(s, "a", kT0, kT0 + 5min - 1ms, 2min);
  ASSERT_EQ(wide.points.size(), 3u);
  EXPECT_EQ(wide.points[0].min, 0.0);
  EXPECT_EQ(wide.points[0].max, 159.0);
  EXPECT_DOUBLE_EQ(wide.points[0].avg, 79.5);
  EXPECT_EQ(wide.points[0].count, 120);
  EXPECT_EQ(wide.points[2].count, 60);

  // New raw samples after the last rolled minute: a range across both reads both.
  for (int sec = 0; sec < 10; ++sec) {
    append_ok(s, kT0 + 10min + std::chrono::seconds(sec), {{"a", 1000.0}});
  }
  const auto mixed = query_ok(s, "a", kT0, kT0 + 11min - 1ms, 1min);
  EXPECT_EQ(mixed.source, HistorySource::mixed);
  ASSERT_EQ(mixed.points.size(), 6u);
  EXPECT_EQ(mixed.points[4].time, kT0 + 4min);
  EXPECT_EQ(mixed.points[5].time, kT0 + 10min);
  EXPECT_EQ(mixed.points[5].avg, 1000.0);
  EXPECT_EQ(mixed.points[5].count, 10);
  // A range raw samples still cover is read from them, second by second.
  const auto recent = query_ok(s, "a", kT0 + 9min, kT0 + 11min, 1s);
  EXPECT_EQ(recent.source, HistorySource::raw);
  EXPECT_EQ(recent.points.size(), 10u);
}

TEST(HistoryStore, ARangeAcrossTheRawRetentionCountsEachSampleOnce) {
  TempDir dir;
  auto s = open_ok(dir.db(), HistoryOptions{.raw_retention = 2min});
  feed_minutes(s, 6, {"a"});
  // Raw samples before 4:30 go; minute 4 is half raw, half gone, so it must come from its
  // rollup alone, and minute 5 (all raw) second by second.
  maintain_ok(s, kT0 + 6min + 30s);
  const auto h = query_ok(s, "a", kT0, kT0 + 6min - 1ms, 1s);
  EXPECT_EQ(h.source, HistorySource::mixed);
  ASSERT_EQ(h.points.size(), 5u + 60u);
  std::int64_t total = 0;
  for (const auto& p : h.points) total += p.count;
  EXPECT_EQ(total, 6 * 60);
  EXPECT_EQ(h.points[4].time, kT0 + 4min);
  EXPECT_EQ(h.points[4].count, 60);
  EXPECT_DOUBLE_EQ(h.points[4].avg, 429.5);
  EXPECT_EQ(h.points[5].time, kT0 + 5min);
  EXPECT_EQ(h.points[5].count, 1);
  EXPECT_EQ(h.points[5].avg, 500.0);
}

TEST(HistoryStore, MaintenanceWorkIsBoundedPerCall) {
  TempDir dir;
  auto s = open_ok(dir.db(),
                   HistoryOptions{.raw_retention = 1min, .max_rollup_minutes = 2});
  feed_minutes(s, 5, {"a"});

  const auto first = maintain_ok(s, kT0 + 10min);
  EXPECT_EQ(first.minutes_rolled, 2u);
  EXPECT_TRUE(first.more);
  // Raw samples of minutes not rolled up yet are kept.
  EXPECT_EQ(first.raw_deleted, 120u);
  std::size_t rolled = first.minutes_rolled;
  for (int i = 0; i < 5 && rolled < 5; ++i) rolled += maintain_ok(s, kT0 + 10min).minutes_rolled;
  EXPECT_EQ(rolled, 5u);
  EXPECT_FALSE(maintain_ok(s, kT0 + 10min).more);
  const auto h = query_ok(s, "a", kT0, kT0 + 5min - 1ms, 1min);
  ASSERT_EQ(h.points.size(), 5u);
  EXPECT_EQ(h.points[4].max, 459.0);
}

TEST(HistoryStore, RetentionDeletesOldSamplesRollupsAndEvents) {
  TempDir dir;
  auto s = open_ok(dir.db(), HistoryOptions{.raw_retention = 2min, .rollup_retention = 5min});
  feed_minutes(s, 5, {"a"});
  ASSERT_TRUE(s.append_probe({.time = kT0, .target = "old:80", .ok = true, .stage = "close",
                              .stages_json = "{}"}));
  ASSERT_TRUE(s.append_probe({.time = kT0 + 5min, .target = "new:80", .ok = true,
                              .stage = "close", .stages_json = "{}"}));

  const auto st = maintain_ok(s, kT0 + 6min);
  EXPECT_EQ(st.minutes_rolled, 5u);
  EXPECT_EQ(st.raw_deleted, 4u * 60);  // minutes 0..3 are older than 6 - 2
  EXPECT_EQ(st.rollups_deleted, 1u);   // minute 0 is older than 6 - 5
  EXPECT_EQ(st.events_deleted, 1u);    // the probe at minute 0
  EXPECT_TRUE(query_ok(s, "a", kT0, kT0 + 1min - 1ms, 1s).points.empty());
  EXPECT_EQ(query_ok(s, "a", kT0, kT0 + 5min - 1ms, 1min).points.size(), 4u);
  // Minute 4 is still raw: full resolution.
  EXPECT_EQ(query_ok(s, "a", kT0 + 4min, kT0 + 5min - 1ms, 1s).points.size(), 60u);
  const auto p = s.probes({.from = kT0 - 1h, .to = kT0 + 1h});
  ASSERT_TRUE(p.has_value());
  ASSERT_EQ(p->size(), 1u);
  EXPECT_EQ(p->at(0).target, "new:80");

  // A day later nothing is left, and the series is forgotten.
  const auto later = maintain_ok(s, kT0 + 24h);
  EXPECT_EQ(later.raw_deleted, 60u);
  EXPECT_EQ(later.rollups_deleted, 4u);
  EXPECT_TRUE(s.series_names().empty());
  const auto gone = s.query({.series = "a", .from = kT0, .to = kT0 + 1h, .step = 1min});
  ASSERT_TRUE(gone.has_value());
  EXPECT_TRUE(gone->points.empty());
}

TEST(HistoryStore, FindingEventsOpenExtendCloseAndReopen) {
  TempDir dir;
  auto s = open_ok(dir.db());
  const FindingObservation a{.key = "listen.accept_queue_full 0.0.0.0:80",
                             .finding_id = "listen.accept_queue_full",
                             .severity = "critical",
                             .evidence_json = R"({"queue":128})"};
  const FindingObservation b{.finding_id = "tcp.close_wait_leak",
                             .severity = "warning",
                             .evidence_json = "{}"};
  const auto t1 = kT0;
  const auto t2 = t1 + 10s;
  const auto t3 = t2 + 10s;
  const auto t4 = t3 + 5min;  // longer than finding_gap (1 min) after t3
  ASSERT_TRUE(s.record_findings(t1, std::vector{a, b}));
  auto a2 = a;
  a2.evidence_json = R"({"queue":129})";
  ASSERT_TRUE(s.record_findings(t2, std::vector{a2}));  // b ends
  ASSERT_TRUE(s.record_findings(t3, std::vector{a2, b}));  // b again: a new event
  ASSERT_TRUE(s.record_findings(t4, std::vector{a2}));  // a after a gap: a new event

  const auto f = s.findings({.from = t1, .to = t4});
  ASSERT_TRUE(f.has_value()) << f.error().message();
  ASSERT_EQ(f->size(), 4u);
  // Newest last_seen first.
  EXPECT_EQ(f->at(0).key, a.key);
  EXPECT_EQ(f->at(0).first_seen, t4);
  EXPECT_TRUE(f->at(0).open);
  EXPECT_EQ(f->at(1).key, "tcp.close_wait_leak");  // the key defaults to the finding id
  EXPECT_EQ(f->at(1).first_seen, t3);
  EXPECT_EQ(f->at(1).last_seen, t3);
  EXPECT_FALSE(f->at(1).open);
  EXPECT_EQ(f->at(2).key, a.key);
  EXPECT_EQ(f->at(2).first_seen, t1);
  EXPECT_EQ(f->at(2).last_seen, t3);
  EXPECT_EQ(f->at(2).summary, "");  // findings are stored as id + evidence, never as text
  EXPECT_EQ(f->at(2).severity, "critical");
  EXPECT_EQ(f->at(2).evidence_json, R"({"queue":129})");  // as last seen
  EXPECT_FALSE(f->at(2).open);
  EXPECT_EQ(f->at(3).first_seen, t1);
  EXPECT_EQ(f->at(3).last_seen, t1);

  // Overlap with the range, and the limit keeps the newest.
  const auto early = s.findings({.from = t1 + 1s, .to = t2});
  ASSERT_TRUE(early.has_value());
  ASSERT_EQ(early->size(), 1u);
  EXPECT_EQ(early->at(0).first_seen, t1);  // a's first event spans t1..t3
  const auto one = s.findings({.from = t1, .to = t4, .limit = 1});
  ASSERT_TRUE(one.has_value());
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ(one->at(0).first_seen, t4);

  // Nothing present: every open event closes.
  ASSERT_TRUE(s.record_findings(t4 + 10s, {}));
  const auto after = s.findings({.from = t1, .to = t4 + 1h});
  ASSERT_TRUE(after.has_value());
  for (const auto& e : *after) EXPECT_FALSE(e.open) << e.key;

  // Bad observations change nothing.
  auto dup = s.record_findings(t4 + 20s, std::vector{b, b});
  ASSERT_FALSE(dup.has_value());
  EXPECT_NE(dup.error().detail.find("given twice"), std::string::npos) << dup.error().message();
  auto bad = b;
  bad.evidence_json = "{not json";
  auto notjson = s.record_findings(t4 + 20s, std::vector{bad});
  ASSERT_FALSE(notjson.has_value());
  EXPECT_NE(notjson.error().detail.find("evidence is not JSON"), std::string::npos);
  EXPECT_EQ(s.findings({.from = t1, .to = t4 + 1h})->size(), 4u);
}

TEST(HistoryStore, ProbeResultsAppendAndQueryByTimeTargetAndLimit) {
  TempDir dir;
  auto s = open_ok(dir.db());
  for (int i = 0; i < 6; ++i) {
    const bool ok = i % 2 == 0;
    const auto r = s.append_probe(ProbeEvent{
        .time = kT0 + std::chrono::seconds(10 * i),
        .target = ok ? "127.0.0.1:80" : "10.0.0.5:6379",
        .ok = ok,
        .stage = ok ? "close" : "connect",
        .finding_id = ok ? "" : "tcp.refused",
        .stages_json = R"({"connect":{"status":"fail","seconds":0.0004}})",
    });
    ASSERT_TRUE(r.has_value()) << r.error().message();
  }
  const auto all = s.probes({.from = kT0, .to = kT0 + 1h});
  ASSERT_TRUE(all.has_value());
  ASSERT_EQ(all->size(), 6u);
  EXPECT_EQ(all->front().time, kT0 + 50s);  // newest first
  EXPECT_EQ(all->back().time, kT0);

  const auto failing = s.probes({.from = kT0, .to = kT0 + 1h, .target = "10.0.0.5:6379"});
  ASSERT_TRUE(failing.has_value());
  ASSERT_EQ(failing->size(), 3u);
  for (const auto& p : *failing) {
    EXPECT_FALSE(p.ok);
    EXPECT_EQ(p.stage, "connect");
    EXPECT_EQ(p.finding_id, "tcp.refused");
    EXPECT_EQ(p.stages_json, R"({"connect":{"status":"fail","seconds":0.0004}})");
  }
  const auto window = s.probes({.from = kT0 + 10s, .to = kT0 + 30s, .limit = 2});
  ASSERT_TRUE(window.has_value());
  ASSERT_EQ(window->size(), 2u);
  EXPECT_EQ(window->at(0).time, kT0 + 30s);
  EXPECT_EQ(window->at(1).time, kT0 + 20s);

  EXPECT_FALSE(s.append_probe({.time = kT0, .target = "", .stages_json = "{}"}).has_value());
  const auto bad = s.append_probe({.time = kT0, .target = "x:1", .stages_json = "[1,"});
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().detail.find("x:1: stages are not JSON"), std::string::npos);
}

TEST(HistoryStore, ReopeningKeepsEverythingCommitted) {
  TempDir dir;
  {
    auto s = open_ok(dir.db(), HistoryOptions{.raw_retention = 2min});
    feed_minutes(s, 3, {"a"});
    maintain_ok(s, kT0 + 10min);
    append_ok(s, kT0 + 10min, {{"b", 7.0}});
    ASSERT_TRUE(s.record_findings(kT0 + 10min, std::vector{FindingObservation{
                                                   .finding_id = "tcp.orphans",
                                                   .severity = "warning",
                                                   .evidence_json = "{}"}}));
    ASSERT_TRUE(s.append_probe({.time = kT0 + 10min, .target = "h:1", .ok = true,
                                .stage = "close", .stages_json = "{}"}));
    HistoryStore moved = std::move(s);  // the store is movable; the moved-to one owns the file
    EXPECT_EQ(moved.file(), dir.db());
  }
  auto s = open_ok(dir.db(), HistoryOptions{.raw_retention = 2min});
  EXPECT_EQ(s.series_names(), (std::vector<std::string>{"a", "b"}));
  const auto old = query_ok(s, "a", kT0, kT0 + 3min - 1ms, 1min);
  EXPECT_EQ(old.source, HistorySource::rollup);
  ASSERT_EQ(old.points.size(), 3u);
  EXPECT_EQ(old.points[2].max, 259.0);
  EXPECT_EQ(query_ok(s, "b", kT0 + 10min, kT0 + 10min, 1s).points.at(0).avg, 7.0);
  EXPECT_EQ(s.findings({.from = kT0, .to = kT0 + 1h})->size(), 1u);
  EXPECT_EQ(s.probes({.from = kT0, .to = kT0 + 1h})->size(), 1u);
  // The rollup watermark survived too: maintenance does not roll the same minutes again.
  EXPECT_EQ(maintain_ok(s, kT0 + 10min).minutes_rolled, 0u);
  // And an old series keeps its id: new samples land in the same series.
  append_ok(s, kT0 + 10min + 1s, {{"b", 8.0}});
  EXPECT_EQ(query_ok(s, "b", kT0 + 10min, kT0 + 11min, 1min).points.at(0).count, 2);
}

// A child writes one batch every 100 ms and is killed with SIGKILL after about a second. The
// parent reopens: the database passes quick_check (open runs it), every batch is there in order
// with no hole, and the last one is at most 2 s (in practice one batch) before the kill.
TEST(HistoryStore, SurvivesKillNineWhileWriting) {
  TempDir dir;
  const auto file = dir.db();
  const auto started = std::chrono::system_clock::now();
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto s = HistoryStore::open(file);
    if (!s) ::_exit(2);
    for (int i = 0;; ++i) {
      const auto now = std::chrono::floor<Ms>(std::chrono::system_clock::now());
      std::vector<SeriesValue> batch;
      batch.push_back({"batch", double(i)});
      for (int k = 0; k < 200; ++k) {
        batch.push_back({std::string("s").append(std::to_string(k)), double(i)});
      }
      if (!s->append_samples(now, batch)) ::_exit(3);
      std::this_thread::sleep_for(100ms);
    }
  }
  std::this_thread::sleep_for(1s);
  const auto killed = std::chrono::floor<Ms>(std::chrono::system_clock::now());
  ASSERT_EQ(::kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the writer exited early with status "
                                   << (WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  ASSERT_TRUE(std::filesystem::exists(file.string() + "-wal"));  // killed with a live WAL

  auto s = open_ok(file);
  const auto from = std::chrono::floor<Ms>(started);
  const auto h = query_ok(s, "batch", from, killed + 1s, 1ms);
  ASSERT_GE(h.points.size(), 5u);
  for (std::size_t i = 0; i < h.points.size(); ++i) {
    EXPECT_EQ(h.points[i].avg, double(i)) << "batch " << i << " is missing or out of order";
  }
  const auto lag = killed - h.points.back().time;
  EXPECT_LE(lag, 2s);
  EXPECT_GE(lag, 0ms);
  // The last batch is whole: the transaction made all 201 series or none.
  const auto last = h.points.back().time;
  EXPECT_EQ(query_ok(s, "s199", last, last, 1s).points.size(), 1u);
  // And the reopened store takes new batches.
  append_ok(s, killed + 2s, {{"batch", -1.0}});
}

// Appends go to a time-ordered table and maintain() moves complete minutes to the per-series
// one: queries read both, before and after a move, and count each sample exactly once.
TEST(HistoryStore, SamplesNotYetMovedAreQueriedRawAndByStep) {
  TempDir dir;
  auto s = open_ok(dir.db());
  feed_minutes(s, 2, {"a", "b"});  // nothing moved yet: every sample is in `recent`
  const auto raw = query_ok(s, "a", kT0, kT0 + 2min - 1ms, 1s);
  ASSERT_EQ(raw.points.size(), 120u);
  EXPECT_EQ(raw.points[61].avg, 101.0);
  const auto wide = query_ok(s, "b", kT0, kT0 + 2min - 1ms, 30s);
  ASSERT_EQ(wide.points.size(), 4u);
  EXPECT_EQ(wide.points[2].count, 30);
  EXPECT_DOUBLE_EQ(wide.points[2].avg, 114.5);  // 100 .. 129
  EXPECT_EQ(wide.points[3].max, 159.0);
}

TEST(HistoryStore, AMovedMinuteIsReturnedExactlyOnce) {
  TempDir dir;
  auto s = open_ok(dir.db());
  feed_minutes(s, 3, {"a", "b"});
  const auto before = query_ok(s, "a", kT0, kT0 + 3min - 1ms, 7s);
  // 2:30 with a 2 s rollup delay: minutes 0 and 1 move and roll up, minute 2 stays in `recent`.
  const auto st = maintain_ok(s, kT0 + 2min + 30s);
  EXPECT_EQ(st.minutes_rolled, 2u);
  EXPECT_EQ(st.raw_deleted, 0u);
  const auto after = query_ok(s, "a", kT0, kT0 + 3min - 1ms, 7s);
  ASSERT_EQ(after.points.size(), before.points.size());
  std::int64_t total = 0;
  for (std::size_t i = 0; i < after.points.size(); ++i) {
    EXPECT_EQ(after.points[i].count, before.points[i].count) << i;
    EXPECT_EQ(after.points[i].avg, before.points[i].avg) << i;
    total += after.points[i].count;
  }
  EXPECT_EQ(total, 3 * 60);
  // The bucket across the move's boundary (1:55 .. 2:02) holds both sides once each.
  const auto edge = query_ok(s, "a", kT0 + 1min + 55s, kT0 + 2min + 4s, 10s);
  ASSERT_EQ(edge.points.size(), 1u);
  EXPECT_EQ(edge.points[0].count, 10);
  EXPECT_DOUBLE_EQ(edge.points[0].avg, (155 + 156 + 157 + 158 + 159 + 200 + 201 + 202 + 203 +
                                        204) / 10.0);
  // Rollups made from moved samples: min, max, average, count of each minute.
  const auto rolled = query_ok(s, "b", kT0 - 10min, kT0 + 2min - 1ms, 1min);
  ASSERT_EQ(rolled.points.size(), 2u);
  EXPECT_EQ(rolled.points[1].min, 100.0);
  EXPECT_EQ(rolled.points[1].max, 159.0);
  EXPECT_DOUBLE_EQ(rolled.points[1].avg, 129.5);
  EXPECT_EQ(rolled.points[1].count, 60);
  // A late write to a moved minute overwrites the moved sample instead of adding one.
  append_ok(s, kT0 + 30s, {{"a", -5.0}, {"c", 1.0}});
  const auto late = query_ok(s, "a", kT0 + 30s, kT0 + 30s, 1s);
  ASSERT_EQ(late.points.size(), 1u);
  EXPECT_EQ(late.points[0].avg, -5.0);
  EXPECT_EQ(late.points[0].count, 1);
  EXPECT_EQ(query_ok(s, "c", kT0, kT0 + 3min, 1s).points.size(), 1u);
  // The next move (minute 2) keeps minutes apart: every minute still has 60 samples.
  maintain_ok(s, kT0 + 3min + 30s);
  const auto all = query_ok(s, "a", kT0, kT0 + 3min - 1ms, 1min);
  ASSERT_EQ(all.points.size(), 3u);
  for (const auto& p : all.points) EXPECT_EQ(p.count, 60);
}

TEST(HistoryStore, ReopeningAfterAMoveKeepsBothTablesAndTheBoundary) {
  TempDir dir;
  {
    auto s = open_ok(dir.db());
    feed_minutes(s, 3, {"a"});
    maintain_ok(s, kT0 + 2min + 30s);  // minutes 0, 1 moved; 2 not
  }
  auto s = open_ok(dir.db());
  const auto h = query_ok(s, "a", kT0, kT0 + 3min - 1ms, 1s);
  ASSERT_EQ(h.points.size(), 180u);
  for (std::size_t i = 0; i < h.points.size(); ++i) {
    EXPECT_EQ(h.points[i].avg, double(i / 60 * 100 + i % 60)) << i;
  }
  // The boundary survived: a write into a moved minute still overwrites.
  append_ok(s, kT0 + 10s, {{"a", 42.0}});
  EXPECT_EQ(query_ok(s, "a", kT0, kT0 + 1min - 1ms, 1min).points.at(0).count, 60);
  maintain_ok(s, kT0 + 3min + 30s);
  EXPECT_EQ(query_ok(s, "a", kT0 + 2min, kT0 + 3min - 1ms, 1min).points.at(0).count, 60);
}

// A reader has no writing calls at all: what the writer alone may do does not compile on it.
template <class Connection>
constexpr bool kCanWrite = requires(Connection& c, HistoryTime t, std::span<const SeriesValue> batch,
                                    std::span<const FindingObservation> present, const ProbeEvent& e) {
  c.append_samples(t, batch);
  c.record_findings(t, present);
  c.append_probe(e);
  c.maintain(t);
};
static_assert(kCanWrite<HistoryStore>);
static_assert(!kCanWrite<HistoryReader>);

// A reader connection sees what the writer commits after the reader was opened, new series
// included, from another thread.
TEST(HistoryStore, AReaderOnAnotherThreadSeesTheWritersCommits) {
  TempDir dir;
  auto w = open_ok(dir.db());
  append_ok(w, kT0, {{"a", 1.0}});
  auto opened = HistoryReader::open(dir.db());
  ASSERT_TRUE(opened.has_value()) << opened.error().message();
  HistoryReader r = std::move(*opened);
  EXPECT_EQ(r.series_names(), (std::vector<std::string>{"a"}));
  r.hand_over();  // to the thread below, and back (checked in debug builds)

  for (int i = 1; i < 90; ++i) {
    append_ok(w, kT0 + std::chrono::seconds(i), {{"a", 1.0 + i}, {"new", 2.0 * i}});
  }
  maintain_ok(w, kT0 + 1min + 30s);  // the first minute moves; the rest stays in `recent`
  ASSERT_TRUE(w.append_probe({.time = kT0, .target = "h:1", .ok = true, .stage = "close",
                              .stages_json = "{}"}));

  std::vector<std::string> names;
  std::size_t a_points = 0;
  std::size_t new_points = 0;
  std::size_t probes = 0;
  std::string errors;
  std::thread t([&] {
    // The reader is used by this thread only while it runs.
    names = r.series_names();
    auto a = r.query({.series = "a", .from = kT0, .to = kT0 + 2min, .step = 1s});
    if (a) a_points = a->points.size(); else errors += a.error().message();
    auto n = r.query({.series = "new", .from = kT0, .to = kT0 + 2min, .step = 1s});
    if (n) new_points = n->points.size(); else errors += n.error().message();
    auto p = r.probes({.from = kT0, .to = kT0 + 1h});
    if (p) probes = p->size(); else errors += p.error().message();
    r.hand_over();
  });
  t.join();
  EXPECT_EQ(errors, "");
  EXPECT_EQ(names, (std::vector<std::string>{"a", "new"}));
  EXPECT_EQ(a_points, 90u);
  EXPECT_EQ(new_points, 89u);
  EXPECT_EQ(probes, 1u);

  // The writer keeps writing while the reader exists; the reader sees that too.
  append_ok(w, kT0 + 95s, {{"a", 7.0}});
  EXPECT_EQ(query_ok(r, "a", kT0 + 95s, kT0 + 95s, 1s).points.size(), 1u);
}

#ifndef NDEBUG
// A reader belongs to the thread that used it first: another thread's query fails in a debug
// build (Release has no check).
TEST(HistoryReaderDeathTest, AnotherThreadsQueryFailsInADebugBuild) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  TempDir dir;
  {
    auto w = open_ok(dir.db());
    append_ok(w, kT0, {{"a", 1.0}});
  }
  EXPECT_DEATH(
      {
        auto r = HistoryReader::open(dir.db());
        if (!r) std::abort();
        (void)r->series_names();
        std::thread([&] { (void)r->series_names(); }).join();
      },
      "thread other than its owner");
}
#endif

TEST(HistoryStore, AReaderNeedsAHistoryTheWriterMade) {
  TempDir dir;
  const auto missing = HistoryReader::open(dir.db());
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error().op.find(dir.db().string()), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir.db()));  // a reader never creates the file

  const auto text = dir.path() / "text.db";
  {
    std::ofstream out(text);
    for (int i = 0; i < 100; ++i) out << "not a database, not at all\n";
  }
  const auto notdb = HistoryReader::open(text);
  ASSERT_FALSE(notdb.has_value());
  EXPECT_NE(notdb.error().detail.find("not an SQLite database"), std::string::npos)
      << notdb.error().message();

  // After the writer closed (its WAL checkpointed and removed), a reader still opens and reads.
  {
    auto w = open_ok(dir.db());
    append_ok(w, kT0, {{"a", 3.0}});
  }
  auto r = HistoryReader::open(dir.db());
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(query_ok(*r, "a", kT0, kT0, 1s).points.at(0).avg, 3.0);
}

TEST(HistoryStore, BadQueriesAreErrorsNamingTheProblem) {
  TempDir dir;
  auto s = open_ok(dir.db(), HistoryOptions{.max_points = 100});
  append_ok(s, kT0, {{"x", 1.0}});

  struct Case {
    const char* name;
    HistoryQuery q;
    const char* detail;
  };
  const Case cases[] = {
      {"from after to", {.series = "x", .from = kT0 + 1s, .to = kT0, .step = 1s},
       "from is after to"},
      {"zero step", {.series = "x", .from = kT0, .to = kT0 + 1s, .step = 0s},
       "step must be positive"},
      {"too many points", {.series = "x", .from = kT0, .to = kT0 + 100s, .step = 1s},
       "101 points asked, at most 100"},
  };
  for (const auto& c : cases) {
    const auto r = s.query(c.q);
    ASSERT_FALSE(r.has_value()) << c.name;
    EXPECT_EQ(r.error().op, "history query") << c.name;
    EXPECT_NE(r.error().detail.find(c.detail), std::string::npos)
        << c.name << ": " << r.error().message();
  }
  // Exactly the limit is fine.
  EXPECT_TRUE(s.query({.series = "x", .from = kT0, .to = kT0 + 99s, .step = 1s}).has_value());
  // A series never written has no points (not an error: it may simply not have a sample yet).
  const auto unknown = s.query({.series = "nope", .from = kT0, .to = kT0 + 1s, .step = 1s});
  ASSERT_TRUE(unknown.has_value()) << unknown.error().message();
  EXPECT_EQ(unknown->series, "nope");
  EXPECT_TRUE(unknown->points.empty());

  const auto nan = s.append_samples(kT0, std::vector<SeriesValue>{{"y", 1.0}, {"x", NAN}});
  ASSERT_FALSE(nan.has_value());
  EXPECT_NE(nan.error().detail.find("series \"x\": value is not finite"), std::string::npos);
  EXPECT_FALSE(s.append_samples(kT0, std::vector<SeriesValue>{{"", 1.0}}).has_value());
  // Nothing of a rejected batch was written, not even its new series.
  EXPECT_EQ(s.series_names(), (std::vector<std::string>{"x"}));

  const auto limit = s.probes({.from = kT0, .to = kT0, .limit = 0});
  ASSERT_FALSE(limit.has_value());
  EXPECT_NE(limit.error().detail.find("limit 0"), std::string::npos);
  EXPECT_FALSE(s.findings({.from = kT0 + 1s, .to = kT0}).has_value());
}

TEST(HistoryStore, AFileThatIsNotADatabaseIsAnErrorNamingIt) {
  TempDir dir;
  const auto file = dir.path() / "history.db";
  const std::string line = "this is a text file, not an SQLite database\n";
  {
    std::ofstream out(file);
    for (int i = 0; i < 200; ++i) out << line;
  }
  const auto r = HistoryStore::open(file);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find(file.string()), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().detail.find("not an SQLite database"), std::string::npos)
      << r.error().message();
  // The file was not touched.
  EXPECT_EQ(std::filesystem::file_size(file), 200u * line.size());
}

TEST(HistoryStore, ADamagedDatabaseIsAnErrorNamingIt) {
  TempDir dir;
  const auto file = dir.db();
  {
    auto s = open_ok(file);
    feed_minutes(s, 3, {"a", "b", "c"});
  }  // closing checkpoints the WAL into the file
  const auto size = std::filesystem::file_size(file);
  ASSERT_GT(size, 4096u * 4);
  {
    // Garbage over every page but the first (the header and the schema stay readable).
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    const std::string junk(static_cast<std::size_t>(size) - 4096, '\x5a');
    f.seekp(4096);
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  const auto r = HistoryStore::open(file);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find(file.string()), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().detail.find("damaged"), std::string::npos) << r.error().message();
}

TEST(HistoryStore, OpenErrorsNameTheFileAndTheCause) {
  TempDir dir;
  const auto missing = dir.path() / "no-such-dir" / "history.db";
  const auto r = HistoryStore::open(missing);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().op.find(missing.string()), std::string::npos) << r.error().message();

  const auto bad = HistoryStore::open(dir.db(), HistoryOptions{.raw_retention = 2h,
                                                               .rollup_retention = 1h});
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().detail.find("retention"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir.db()));  // options are checked before creating it
}

// The agent's writer thread (history_writer.h): what is queued is written, by the time the
// writer is gone; a failing job is counted and kept as the last error, the next ones still run.
TEST(HistoryWriter, WritesWhatIsQueuedAndCountsFailures) {
  TempDir dir;
  {
    auto w = HistoryWriter::start(dir.db(), {});
    ASSERT_TRUE(w.has_value()) << w.error().message();
    (*w)->samples(kT0, {{"a", 1.0}, {"b", 2.0}});
    (*w)->samples(kT0 + 1s, {{"a", NAN}});  // refused by the store: the whole batch
    (*w)->samples(kT0 + 2s, {{"a", 3.0}});
    (*w)->findings(kT0 + 2s, {FindingObservation{"x", "x", "warning", "{}"}});
    ProbeEvent e;
    e.time = kT0 + 2s;
    e.target = "127.0.0.1:1";
    e.stage = "connect";
    e.stages_json = "[]";
    (*w)->probe(e);
    (*w)->samples(kT0 + 3s, {});  // nothing to write: not a job
  }  // the destructor writes the queue, then stops
  auto s = open_ok(dir.db());
  const auto a = s.query({.series = "a", .from = kT0, .to = kT0 + 3s, .step = 1s});
  ASSERT_TRUE(a.has_value()) << a.error().message();
  ASSERT_EQ(a->points.size(), 2u);
  EXPECT_EQ(a->points[0].avg, 1.0);
  EXPECT_EQ(a->points[1].avg, 3.0);
  const auto f = s.findings({.from = kT0, .to = kT0 + 3s});
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->size(), 1u);
  const auto p = s.probes({.from = kT0, .to = kT0 + 3s});
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->size(), 1u);

  auto again = HistoryWriter::start(dir.db(), {});
  ASSERT_TRUE(again.has_value());
  (*again)->samples(kT0 + 4s, {{"a", NAN}});
  const auto deadline = std::chrono::steady_clock::now() + 3s;
  while ((*again)->stats().jobs_done < 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  const auto st = (*again)->stats();
  EXPECT_EQ(st.jobs_done, 1u);
  EXPECT_EQ(st.jobs_failed, 1u);
  EXPECT_EQ(st.jobs_dropped, 0u);
  ASSERT_TRUE(st.last_error.has_value());
  EXPECT_NE(st.last_error->detail.find("not finite"), std::string::npos) << st.last_error->message();
}

TEST(HistoryWriter, ADamagedFileIsAnErrorAtStart) {
  TempDir dir;
  {
    std::ofstream out(dir.db());
    out << "not a database\n";
  }
  const auto w = HistoryWriter::start(dir.db(), {});
  ASSERT_FALSE(w.has_value());
  EXPECT_NE(w.error().message().find("not an SQLite database"), std::string::npos) << w.error().message();
}

}  // namespace
}  // namespace connscope::agent
