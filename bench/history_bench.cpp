// The agent's history store under a simulated hour (docs/PERFORMANCE.md, "History"): 200 series
// appended once a second as fast as the store takes them, maintain() every 60 batches as the
// agent's writer thread does, then queries of one series. Bytes written come from /proc/self/io
// (wchar: what SQLite wrote; write_bytes: what reached the block layer).
// Usage: history_bench [MINUTES (60)] [DIR (a fresh temporary directory, removed at the end)]
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "agent/history.h"

namespace {

using connscope::agent::HistoryStore;
using connscope::agent::HistoryTime;
using connscope::agent::SeriesValue;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct IoBytes {
  long long wchar = 0;
  long long write_bytes = 0;
};

IoBytes io_now() {
  std::ifstream f("/proc/self/io");
  std::string key;
  long long v = 0;
  IoBytes out;
  while (f >> key >> v) {
    if (key == "wchar:") out.wchar = v;
    if (key == "write_bytes:") out.write_bytes = v;
  }
  return out;
}

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  const int minutes = argc > 1 ? std::atoi(argv[1]) : 60;
  const bool own_dir = argc <= 2;
  const std::filesystem::path dir =
      own_dir ? std::filesystem::temp_directory_path() / fmt::format("connscope-history-bench-{}", ::getpid())
              : std::filesystem::path(argv[2]);
  if (minutes < 15) {
    fmt::print(stderr, "history_bench: MINUTES must be at least 15 (the queries read 15 minutes)\n");
    return 2;
  }
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto file = dir / "history.db";
  auto opened = HistoryStore::open(file);
  if (!opened) {
    fmt::print(stderr, "history_bench: {}\n", opened.error().message());
    return 3;
  }
  auto& store = *opened;
  static constexpr const char* kStates[] = {"ESTABLISHED", "SYN_SENT",   "SYN_RECV", "FIN_WAIT1",
                                            "FIN_WAIT2",   "TIME_WAIT",  "CLOSE",    "CLOSE_WAIT",
                                            "LAST_ACK",    "LISTEN",     "CLOSING"};
  std::vector<std::string> names;
  for (std::size_t i = 0; names.size() < 200; ++i) {
    names.push_back(fmt::format("tcp_sockets{{state=\"{}\",n=\"{}\"}}", kStates[i % 11], i));
  }
  const HistoryTime t0{std::chrono::milliseconds{1'700'000'040'000}};
  std::vector<double> appends, maintains;
  long long append_bytes = 0, maintain_bytes = 0;
  const IoBytes before = io_now();
  const auto started = Clock::now();
  for (int i = 0; i < minutes * 60; ++i) {
    std::vector<SeriesValue> batch;
    batch.reserve(names.size());
    for (std::size_t k = 0; k < names.size(); ++k) {
      batch.push_back({names[k], static_cast<double>(i % 97) + static_cast<double>(k)});
    }
    const auto t = t0 + std::chrono::seconds(i);
    const long long w = io_now().wchar;
    const auto a = Clock::now();
    if (auto r = store.append_samples(t, batch); !r) {
      fmt::print(stderr, "history_bench: {}\n", r.error().message());
      return 1;
    }
    appends.push_back(ms_since(a));
    append_bytes += io_now().wchar - w;
    if ((i + 1) % 60 == 0) {
      const long long wm = io_now().wchar;
      const auto m = Clock::now();
      if (auto r = store.maintain(t + 1s); !r) {
        fmt::print(stderr, "history_bench: {}\n", r.error().message());
        return 1;
      }
      maintains.push_back(ms_since(m));
      maintain_bytes += io_now().wchar - wm;
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  ::sync();
  const IoBytes after = io_now();
  const auto end = t0 + std::chrono::minutes(minutes);
  std::vector<double> newest, oldest, hourly;
  for (int rep = 0; rep < 20; ++rep) {
    auto a = Clock::now();
    auto r = store.query({.series = names[17], .from = end - 15min, .to = end - 1ms, .step = 1s});
    newest.push_back(ms_since(a));
    if (!r || r->points.size() != 900) fmt::print(stderr, "history_bench: the newest 15 minutes are not 900 points\n");
    a = Clock::now();
    r = store.query({.series = names[17], .from = t0, .to = t0 + 15min - 1ms, .step = 1s});
    oldest.push_back(ms_since(a));
    a = Clock::now();
    r = store.query({.series = names[17], .from = end - 60min, .to = end - 1ms, .step = 1min});
    hourly.push_back(ms_since(a));
  }
  const auto size_of = [&](const char* suffix) {
    std::error_code ec;
    const auto n = std::filesystem::file_size(file.string() + suffix, ec);
    return ec ? 0.0 : static_cast<double>(n) / 1e6;
  };
  fmt::print("{} minutes of 200 series at 1 s in {:.1f} s\n", minutes, seconds);
  fmt::print("written: wchar {:.1f} MB (appends {:.1f} MB, maintain {:.1f} MB), write_bytes {:.1f} MB\n",
             static_cast<double>(after.wchar - before.wchar) / 1e6, static_cast<double>(append_bytes) / 1e6,
             static_cast<double>(maintain_bytes) / 1e6,
             static_cast<double>(after.write_bytes - before.write_bytes) / 1e6);
  fmt::print("database {:.1f} MB, WAL {:.1f} MB\n", size_of(""), size_of("-wal"));
  fmt::print("append p50 {:.2f} ms, p99 {:.2f} ms; maintain p50 {:.1f} ms, p99 {:.1f} ms\n", percentile(appends, .5),
             percentile(appends, .99), percentile(maintains, .5), percentile(maintains, .99));
  fmt::print("query of one series: 15 min at 1 s newest p50 {:.2f} ms, oldest p50 {:.2f} ms; 60 min at 1 min p50 {:.2f} ms\n",
             percentile(newest, .5), percentile(oldest, .5), percentile(hourly, .5));
  if (own_dir) std::filesystem::remove_all(dir);
  return 0;
}
