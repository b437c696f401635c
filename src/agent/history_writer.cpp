#include "agent/history_writer.h"

namespace connscope::agent {

Result<std::unique_ptr<HistoryWriter>> HistoryWriter::start(const std::filesystem::path& file, HistoryOptions options,
                                                            std::chrono::milliseconds maintain_every) {
  auto store = HistoryStore::open(file, options);
  if (!store) return std::unexpected(store.error());
  std::unique_ptr<HistoryWriter> w(new HistoryWriter(std::move(*store), maintain_every));
  w->store_.hand_over();  // opened here, used on the writer's thread only from now on
  w->thread_ = std::thread([p = w.get()] { p->run(); });
  return w;
}

HistoryWriter::HistoryWriter(HistoryStore store, std::chrono::milliseconds maintain_every)
    : store_(std::move(store)), maintain_every_(maintain_every) {}

HistoryWriter::~HistoryWriter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void HistoryWriter::push(Job job) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    if (queue_.size() >= kMaxQueued) {
      ++stats_.jobs_dropped;
      return;
    }
    queue_.push_back(std::move(job));
  }
  wake_.notify_one();
}

void HistoryWriter::samples(HistoryTime t, std::vector<SeriesValue> batch) {
  if (batch.empty()) return;
  push([t, b = std::move(batch)](HistoryStore& s) { return s.append_samples(t, b); });
}

void HistoryWriter::findings(HistoryTime t, std::vector<FindingObservation> present) {
  push([t, p = std::move(present)](HistoryStore& s) { return s.record_findings(t, p); });
}

void HistoryWriter::probe(ProbeEvent e) {
  push([ev = std::move(e)](HistoryStore& s) { return s.append_probe(ev); });
}

HistoryWriterStats HistoryWriter::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void HistoryWriter::run() {
  auto next_maintenance = std::chrono::steady_clock::now() + maintain_every_;
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait_until(lock, next_maintenance, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty() && stopping_) break;
    std::optional<Job> job;
    if (!queue_.empty()) {
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    const bool maintain = !job && std::chrono::steady_clock::now() >= next_maintenance;
    lock.unlock();
    std::optional<Error> failed;
    bool more = false;
    if (job) {
      if (auto r = (*job)(store_); !r) failed = r.error();
    } else if (maintain) {
      auto now = std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
      auto r = store_.maintain(now);
      if (!r) {
        failed = r.error();
      } else {
        more = r->more;
      }
    }
    lock.lock();
    if (job) ++stats_.jobs_done;
    if (maintain) {
      ++stats_.maintenance_runs;
      // Catching up after a long stop goes on in bounded steps, between the sample batches.
      next_maintenance = std::chrono::steady_clock::now() + (more ? std::chrono::milliseconds(100) : maintain_every_);
    }
    if (failed) {
      if (job) ++stats_.jobs_failed;
      stats_.last_error = std::move(failed);
    }
  }
}

}  // namespace connscope::agent
