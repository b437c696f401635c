#pragma once
// The agent's history (issue 6): one SQLite database file in the data dir, in WAL mode with
// synchronous=NORMAL, so that a kill -9 loses nothing committed (the WAL is in the page cache)
// and a power cut may lose the newest commits but never the file's integrity.
//
// What it keeps:
// - time series: one row per (series, time) for `raw_retention` (default 1 h), and one-minute
//   rollups (count, sum, min, max, last) for `rollup_retention` (default 30 days; deleted in
//   chunks of a sixth of it, at most 10 min, so a rollup may stay that much longer). A series is
//   named by its full Prometheus-style text, labels included:
//   `tcp_sockets{state="ESTABLISHED",family="ipv4"}`; the store gives each name a small integer
//   id so that a sample row costs ~20 bytes.
// - events: findings (an interval first seen .. last seen per finding instance) and probe results.
//
// `maintain()` (call it about once a minute) moves the complete minutes from the table appends
// write to the one queries read (which keeps the disk writes at ~130 MB an hour for 200 series
// at 1 s, against 4.3 GB when every append went to the per-series layout), folds them into
// rollups and deletes what is past retention. Its rollup and delete work per call is bounded
// (`max_rollup_minutes`, `max_delete_rows`), so that after a long stop it catches up over
// several calls instead of stalling the sampler; `MaintenanceStats::more` says another call has
// work to do. (The move is not bounded: it is what was appended since the previous call.)
//
// Times are Unix milliseconds (`HistoryTime`). A query over a range that raw samples still cover
// reads them; an older range reads the rollups, and the raw samples after the last rolled-up
// minute (so the newest minutes are never missing).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace connscope::agent {

using HistoryTime = std::chrono::sys_time<std::chrono::milliseconds>;

// Unix milliseconds: every time in the agent's JSON.
inline std::int64_t unix_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

struct HistoryOptions {
  std::chrono::milliseconds raw_retention{std::chrono::hours(1)};
  std::chrono::milliseconds rollup_retention{std::chrono::hours(24 * 30)};
  // A finding seen again after a gap longer than this starts a new event instead of extending
  // the old one (the agent was stopped, or the condition went away between two full samples).
  std::chrono::milliseconds finding_gap{std::chrono::minutes(1)};
  // A minute is rolled up once `now` is this far past its end, so that a late batch still counts.
  std::chrono::milliseconds rollup_delay{std::chrono::seconds(2)};
  std::size_t max_points = 11'000;        // per history query; more is an error, not a truncation
  std::size_t max_rollup_minutes = 60;    // per maintain() call
  std::size_t max_delete_rows = 100'000;  // per table, per maintain() call
  std::size_t max_event_limit = 10'000;   // the largest `limit` an event query accepts
};

struct SeriesValue {
  std::string series{};  // the full name, labels included
  double value = 0;    // finite; a missing figure is left out of the batch, not NaN
};

enum class HistorySource { raw, rollup, mixed };
std::string_view history_source_name(HistorySource s);  // "raw", "rollup", "mixed"

struct HistoryQuery {
  std::string series{};
  HistoryTime from{};  // inclusive
  HistoryTime to{};    // inclusive
  std::chrono::milliseconds step{std::chrono::seconds(1)};
};

// One step: bucket k covers [from + k*step, from + (k+1)*step). Buckets without data are left
// out rather than filled, so a gap in sampling shows as a gap.
struct HistoryPoint {
  HistoryTime time{};  // the bucket's start
  double avg = 0;    // over every raw sample in the bucket (rollups weighted by their count)
  double min = 0;
  double max = 0;
  std::int64_t count = 0;  // raw samples behind the point
};

struct HistorySeries {
  std::string series{};
  std::chrono::milliseconds step{};
  HistorySource source = HistorySource::raw;
  std::vector<HistoryPoint> points;  // ascending time
};

// A finding present at one full sample. `key` tells instances of the same finding apart (the
// finding id plus what it is about, e.g. "listen.accept_queue_full 0.0.0.0:80"); empty means the
// finding id is the key.
// A finding is stored as id, severity and evidence, never as text: its texts are rendered when
// it is read, in the reader's language (api_query.h: finding_events_json).
struct FindingObservation {
  std::string key{};
  std::string finding_id{};
  std::string severity{};  // rules::severity_name(): "info", "warning", "critical"
  std::string evidence_json{};  // a JSON object of strings (checked)
};

