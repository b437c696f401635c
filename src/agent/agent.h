#pragma once
// `connscope agent`: samples this machine (the fast tier every second on the server's thread,
// the full tier on a thread of its own) and serves what it saw over HTTP. Routes so far:
//   /api/v1/snapshot  the latest fast and full samples (JSON, docs/json.md)
//   /metrics          the same as Prometheus metrics (metrics.h)
// Security: a bind to anything but a loopback address requires the bearer token on every
// request (401 without it).

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "agent/http_server.h"
#include "core/endpoint.h"
#include "core/error.h"
#include "core/text.h"

namespace connscope::agent {

struct AgentOptions {
  Endpoint listen{AF_INET, "127.0.0.1", 9600};
  std::chrono::milliseconds fast_interval{1000};
  std::chrono::milliseconds full_interval{10000};
  HttpLimits limits;
  std::optional<std::string> token;  // required when set (the caller sets it for non-loopback binds)
  bool owners = false;               // the full tier's /proc/<pid>/fd scan
  Lang lang = Lang::en;
};

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
