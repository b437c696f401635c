#include "agent/history.h"

#include "core/error_text.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <initializer_list>
#include <limits>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "core/thread_owner.h"

namespace connscope::agent {

namespace {

constexpr std::int64_t kMinuteMs = 60'000;
// 1: samples keyed (series, t) only; 2: `recent`, and samples keyed (m, series, t).
constexpr std::int64_t kSchemaVersion = 2;
constexpr std::size_t kMaxNameBytes = 1024;
// Measured for 200 series at 1 s over a simulated hour (bytes written, WAL and checkpoints):
// 4096-byte pages 174-189 MB, 1024-byte pages 128-151 MB, the lower figures with a checkpoint
// every 4000 pages (a WAL of up to ~4 MB) rather than SQLite's 1000.
constexpr const char* kPageSizePragma = "PRAGMA page_size = 1024";
constexpr const char* kAutocheckpointPragma = "PRAGMA wal_autocheckpoint = 4000";

// Raw samples live in two tables, because the order in which SQLite's B-trees grow decides the
// disk traffic: an insert in the middle of a tree rewrites the page (and, when it splits, its
// siblings and parent). `recent`, keyed (t, series), takes every append: a batch is adjacent
// rows at the right edge of the tree. maintain() moves each complete minute into `samples`,
// keyed (m, series, t) with m the minute: a moved minute again lands at the right edge, and a
// series' minute is one contiguous run, so a query seeks once per minute. (Keyed (series, t),
// as in version 1, 200 series at 1 s wrote 4.3 GB an hour; moved there once a minute, 0.6 GB;
// with this layout, 0.13 GB.)
// Invariant: a time below the last move's boundary is only in `samples`, at or above it only in
// `recent`, so a query reads both and counts each sample once. The minute rollups keep count
// and sum rather than the average so that wider steps can average them exactly.
// findings.summary: the text that versions before findings were rendered at read time stored (in
// the agent's --lang). The column stays, so a database written by them opens as it is and its
// rows keep a text to fall back on; rows written now hold '' there, and their texts are rendered
// from finding + severity + evidence when read (api_query.h), in the reader's language.
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS series(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS samples(
  m INTEGER NOT NULL, series INTEGER NOT NULL, t INTEGER NOT NULL, v REAL NOT NULL,
  PRIMARY KEY(m, series, t)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS recent(
  t INTEGER NOT NULL, series INTEGER NOT NULL, v REAL NOT NULL,
  PRIMARY KEY(t, series)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rollups(
  series INTEGER NOT NULL, t INTEGER NOT NULL, n INTEGER NOT NULL,
  vsum REAL NOT NULL, vmin REAL NOT NULL, vmax REAL NOT NULL, vlast REAL NOT NULL,
  PRIMARY KEY(series, t)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS findings(
  id INTEGER PRIMARY KEY, key TEXT NOT NULL, finding TEXT NOT NULL, severity TEXT NOT NULL,
  summary TEXT NOT NULL, evidence TEXT NOT NULL,
  first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, open INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS findings_last_seen ON findings(last_seen);
CREATE INDEX IF NOT EXISTS findings_open ON findings(open) WHERE open = 1;
CREATE TABLE IF NOT EXISTS probes(
  id INTEGER PRIMARY KEY, t INTEGER NOT NULL, target TEXT NOT NULL, ok INTEGER NOT NULL,
  stage TEXT NOT NULL, finding TEXT NOT NULL, stages TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS probes_t ON probes(t);
CREATE INDEX IF NOT EXISTS probes_target_t ON probes(target, t);
)sql";

struct DbClose {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtFinalize {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using DbPtr = std::unique_ptr<sqlite3, DbClose>;
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalize>;

std::int64_t ms(HistoryTime t) { return t.time_since_epoch().count(); }
HistoryTime at(std::int64_t v) { return HistoryTime{std::chrono::milliseconds{v}}; }

// How far past its retention the oldest row may be before maintain() deletes: a sixth of the
// retention, at most 10 minutes. Deleting a minute of every series writes each series' first
// page in `samples` (and in `rollups`), so once every 10 minutes costs a tenth of every minute.
std::int64_t deletion_lag(std::chrono::milliseconds retention) {
  return std::min<std::int64_t>(retention.count() / 6, 10 * kMinuteMs);
}

std::int64_t floor_minute(std::int64_t t) {
  std::int64_t q = t / kMinuteMs;
  if (t % kMinuteMs != 0 && t < 0) --q;
  return q * kMinuteMs;
}

// Heterogeneous lookup, so that a batch's string_views find their ids without a copy.
struct NameHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using SeriesIds = std::unordered_map<std::string, std::int64_t, NameHash, std::equal_to<>>;

std::string column_text(sqlite3_stmt* s, int col) {
  const auto* p = sqlite3_column_text(s, col);
  if (p == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(p),
                     static_cast<std::size_t>(sqlite3_column_bytes(s, col)));
}

}  // namespace

std::string_view history_source_name(HistorySource s) {
  if (s == HistorySource::rollup) return "rollup";
  if (s == HistorySource::mixed) return "mixed";
  return "raw";
}

using Impl = detail::HistoryConnection;

struct detail::HistoryConnection {
  std::filesystem::path file;
  HistoryOptions options;
  DbPtr db;  // declared before the statements: destroyed after them
  std::unordered_map<std::string, StmtPtr> statements;
  // The writer's copy of the series table; a reader keeps none (the writer on another
  // connection adds and forgets series, and a forgotten id may be given again).
  SeriesIds series;
  ThreadOwner owner;
  // The writer's boundary of the last move from `recent` to `samples` (see the schema).
  std::int64_t moved_until = std::numeric_limits<std::int64_t>::min();

  // The id of a series, or nullopt when there is no such series. Read from the table, inside
  // the query's read transaction, on either kind of connection.
  Result<std::optional<std::int64_t>> series_id(std::string_view name) {
    auto s = stmt("SELECT id FROM series WHERE name = ?1");
    if (!s) return std::unexpected(s.error());
    Use use(*s);
    sqlite3_bind_text(*s, 1, name.data(), static_cast<int>(name.size()), SQLITE_STATIC);
    const int rc = sqlite3_step(*s);
    if (rc == SQLITE_DONE) return std::optional<std::int64_t>{};
    if (rc != SQLITE_ROW) return db_error("read series", rc);
    return std::optional<std::int64_t>{sqlite3_column_int64(*s, 0)};
  }

  Result<std::vector<std::string>> read_series_names() {
    std::vector<std::string> names;
    auto s = stmt("SELECT name FROM series ORDER BY name");
    if (!s) return std::unexpected(s.error());
    Use use(*s);
    int rc = 0;
    while ((rc = sqlite3_step(*s)) == SQLITE_ROW) names.push_back(column_text(*s, 0));
    if (rc != SQLITE_DONE) return db_error("read series", rc);
    return names;
  }

  // The failed operation names the database file; SQLite's own message is the detail, and for
  // I/O failures the errno SQLite saw is the code.
  std::unexpected<Error> db_error(std::string_view op, int rc) const {
    int code = 0;
    const int primary = rc & 0xff;
    if (db && (primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN || primary == SQLITE_FULL ||
               primary == SQLITE_READONLY || primary == SQLITE_PERM)) {
      code = sqlite3_system_errno(db.get());
    }
    std::string detail = db ? sqlite3_errmsg(db.get()) : sqlite3_errstr(rc);
    return fail(fmt::format("history {}: {}", file.string(), op), std::move(detail), code);
  }

  // A statement prepared once and kept; the guard resets it when the caller is done, so a
  // statement left mid-walk never holds a read transaction open.
  class Use {
   public:
    explicit Use(sqlite3_stmt* s) : s_(s) {}
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;
    ~Use() {
      sqlite3_reset(s_);
      sqlite3_clear_bindings(s_);
    }
    sqlite3_stmt* get() const { return s_; }

   private:
    sqlite3_stmt* s_;
  };

  Result<sqlite3_stmt*> stmt(const std::string& sql) {
    if (auto it = statements.find(sql); it != statements.end()) return it->second.get();
    sqlite3_stmt* raw = nullptr;
    const int rc = sqlite3_prepare_v3(db.get(), sql.c_str(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    StmtPtr owned(raw);
    if (rc != SQLITE_OK) return db_error(fmt::format("prepare \"{}\"", sql), rc);
    sqlite3_stmt* s = owned.get();
    statements.emplace(sql, std::move(owned));
    return s;
  }

  // Runs a statement that returns no rows (or whose rows do not matter), binding integers.
  Result<int> run(std::string_view op, const std::string& sql,
                  std::initializer_list<std::int64_t> args = {}) {
    auto s = stmt(sql);
    if (!s) return std::unexpected(s.error());
    Use use(*s);
    int i = 1;
    for (std::int64_t a : args) sqlite3_bind_int64(*s, i++, a);
    int rc = SQLITE_ROW;
    while (rc == SQLITE_ROW) rc = sqlite3_step(*s);
    if (rc != SQLITE_DONE) return db_error(op, rc);
    return sqlite3_changes(db.get());
  }

  // A single integer (NULL as nullopt) from a one-row query binding integers.
  Result<std::optional<std::int64_t>> scalar(std::string_view op, const std::string& sql,
                                             std::initializer_list<std::int64_t> args = {}) {
    auto s = stmt(sql);
    if (!s) return std::unexpected(s.error());
    Use use(*s);
    int i = 1;
    for (std::int64_t a : args) sqlite3_bind_int64(*s, i++, a);
    const int rc = sqlite3_step(*s);
    if (rc == SQLITE_DONE) return std::optional<std::int64_t>{};
    if (rc != SQLITE_ROW) return db_error(op, rc);
    if (sqlite3_column_type(*s, 0) == SQLITE_NULL) return std::optional<std::int64_t>{};
    return std::optional<std::int64_t>{sqlite3_column_int64(*s, 0)};
  }

  Result<void> exec(std::string_view op, const char* sql) {
    char* msg = nullptr;
    const int rc = sqlite3_exec(db.get(), sql, nullptr, nullptr, &msg);
    sqlite3_free(msg);  // sqlite3_errmsg still holds the same text
    if (rc != SQLITE_OK) return db_error(op, rc);
    return {};
  }

  // A PRAGMA's one-row text answer ("wal" for journal_mode). The statement is not kept.
  Result<std::string> pragma_text(std::string_view op, const char* sql) {
    auto s = stmt(sql);
    if (!s) return std::unexpected(s.error());
    std::string out;
    {
      Use use(*s);
      const int step = sqlite3_step(*s);
      if (step != SQLITE_ROW) return db_error(op, step);
      out = column_text(*s, 0);
    }
    statements.erase(sql);
    return out;
  }

  Result<std::optional<std::int64_t>> meta(const char* key) {
    auto s = stmt("SELECT value FROM meta WHERE key = ?1");
    if (!s) return std::unexpected(s.error());
    Use use(*s);
    sqlite3_bind_text(*s, 1, key, -1, SQLITE_STATIC);
    const int rc = sqlite3_step(*s);
    if (rc == SQLITE_DONE) return std::optional<std::int64_t>{};
    if (rc != SQLITE_ROW) return db_error("read meta", rc);
    return std::optional<std::int64_t>{sqlite3_column_int64(*s, 0)};
  }

  Result<void> set_meta(const char* key, std::int64_t value) {
    auto s = stmt("INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)");
    if (!s) return std::unexpected(s.error());
    Use use(*s);
    sqlite3_bind_text(*s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(*s, 2, value);
    const int rc = sqlite3_step(*s);
    if (rc != SQLITE_DONE) return db_error("write meta", rc);
    return {};
  }

  Result<void> load_series() {
    auto s = stmt("SELECT id, name FROM series");
    if (!s) return std::unexpected(s.error());
    Use use(*s);
    series.clear();
    int rc = 0;
    while ((rc = sqlite3_step(*s)) == SQLITE_ROW) {
      series.emplace(column_text(*s, 1), sqlite3_column_int64(*s, 0));
    }
    if (rc != SQLITE_DONE) return db_error("read series", rc);
    return {};
  }

  // What a deletion did: the rows deleted, how far it is complete (every row before `done` is
  // gone) and whether it stopped at the row limit.
  struct Deleted {
    std::size_t rows = 0;
    std::int64_t done = 0;
    bool more = false;
  };

  // Deletes raw samples older than `bound`, oldest minute first, stopping once `max_rows` are
  // gone (the rows are contiguous at the left edge of `samples`).
  Result<Deleted> delete_samples_before(std::int64_t bound) {
    std::size_t deleted = 0;
    for (;;) {
      auto oldest = scalar("find the oldest sample", "SELECT min(m) FROM samples");
      if (!oldest) return std::unexpected(oldest.error());
      if (!*oldest || **oldest >= bound) return Deleted{deleted, bound, false};
      const std::int64_t until = std::min(bound, **oldest + kMinuteMs);
      auto n = run("delete samples", "DELETE FROM samples WHERE m = ?1 AND t < ?2",
                   {**oldest, until});
      if (!n) return std::unexpected(n.error());
      deleted += static_cast<std::size_t>(*n);
      if (until >= bound) return Deleted{deleted, bound, false};
      if (deleted >= options.max_delete_rows) return Deleted{deleted, until, true};
    }
  }

  // Deletes rows of `table` (keyed by series, t) older than `bound`, oldest first, in windows
  // of `window` ms, stopping once `max_rows` are gone. Nothing is deleted while the oldest row
  // is less than `min_lag` past the bound: deleting one series' oldest rows writes that
  // series' first page, so retention deletes in chunks rather than every minute. Returns the
  Result<Deleted> delete_before(const std::string& table,
                                                             std::int64_t bound,
                                                             std::int64_t window,
                                                             std::int64_t min_lag) {
    const std::string oldest_sql = fmt::format(
        "SELECT min((SELECT min(t) FROM {0} WHERE series = s.id)) FROM series s", table);
    const std::string delete_sql =
        fmt::format("DELETE FROM {} WHERE series = ?1 AND t < ?2", table);
    std::vector<std::int64_t> ids;
    ids.reserve(series.size());
    for (const auto& [name, id] : series) ids.push_back(id);
    std::size_t deleted = 0;
    std::int64_t done = bound;
    for (;;) {
      auto oldest = scalar(fmt::format("find the oldest row in {}", table), oldest_sql);
      if (!oldest) return std::unexpected(oldest.error());
      if (!*oldest || **oldest >= bound) {
        done = bound;
        break;
      }
      if (deleted == 0 && bound - **oldest < min_lag) {
        done = **oldest;
        break;
      }
      const std::int64_t until = std::min(bound, **oldest + window);
      for (std::int64_t id : ids) {
        auto n = run(fmt::format("delete from {}", table), delete_sql, {id, until});
        if (!n) return std::unexpected(n.error());
        deleted += static_cast<std::size_t>(*n);
      }
      done = until;
      if (until >= bound) break;
      if (deleted >= options.max_delete_rows) return Deleted{deleted, done, true};
    }
    return Deleted{deleted, done, false};
  }

  // A write transaction, BEGIN IMMEDIATE .. COMMIT, is rolled back unless committed, so that an
  // error part-way through a batch leaves the database as it was. A read transaction, BEGIN ..
  // COMMIT around reads, gives several statements one snapshot; it has nothing to undo.
  class Transaction {
   public:
    enum class Kind { write, read };
    explicit Transaction(Impl& impl, Kind kind = Kind::write) : impl_(impl), kind_(kind) {}
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    ~Transaction() {
      if (open_) sqlite3_exec(impl_.db.get(), kind_ == Kind::write ? "ROLLBACK" : "COMMIT", nullptr, nullptr, nullptr);
    }
    Result<void> begin() {
      auto r = kind_ == Kind::write ? impl_.exec("begin transaction", "BEGIN IMMEDIATE")
                                    : impl_.exec("begin read transaction", "BEGIN");
      open_ = r.has_value();
      return r;
    }
    Result<void> commit() {
      auto r = impl_.exec("commit", "COMMIT");
      if (r) open_ = false;
      return r;
    }

   private:
    Impl& impl_;
    Kind kind_;
    bool open_ = false;
  };
};

HistoryQueries::HistoryQueries(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HistoryQueries::HistoryQueries(HistoryQueries&&) noexcept = default;
HistoryQueries& HistoryQueries::operator=(HistoryQueries&&) noexcept = default;
HistoryQueries::~HistoryQueries() = default;

const std::filesystem::path& HistoryQueries::file() const { return impl_->file; }
void HistoryQueries::hand_over() { impl_->owner.release(); }

namespace {

Result<void> check_options(const std::string& op, const HistoryOptions& options) {
  if (options.raw_retention <= std::chrono::milliseconds::zero() ||
      options.rollup_retention < options.raw_retention) {
    return fail_text(op, Msg::err_history_retention);
  }
  if (options.max_points == 0 || options.max_rollup_minutes == 0 ||
      options.max_delete_rows == 0 || options.max_event_limit == 0) {
    return fail_text(op, Msg::err_history_limits);
  }
  return {};
}

// The connection of either kind, before any statement: the writer's creates a missing file, a
// reader's never does. Both wait up to 2 s for a lock another connection holds briefly (a
// reader, the sqlite3 CLI or a backup beside the writer; the writer's checkpoint beside a reader).
Result<std::unique_ptr<Impl>> connect(const std::filesystem::path& file, const HistoryOptions& options, bool reader) {
  if (auto r = check_options(fmt::format("history {}", file.string()), options); !r) return std::unexpected(r.error());
  auto impl = std::make_unique<Impl>();
  impl->file = file;
  impl->options = options;
  sqlite3* raw = nullptr;
  const int flags = (reader ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(file.c_str(), &raw, flags, nullptr);
  impl->db.reset(raw);
  if (rc != SQLITE_OK) return impl->db_error(reader ? "open for reading" : "open", rc);
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, 2000);
  return impl;
}

}  // namespace

Result<HistoryStore> HistoryStore::open(const std::filesystem::path& file,
                                        HistoryOptions options) {
  const std::string op = fmt::format("history {}", file.string());
  auto opened = connect(file, options, false);
  if (!opened) return std::unexpected(opened.error());
  auto impl = std::move(*opened);
  sqlite3* raw = impl->db.get();

  // Before anything writes: a damaged or foreign file is reported, never "repaired" by
  // creating tables in it.
  {
    auto s = impl->stmt("PRAGMA quick_check(1)");
    if (!s) {
      // Preparing reads the schema, which a damaged file may have lost.
      const int code = sqlite3_errcode(raw) & 0xff;
      if (code == SQLITE_NOTADB) return fail_text(op, Msg::err_not_a_database);
      if (code == SQLITE_CORRUPT) {
        return fail_text(op, Msg::err_db_damaged, {{"reason", sqlite3_errmsg(raw)}});
      }
      return std::unexpected(s.error());
    }
    Impl::Use use(*s);
    const int step = sqlite3_step(*s);
    if ((step & 0xff) == SQLITE_NOTADB) return fail_text(op, Msg::err_not_a_database);
    if (step == SQLITE_CORRUPT || (step & 0xff) == SQLITE_CORRUPT) {
      return fail_text(op, Msg::err_db_damaged, {{"reason", sqlite3_errmsg(raw)}});
    }
    if (step != SQLITE_ROW) return impl->db_error("quick_check", step);
    const std::string verdict = column_text(*s, 0);
    if (verdict != "ok") {
      return fail_text(op, Msg::err_db_damaged, {{"reason", "quick_check: " + verdict}});
    }
  }
  impl->statements.clear();

  // A new file only (a WAL database keeps the page size it was created with). The page is the
  // unit every write costs: maintain() writes one page of each series in `rollups` per minute,
  // so a small page keeps the bytes per hour down (see kPageSizePragma).
  if (auto r = impl->exec("set page_size", kPageSizePragma); !r) return std::unexpected(r.error());
  {
    auto mode = impl->pragma_text("set journal_mode=WAL", "PRAGMA journal_mode=WAL");
    if (!mode) return std::unexpected(mode.error());
    if (*mode != "wal") return fail_text(op, Msg::err_db_wal_refused, {{"mode", *mode}});
  }
  impl->statements.clear();
  // NORMAL in WAL mode: a commit is not fsynced, but a killed process loses nothing committed
  // (the WAL is written before COMMIT returns); only a power cut can lose the newest commits.
  if (auto r = impl->exec("set synchronous=NORMAL", "PRAGMA synchronous=NORMAL"); !r) {
    return std::unexpected(r.error());
  }
  if (auto r = impl->exec("set wal_autocheckpoint", kAutocheckpointPragma); !r) {
    return std::unexpected(r.error());
  }

  auto version = impl->scalar("read user_version", "PRAGMA user_version");
  if (!version) return std::unexpected(version.error());
  impl->statements.clear();
  const std::int64_t v = version->value_or(0);
  if (v > kSchemaVersion) {
    return fail_text(op, Msg::err_db_schema_newer,
                     {{"version", std::to_string(v)}, {"supported", std::to_string(kSchemaVersion)}});
  }
  if (v < kSchemaVersion) {
    Impl::Transaction txn(*impl);
    if (auto r = txn.begin(); !r) return std::unexpected(r.error());
    if (v == 1) {
      if (auto r = impl->exec("upgrade schema", "ALTER TABLE samples RENAME TO samples_v1"); !r) {
        return std::unexpected(r.error());
      }
    }
    if (auto r = impl->exec("create schema", kSchema); !r) return std::unexpected(r.error());
    if (v == 1) {
      // Every version-1 sample goes to `samples`; appends at times it already holds must
      // overwrite there, so the move boundary starts past its newest sample.
      if (auto r = impl->exec(
              "upgrade schema",
              "INSERT INTO samples(m, series, t, v) "
              "SELECT t - (t % 60000 + 60000) % 60000, series, t, v FROM samples_v1 "
              "ORDER BY 1, 2, 3;"
              "DROP TABLE samples_v1;"
              "INSERT OR REPLACE INTO meta(key, value) SELECT 'moved_until', m "
              "FROM (SELECT max(t) + 1 AS m FROM samples) WHERE m IS NOT NULL;");
          !r) {
        return std::unexpected(r.error());
      }
    }
    if (auto r = impl->exec("set user_version", "PRAGMA user_version = 2"); !r) {
      return std::unexpected(r.error());
    }
    if (auto r = txn.commit(); !r) return std::unexpected(r.error());
  }
  if (auto r = impl->load_series(); !r) return std::unexpected(r.error());
  auto moved = impl->meta("moved_until");
  if (!moved) return std::unexpected(moved.error());
  if (*moved) impl->moved_until = **moved;
  return HistoryStore(std::move(impl));
}

Result<HistoryReader> HistoryReader::open(const std::filesystem::path& file, HistoryOptions options) {
  const std::string op = fmt::format("history {}", file.string());
  auto opened = connect(file, options, true);
  if (!opened) return std::unexpected(opened.error());
  auto impl = std::move(*opened);
  sqlite3* raw = impl->db.get();

  auto version = impl->scalar("read user_version", "PRAGMA user_version");
  if (!version) {
    if ((sqlite3_errcode(raw) & 0xff) == SQLITE_NOTADB) return fail_text(op, Msg::err_not_a_database);
    return std::unexpected(version.error());
  }
  const std::int64_t v = version->value_or(0);
  if (v != kSchemaVersion) {
    if (v == 0) return fail_text(op, Msg::err_db_not_history);
    return fail_text(op, Msg::err_db_schema_other,
                     {{"version", std::to_string(v)}, {"supported", std::to_string(kSchemaVersion)}});
  }
  // A reader on a rollback-journal file would block the writer; the writer always sets WAL.
  {
    auto mode = impl->pragma_text("read journal_mode", "PRAGMA journal_mode");
    if (!mode) return std::unexpected(mode.error());
    if (*mode != "wal") return fail_text(op, Msg::err_db_not_wal, {{"mode", *mode}});
  }
  impl->statements.clear();
  return HistoryReader(std::move(impl));
}

Result<void> HistoryStore::append_samples(HistoryTime time, std::span<const SeriesValue> batch) {
  Impl& d = *impl_;
  d.owner.check();
  for (const auto& sv : batch) {
    if (sv.series.empty() || sv.series.size() > kMaxNameBytes) {
      return fail_text("history append", Msg::err_series_name_size,
                       {{"size", std::to_string(sv.series.size())}, {"max", std::to_string(kMaxNameBytes)}});
    }
    if (!std::isfinite(sv.value)) {
      return fail_text("history append", Msg::err_series_not_finite, {{"series", sv.series}});
    }
  }
  if (batch.empty()) return {};

  std::vector<std::string_view> added;
  Impl::Transaction txn(d);
  auto result = [&]() -> Result<void> {
    if (auto r = txn.begin(); !r) return r;
    auto ins_series = d.stmt("INSERT INTO series(name) VALUES(?1)");
    if (!ins_series) return std::unexpected(ins_series.error());
    // A time the last move has passed (a late batch, or an overwrite) goes where queries look
    // for it: straight into `samples`.
    auto ins_sample =
        d.stmt(ms(time) < d.moved_until
                   ? "INSERT OR REPLACE INTO samples(m, series, t, v) "
                     "VALUES(?2 - (?2 % 60000 + 60000) % 60000, ?1, ?2, ?3)"
                   : "INSERT OR REPLACE INTO recent(series, t, v) VALUES(?1, ?2, ?3)");
    if (!ins_sample) return std::unexpected(ins_sample.error());
    for (const auto& sv : batch) {
      auto it = d.series.find(std::string_view(sv.series));
      if (it == d.series.end()) {
        Impl::Use use(*ins_series);
        sqlite3_bind_text(*ins_series, 1, sv.series.data(), static_cast<int>(sv.series.size()),
                          SQLITE_STATIC);
        const int rc = sqlite3_step(*ins_series);
        if (rc != SQLITE_DONE) return d.db_error("register series", rc);
        it = d.series.emplace(sv.series, sqlite3_last_insert_rowid(d.db.get())).first;
        added.push_back(it->first);
      }
      Impl::Use use(*ins_sample);
      sqlite3_bind_int64(*ins_sample, 1, it->second);
      sqlite3_bind_int64(*ins_sample, 2, ms(time));
      sqlite3_bind_double(*ins_sample, 3, sv.value);
      const int rc = sqlite3_step(*ins_sample);
      if (rc != SQLITE_DONE) return d.db_error("insert samples", rc);
    }
    return txn.commit();
  }();
  if (!result) {
    // The rollback took the new series rows with it; forget their ids too.
    for (auto name : added) d.series.erase(d.series.find(name));
  }
  return result;
}

std::vector<std::string> HistoryStore::series_names() const {
  impl_->owner.check();
  std::vector<std::string> names;
  names.reserve(impl_->series.size());
  for (const auto& [name, id] : impl_->series) names.push_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> HistoryReader::series_names() const {
  return read_series_names().value_or(std::vector<std::string>{});
}

Result<std::vector<std::string>> HistoryReader::read_series_names() const {
  impl_->owner.check();
  return impl_->read_series_names();
}

namespace {

// The queries, the same on either kind of connection.

Result<HistorySeries> run_query(Impl& d, const HistoryQuery& q) {
  const std::string op = "history query";
  // One read transaction: a reader sees the writer's commits as of its first statement, so the
  // watermark and the rows below agree even if the writer commits in between.
  Impl::Transaction snapshot(d, Impl::Transaction::Kind::read);
  if (auto r = snapshot.begin(); !r) return std::unexpected(r.error());
  if (q.from > q.to) return fail_text(op, Msg::err_from_after_to);
  if (q.step <= std::chrono::milliseconds::zero()) return fail_text(op, Msg::err_step_not_positive);
  auto id = d.series_id(q.series);
  if (!id) return std::unexpected(id.error());
  if (!*id) {
    // Never written (or expired): no points, as a series with a gap everywhere. A dashboard
    // asks for a listener's series before its first sample is stored.
    HistorySeries empty;
    empty.series = q.series;
    empty.step = q.step;
    return empty;
  }
  const std::int64_t series_id = **id;
  const std::int64_t from = ms(q.from);
  const std::int64_t to = ms(q.to);
  const std::int64_t step = q.step.count();
  // Unsigned: to - from can exceed int64 for extreme inputs.
  const auto span = static_cast<std::uint64_t>(to) - static_cast<std::uint64_t>(from);
  const std::uint64_t buckets = span / static_cast<std::uint64_t>(step) + 1;
  if (buckets > d.options.max_points) {
    return fail_text(op, Msg::err_too_many_points,
                     {{"points", std::to_string(buckets)}, {"max", std::to_string(d.options.max_points)}});
  }

  auto raw_from = d.meta("raw_from");
  if (!raw_from) return std::unexpected(raw_from.error());

  HistorySeries out;
  out.series = q.series;
  out.step = q.step;
  // Raw samples cover [raw_from, now]; rollups cover every minute before rolled_until, and
  // raw_from <= rolled_until always (raw rows are deleted only once rolled up). So a range that
  // starts before raw_from reads rollups up to the first minute boundary after raw_from and raw
  // samples from there on: each sample counted once, at the finest resolution still kept.
  std::int64_t split = from;  // rollups for t < split, raw samples from it on
  if (*raw_from && from < **raw_from) {
    split = std::min(floor_minute(**raw_from + kMinuteMs - 1), to + 1);
  }
  out.source = split <= from ? HistorySource::raw
               : split > to  ? HistorySource::rollup
                             : HistorySource::mixed;

  struct Acc {
    std::int64_t n = 0;
    double sum = 0;
    double min = std::numeric_limits<double>::infinity();
    double max = -std::numeric_limits<double>::infinity();
  };
  std::vector<Acc> acc(static_cast<std::size_t>(buckets));
  auto add = [&](std::int64_t t, std::int64_t n, double sum, double mn, double mx) {
    const auto k = static_cast<std::size_t>((static_cast<std::uint64_t>(t) -
                                             static_cast<std::uint64_t>(from)) /
                                            static_cast<std::uint64_t>(step));
    Acc& a = acc[k];
    a.n += n;
    a.sum += sum;
    a.min = std::min(a.min, mn);
    a.max = std::max(a.max, mx);
  };

  if (split > from) {
    auto s = d.stmt(
        "SELECT t, n, vsum, vmin, vmax FROM rollups WHERE series = ?1 AND t >= ?2 AND t < ?3");
    if (!s) return std::unexpected(s.error());
    Impl::Use use(*s);
    sqlite3_bind_int64(*s, 1, series_id);
    sqlite3_bind_int64(*s, 2, from);
    sqlite3_bind_int64(*s, 3, split);
    int rc = 0;
    while ((rc = sqlite3_step(*s)) == SQLITE_ROW) {
      add(sqlite3_column_int64(*s, 0), sqlite3_column_int64(*s, 1), sqlite3_column_double(*s, 2),
          sqlite3_column_double(*s, 3), sqlite3_column_double(*s, 4));
    }
    if (rc != SQLITE_DONE) return d.db_error("read rollups", rc);
  }
  // Raw samples are in `samples` (moved minutes) or `recent` (the newest), never both. In
  // `recent`, keyed (t, series), one series' rows are one per batch among the others: the
  // walk seeks from each batch time to the next instead of scanning every row of the range.
  const char* const raw_sql[] = {
      // One seek per minute, over the minutes `samples` holds.
      "WITH RECURSIVE mm(m) AS ("
      "  SELECT max(?4, (SELECT min(m) FROM samples)) "
      "  UNION ALL "
      "  SELECT m + 60000 FROM mm WHERE m + 60000 <= min(?3, (SELECT max(m) FROM samples))) "
      "SELECT s.t, s.v FROM mm JOIN samples s "
      "  ON s.m = mm.m AND s.series = ?1 AND s.t >= ?2 AND s.t <= ?3",
      "WITH RECURSIVE ts(t) AS ("
      "  SELECT (SELECT min(t) FROM recent WHERE t >= ?2 AND t <= ?3) "
      "  UNION ALL "
      "  SELECT (SELECT min(t) FROM recent WHERE t > ts.t AND t <= ?3) FROM ts "
      "  WHERE ts.t IS NOT NULL) "
      "SELECT r.t, r.v FROM ts JOIN recent r ON r.t = ts.t AND r.series = ?1",
  };
  for (const char* sql : split <= to ? std::span(raw_sql) : std::span<const char* const>()) {
    auto s = d.stmt(sql);
    if (!s) return std::unexpected(s.error());
    Impl::Use use(*s);
    sqlite3_bind_int64(*s, 1, series_id);
    sqlite3_bind_int64(*s, 2, split);
    sqlite3_bind_int64(*s, 3, to);
    sqlite3_bind_int64(*s, 4, floor_minute(split));
    int rc = 0;
    while ((rc = sqlite3_step(*s)) == SQLITE_ROW) {
      const double v = sqlite3_column_double(*s, 1);
      add(sqlite3_column_int64(*s, 0), 1, v, v, v);
    }
    if (rc != SQLITE_DONE) return d.db_error("read samples", rc);
  }

  for (std::size_t k = 0; k < acc.size(); ++k) {
    const Acc& a = acc[k];
    if (a.n == 0) continue;
    out.points.push_back(HistoryPoint{
        .time = at(from + static_cast<std::int64_t>(k) * step),
        .avg = a.sum / static_cast<double>(a.n),
        .min = a.min,
        .max = a.max,
        .count = a.n,
    });
  }
  return out;
}

}  // namespace

Result<void> HistoryStore::record_findings(HistoryTime now,
                                           std::span<const FindingObservation> present) {
  Impl& d = *impl_;
  const std::string op = "history findings";
  d.owner.check();
  std::unordered_set<std::string_view> keys;
  for (const auto& f : present) {
    if (f.finding_id.empty()) return fail_text(op, Msg::err_finding_no_id);
    const std::string_view key = f.key.empty() ? std::string_view(f.finding_id) : f.key;
    if (!keys.insert(key).second) return fail_text(op, Msg::err_finding_key_twice, {{"key", std::string(key)}});
    if (f.severity.empty()) return fail_text(op, Msg::err_finding_no_severity, {{"key", std::string(key)}});
    if (!nlohmann::json::accept(f.evidence_json)) {
      return fail_text(op, Msg::err_finding_evidence, {{"key", std::string(key)}});
    }
  }

  Impl::Transaction txn(d);
  if (auto r = txn.begin(); !r) return r;
  struct Open {
    std::int64_t row;
    std::int64_t last_seen;
  };
  std::unordered_map<std::string, Open, NameHash, std::equal_to<>> open_rows;
  {
    auto s = d.stmt("SELECT id, key, last_seen FROM findings WHERE open = 1");
    if (!s) return std::unexpected(s.error());
    Impl::Use use(*s);
    int rc = 0;
    while ((rc = sqlite3_step(*s)) == SQLITE_ROW) {
      open_rows.emplace(column_text(*s, 1),
                   Open{sqlite3_column_int64(*s, 0), sqlite3_column_int64(*s, 2)});
    }
    if (rc != SQLITE_DONE) return d.db_error("read open findings", rc);
  }
  const std::int64_t t = ms(now);
  auto update = d.stmt(
      "UPDATE findings SET last_seen = ?2, finding = ?3, severity = ?4, summary = '', "
      "evidence = ?6 WHERE id = ?1");
  if (!update) return std::unexpected(update.error());
  auto insert = d.stmt(
      "INSERT INTO findings(id, key, finding, severity, summary, evidence, first_seen, "
      "last_seen, open) VALUES(?1, ?7, ?3, ?4, '', ?6, ?2, ?2, 1)");
  if (!insert) return std::unexpected(insert.error());
  for (const auto& f : present) {
    const std::string_view key = f.key.empty() ? std::string_view(f.finding_id) : f.key;
    auto o = open_rows.find(key);
    const bool extend = o != open_rows.end() && t >= o->second.last_seen &&
                        t - o->second.last_seen <= d.options.finding_gap.count();
    sqlite3_stmt* s = extend ? *update : *insert;
    Impl::Use use(s);
    if (extend) {
      sqlite3_bind_int64(s, 1, o->second.row);
      open_rows.erase(o);
    } else {
      sqlite3_bind_null(s, 1);
      sqlite3_bind_text(s, 7, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
    }
    sqlite3_bind_int64(s, 2, t);
    sqlite3_bind_text(s, 3, f.finding_id.data(), static_cast<int>(f.finding_id.size()),
                      SQLITE_STATIC);
    sqlite3_bind_text(s, 4, f.severity.data(), static_cast<int>(f.severity.size()),
                      SQLITE_STATIC);
    sqlite3_bind_text(s, 6, f.evidence_json.data(), static_cast<int>(f.evidence_json.size()),
                      SQLITE_STATIC);
    const int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE) return d.db_error("write finding", rc);
  }
  // What is still in `open_rows` was not seen now (or only after a gap): its event has ended.
  for (const auto& [key, o] : open_rows) {
    auto r = d.run("close finding", "UPDATE findings SET open = 0 WHERE id = ?1", {o.row});
    if (!r) return std::unexpected(r.error());
  }
  return txn.commit();
}

namespace {

Result<void> check_event_query(const EventQuery& q, const HistoryOptions& o, std::string_view op) {
  if (q.from > q.to) return fail_text(std::string(op), Msg::err_from_after_to);
  if (q.limit == 0 || q.limit > o.max_event_limit) {
    return fail_text(std::string(op), Msg::err_limit_range,
                     {{"value", std::to_string(q.limit)}, {"max", std::to_string(o.max_event_limit)}});
  }
  return {};
}

Result<std::vector<FindingEvent>> run_findings(Impl& d, const EventQuery& q) {
  if (auto r = check_event_query(q, d.options, "history findings query"); !r) {
    return std::unexpected(r.error());
  }
  auto s = d.stmt(
      "SELECT id, key, finding, severity, summary, evidence, first_seen, last_seen, open "
      "FROM findings WHERE last_seen >= ?1 AND first_seen <= ?2 "
      "ORDER BY last_seen DESC, id DESC LIMIT ?3");
  if (!s) return std::unexpected(s.error());
  Impl::Use use(*s);
  sqlite3_bind_int64(*s, 1, ms(q.from));
  sqlite3_bind_int64(*s, 2, ms(q.to));
  sqlite3_bind_int64(*s, 3, static_cast<std::int64_t>(q.limit));
  std::vector<FindingEvent> out;
  int rc = 0;
  while ((rc = sqlite3_step(*s)) == SQLITE_ROW) {
    out.push_back(FindingEvent{
        .row = sqlite3_column_int64(*s, 0),
        .key = column_text(*s, 1),
        .finding_id = column_text(*s, 2),
        .severity = column_text(*s, 3),
        .summary = column_text(*s, 4),
        .evidence_json = column_text(*s, 5),
        .first_seen = at(sqlite3_column_int64(*s, 6)),
        .last_seen = at(sqlite3_column_int64(*s, 7)),
        .open = sqlite3_column_int64(*s, 8) != 0,
    });
  }
  if (rc != SQLITE_DONE) return d.db_error("read findings", rc);
  return out;
}

}  // namespace

Result<void> HistoryStore::append_probe(const ProbeEvent& e) {
  Impl& d = *impl_;
  d.owner.check();
  if (e.target.empty()) return fail_text("history probe", Msg::err_probe_no_target);
  if (!nlohmann::json::accept(e.stages_json)) {
    return fail_text("history probe", Msg::err_probe_stages_json, {{"target", e.target}});

  }
  auto s = d.stmt(
      "INSERT INTO probes(t, target, ok, stage, finding, stages) VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
  if (!s) return std::unexpected(s.error());
  Impl::Use use(*s);
  sqlite3_bind_int64(*s, 1, ms(e.time));
  sqlite3_bind_text(*s, 2, e.target.data(), static_cast<int>(e.target.size()), SQLITE_STATIC);
  sqlite3_bind_int(*s, 3, e.ok ? 1 : 0);
  sqlite3_bind_text(*s, 4, e.stage.data(), static_cast<int>(e.stage.size()), SQLITE_STATIC);
  sqlite3_bind_text(*s, 5, e.finding_id.data(), static_cast<int>(e.finding_id.size()),
                    SQLITE_STATIC);
  sqlite3_bind_text(*s, 6, e.stages_json.data(), static_cast<int>(e.stages_json.size()),
                    SQLITE_STATIC);
  const int rc = sqlite3_step(*s);
  if (rc != SQLITE_DONE) return d.db_error("insert probe result", rc);
  return {};
}

namespace {

Result<std::vector<ProbeEvent>> run_probes(Impl& d, const EventQuery& q) {
  if (auto r = check_event_query(q, d.options, "history probes query"); !r) {
    return std::unexpected(r.error());
  }
  auto s = d.stmt(
      q.target.empty()
          ? std::string("SELECT id, t, target, ok, stage, finding, stages FROM probes "
                        "WHERE t >= ?1 AND t <= ?2 ORDER BY t DESC, id DESC LIMIT ?3")
          : std::string("SELECT id, t, target, ok, stage, finding, stages FROM probes "
                        "WHERE target = ?4 AND t >= ?1 AND t <= ?2 "
                        "ORDER BY t DESC, id DESC LIMIT ?3"));
  if (!s) return std::unexpected(s.error());
  Impl::Use use(*s);
  sqlite3_bind_int64(*s, 1, ms(q.from));
  sqlite3_bind_int64(*s, 2, ms(q.to));
  sqlite3_bind_int64(*s, 3, static_cast<std::int64_t>(q.limit));
  if (!q.target.empty()) {
    sqlite3_bind_text(*s, 4, q.target.data(), static_cast<int>(q.target.size()), SQLITE_STATIC);
  }
  std::vector<ProbeEvent> out;
  int rc = 0;
  while ((rc = sqlite3_step(*s)) == SQLITE_ROW) {
    out.push_back(ProbeEvent{
        .row = sqlite3_column_int64(*s, 0),
        .time = at(sqlite3_column_int64(*s, 1)),
        .target = column_text(*s, 2),
        .ok = sqlite3_column_int64(*s, 3) != 0,
        .stage = column_text(*s, 4),
        .finding_id = column_text(*s, 5),
        .stages_json = column_text(*s, 6),
    });
  }
  if (rc != SQLITE_DONE) return d.db_error("read probe results", rc);
  return out;
}

}  // namespace

Result<HistorySeries> HistoryQueries::query(const HistoryQuery& q) {
  impl_->owner.check();
  return run_query(*impl_, q);
}
Result<std::vector<FindingEvent>> HistoryQueries::findings(const EventQuery& q) {
  impl_->owner.check();
  return run_findings(*impl_, q);
}
Result<std::vector<ProbeEvent>> HistoryQueries::probes(const EventQuery& q) {
  impl_->owner.check();
  return run_probes(*impl_, q);
}

Result<MaintenanceStats> HistoryStore::maintain(HistoryTime now) {
  Impl& d = *impl_;
  d.owner.check();
  MaintenanceStats stats;
  const std::int64_t t = ms(now);
  Impl::Transaction txn(d);
  if (auto r = txn.begin(); !r) return std::unexpected(r.error());
  const std::int64_t end = floor_minute(t - d.options.rollup_delay.count());

  // 0. Complete minutes move from `recent` to `samples`, sorted by series so that each series'
  // page is written once. Not bounded: `recent` holds what was appended since the last call.
  std::int64_t moved_until = d.moved_until;
  if (end > moved_until) {
    auto copied = d.run("move samples",
                        "INSERT OR REPLACE INTO samples(m, series, t, v) "
                        "SELECT t - (t % 60000 + 60000) % 60000 AS m, series, t, v FROM recent "
                        "WHERE t < ?1 ORDER BY m, series, t",
                        {end});
    if (!copied) return std::unexpected(copied.error());
    auto gone = d.run("move samples", "DELETE FROM recent WHERE t < ?1", {end});
    if (!gone) return std::unexpected(gone.error());
    if (auto r = d.set_meta("moved_until", end); !r) return std::unexpected(r.error());
    moved_until = end;
  }

  // 1. Rollups: every complete minute after the watermark that has samples, oldest first.
  auto rolled = d.meta("rolled_until");
  if (!rolled) return std::unexpected(rolled.error());
  const std::string next_sql =
      "SELECT min(m) FROM samples WHERE m >= ?1 AND m < ?2";
  std::int64_t start = 0;
  if (*rolled) {
    start = **rolled;
  } else {
    auto first = d.scalar("find the oldest sample", next_sql,
                          {std::numeric_limits<std::int64_t>::min(), end});
    if (!first) return std::unexpected(first.error());
    start = *first ? floor_minute(**first) : end;
  }
  while (start < end) {
    auto next = d.scalar("find samples to roll up", next_sql, {start, end});
    if (!next) return std::unexpected(next.error());
    if (!*next) {
      start = end;
      break;
    }
    if (stats.minutes_rolled == d.options.max_rollup_minutes) {
      stats.more = true;
      break;
    }
    const std::int64_t m = floor_minute(**next);
    auto r = d.run(
        "roll up samples",
        "INSERT OR REPLACE INTO rollups(series, t, n, vsum, vmin, vmax, vlast) "
        "SELECT g.series, ?1, g.n, g.vsum, g.vmin, g.vmax, "
        "  (SELECT v FROM samples WHERE m = ?1 AND series = g.series ORDER BY t DESC LIMIT 1) "
        "FROM (SELECT series, count(*) AS n, sum(v) AS vsum, min(v) AS vmin, max(v) AS vmax "
        "      FROM samples WHERE m = ?1 GROUP BY series) g",
        {m});
    if (!r) return std::unexpected(r.error());
    ++stats.minutes_rolled;
    start = m + kMinuteMs;
  }
  if (!*rolled || start > **rolled) {
    if (auto r = d.set_meta("rolled_until", start); !r) return std::unexpected(r.error());
  }

  // 2. Raw samples past retention, but never one not yet rolled up.
  const std::int64_t raw_bound = std::min(t - d.options.raw_retention.count(), start);
  auto raw_from = d.meta("raw_from");
  if (!raw_from) return std::unexpected(raw_from.error());
  if (!*raw_from || raw_bound > **raw_from) {
    auto del = d.delete_samples_before(raw_bound);
    if (!del) return std::unexpected(del.error());
    stats.raw_deleted = del->rows;
    stats.more = stats.more || del->more;
    if (auto r = d.set_meta("raw_from", del->done); !r) return std::unexpected(r.error());
  }

  // 3. Rollups and events past the rollup retention.
  const std::int64_t old = t - d.options.rollup_retention.count();
  auto del = d.delete_before("rollups", old, 60 * kMinuteMs,
                             deletion_lag(d.options.rollup_retention));
  if (!del) return std::unexpected(del.error());
  stats.rollups_deleted = del->rows;
  stats.more = stats.more || del->more;
  const auto limit = static_cast<std::int64_t>(d.options.max_delete_rows);
  auto probes = d.run("delete old probe results",
                      "DELETE FROM probes WHERE id IN "
                      "(SELECT id FROM probes WHERE t < ?1 ORDER BY t LIMIT ?2)",
                      {old, limit});
  if (!probes) return std::unexpected(probes.error());
  auto findings = d.run("delete old findings",
                        "DELETE FROM findings WHERE id IN (SELECT id FROM findings "
                        "WHERE last_seen < ?1 AND open = 0 ORDER BY last_seen LIMIT ?2)",
                        {old, limit});
  if (!findings) return std::unexpected(findings.error());
  stats.events_deleted = static_cast<std::size_t>(*probes) + static_cast<std::size_t>(*findings);
  if (*probes == limit || *findings == limit) stats.more = true;

  // 4. Series with nothing left are forgotten, so the list of names does not grow forever.
  // Rollups outlive the raw samples they were made from, so a series can only have emptied
  // when rollups went; `samples` is read whole then (a series' rows are not contiguous).
  bool forgot = false;
  if (stats.rollups_deleted > 0) {
    auto gone = d.run("forget empty series",
                      "DELETE FROM series WHERE "
                      "NOT EXISTS (SELECT 1 FROM rollups WHERE rollups.series = series.id) AND "
                      "id NOT IN (SELECT series FROM samples) AND "
                      "id NOT IN (SELECT series FROM recent)");
    if (!gone) return std::unexpected(gone.error());
    forgot = *gone > 0;
  }
  if (auto r = txn.commit(); !r) return std::unexpected(r.error());
  d.moved_until = moved_until;
  if (forgot) {
    if (auto r = d.load_series(); !r) return std::unexpected(r.error());
  }
  return stats;
}

}  // namespace connscope::agent
