#pragma once
// The agent's history writes, off the server's thread: a thread of its own owns the writing
// HistoryStore (the one connection that writes; its thread is checked in debug builds), takes
// jobs from a queue (sample batches, findings, probe results), and calls maintain() about once
// a minute. A write that fails is counted and kept as the last error; the agent goes on
// sampling and serving (history is not what it must never stop doing).
//
// The queue is bounded: a disk that stalls for minutes costs the newest jobs (counted as
// dropped), not the agent's memory.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "agent/history.h"
#include "core/error.h"

namespace connscope::agent {

struct HistoryWriterStats {
  std::uint64_t jobs_done = 0;
  std::uint64_t jobs_failed = 0;
  std::uint64_t jobs_dropped = 0;  // the queue was full
  std::uint64_t maintenance_runs = 0;
  std::optional<Error> last_error;
};

// Any thread may queue jobs and read stats; the destructor writes what is queued, then stops.
class HistoryWriter {
 public:
  static constexpr std::size_t kMaxQueued = 600;

  // Opens (or creates) `file` on the calling thread, so that a damaged or unwritable database
  // is an error at start.
  static Result<std::unique_ptr<HistoryWriter>> start(const std::filesystem::path& file, HistoryOptions options,
                                                     std::chrono::milliseconds maintain_every = std::chrono::minutes(1));
  ~HistoryWriter();
  HistoryWriter(const HistoryWriter&) = delete;
  HistoryWriter& operator=(const HistoryWriter&) = delete;

  void samples(HistoryTime t, std::vector<SeriesValue> batch);
  void findings(HistoryTime t, std::vector<FindingObservation> present);
  void probe(ProbeEvent e);

  [[nodiscard]] HistoryWriterStats stats() const;

 private:
  using Job = std::function<Result<void>(HistoryStore&)>;
  HistoryWriter(HistoryStore store, std::chrono::milliseconds maintain_every);
  void push(Job job);
  void run();

  HistoryStore store_;
  std::chrono::milliseconds maintain_every_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  HistoryWriterStats stats_;
  std::thread thread_;
};

}  // namespace connscope::agent
