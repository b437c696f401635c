#pragma once
// `connscope agent`: samples this machine (the fast tier every second on the server's thread,
// the full tier on a thread of its own), keeps a history (history_writer.h), and serves what it
// saw over HTTP (docs/json.md):
//   /api/v1/snapshot  the latest fast and full samples
//   /api/v1/events    the same, live: Server-Sent Events
//   /api/v1/history   series over time (history_series.h names them)
//   /api/v1/findings  the current findings and their events over time
//   /api/v1/probes    the continuous probes (probes.h): each target's latest doctor run
//   /                 the dashboard (dashboard.h), embedded
//   /metrics          Prometheus metrics (metrics.h)
// Security: a bind to anything but a loopback address requires the bearer token on every
// request (401 without it).

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "agent/history.h"
#include "agent/http_server.h"
#include "agent/probes.h"
#include "core/endpoint.h"
#include "core/error.h"
#include "core/text.h"

namespace connscope::agent {

struct AgentOptions {
  Endpoint listen{AF_INET, "127.0.0.1", 9600};
  std::chrono::milliseconds fast_interval{1000};
  std::chrono::milliseconds full_interval{10000};
  // The full dump's share of one core, on average: when a dump costs more than this share of
  // full_interval (about 125 ms of CPU at the default 10 s, some 90,000 sockets), the next one
  // waits until the average is back within it. 0: always full_interval.
  double full_cpu_budget = 0.0125;
  HttpLimits limits;
  std::optional<std::string> token;  // required when set (the caller sets it for non-loopback binds)
  bool owners = false;               // the full tier's /proc/<pid>/fd scan
  // The history database (normally <data dir>/history.db); none: no history, and the history
  // routes answer 503.
  std::optional<std::filesystem::path> history_file;
  HistoryOptions history;
  ProbeSchedulerOptions probes;  // the configured targets and the own listeners' settings
  Lang lang = Lang::en;
};

// How long the full tier waits after a dump that cost `cost` of CPU: `interval`, or longer so
// that its average stays within `budget` of a core (0: no budget).
std::chrono::milliseconds full_wait(std::chrono::milliseconds interval, std::chrono::nanoseconds cost, double budget);

// Is this a loopback address (127.0.0.0/8, ::1)? The only binds that need no token.
bool is_loopback(const Endpoint& e);

// Owns the HTTP server, the sampling timer and the full-tier thread. Start and stop on the
// thread that runs `io` (or before it runs); the full-tier thread hands its samples over under
// a mutex.
class Agent {
 public:
  static Result<std::unique_ptr<Agent>> start(boost::asio::io_context& io, AgentOptions options);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  [[nodiscard]] Endpoint local() const;
  void stop();

  struct State;

 private:
  Agent() = default;
  std::shared_ptr<State> state_;
};

}  // namespace connscope::agent