struct FindingEvent {
  std::int64_t row = 0;  // stable id of the event
  std::string key{};
  std::string finding_id{};
  std::string severity{};
  // The summary text stored by versions that rendered findings before storing them (in the
  // agent's --lang); empty for rows written now. Shown only when the evidence does not render.
  std::string summary{};
  std::string evidence_json{};
  HistoryTime first_seen{};
  HistoryTime last_seen{};
  bool open = false;  // still present at the latest record_findings()
};

struct ProbeEvent {
  std::int64_t row = 0;  // ignored on append
  HistoryTime time{};
  std::string target{};
  bool ok = false;
  std::string stage{};       // the stage that failed, or the last stage run when ok
  std::string finding_id{};  // empty when there is none
  std::string stages_json{};  // a JSON document (checked): the stage timings and statuses
};

struct EventQuery {
  HistoryTime from{};  // inclusive
  HistoryTime to{};    // inclusive
  std::size_t limit = 1000;  // 1 .. HistoryOptions::max_event_limit; the newest are kept
  std::string target{};        // probe results only: empty for every target
};

struct MaintenanceStats {
  std::size_t minutes_rolled = 0;
  std::size_t raw_deleted = 0;
  std::size_t rollups_deleted = 0;
  std::size_t events_deleted = 0;
  bool more = false;  // a bound was reached: call again
};

namespace detail {
struct HistoryConnection;  // one SQLite connection and its prepared statements (history.cpp)
}  // namespace detail

// What both kinds of connection answer: the queries. Not thread-safe: the first thread to use a
// connection owns it (checked in debug builds, core/thread_owner.h), until it hands it over.
class HistoryQueries {
 public:
  Result<HistorySeries> query(const HistoryQuery& q);
  // Events overlapping [from, to], newest last_seen first.
  Result<std::vector<FindingEvent>> findings(const EventQuery& q);
  // Results in [from, to], newest first.
  Result<std::vector<ProbeEvent>> probes(const EventQuery& q);

  [[nodiscard]] const std::filesystem::path& file() const;
  // The owning thread gives the connection up: the next thread to use it owns it.
  void hand_over();

 protected:
  explicit HistoryQueries(std::unique_ptr<detail::HistoryConnection> impl);
  HistoryQueries(HistoryQueries&&) noexcept;
  HistoryQueries& operator=(HistoryQueries&&) noexcept;
  ~HistoryQueries();
  std::unique_ptr<detail::HistoryConnection> impl_;
};

// The writing connection: creates the file, upgrades its schema, writes, maintains, and may
// query what it wrote. There is one per file (the data dir's lock sees to that); HistoryWriter
// (history_writer.h) owns it on a thread of its own. Movable.
class HistoryStore : public HistoryQueries {
 public:
  // Opens or creates `file` (its directory must exist). Runs `PRAGMA quick_check` first: a file
  // that is not an SQLite database, or a damaged one, is an error naming the file, never
  // silently recreated.
  static Result<HistoryStore> open(const std::filesystem::path& file, HistoryOptions options = {});

  // One transaction: all of the batch or none. A series name not seen before is registered.
  // A time already stored for a series is overwritten.
  Result<void> append_samples(HistoryTime time, std::span<const SeriesValue> batch);

  // Every series ever written and not yet fully expired, sorted (from the writer's copy).
  [[nodiscard]] std::vector<std::string> series_names() const;

  // The findings present now: extends the open event of each key (if seen within finding_gap),
  // opens new ones, and closes the open events whose key is absent. One transaction.
  Result<void> record_findings(HistoryTime now, std::span<const FindingObservation> present);

  Result<void> append_probe(const ProbeEvent& e);

  Result<MaintenanceStats> maintain(HistoryTime now);

 private:
  using HistoryQueries::HistoryQueries;
};

// A reading connection on a file the writer (HistoryStore::open) has created, for the queries.
// It has no writing calls, and its connection is opened read-only (SQLITE_OPEN_READONLY): it
// runs no quick_check and never creates the file. Each query sees every commit the writer made
// before it started (WAL readers never wait for the writer, nor it for them). Open one per
// thread. Movable.
class HistoryReader : public HistoryQueries {
 public:
  static Result<HistoryReader> open(const std::filesystem::path& file, HistoryOptions options = {});

  // Every series ever written and not yet fully expired, sorted, read from the table: an
  // error reading it gives an empty list (read_series_names gives the error).
  [[nodiscard]] std::vector<std::string> series_names() const;
  Result<std::vector<std::string>> read_series_names() const;

 private:
  using HistoryQueries::HistoryQueries;
};

}  // namespace connscope::agent
