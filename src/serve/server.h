#pragma once
// `connscope serve`: a known-good (or deliberately misbehaving) TCP/TLS endpoint.
//
// A Server owns its listening sockets and every accepted connection. It runs on one
// io_context; every member function, and the event sink, runs on that io_context's thread.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "core/endpoint.h"
#include "core/error.h"
#include "serve/options.h"

namespace connscope::serve {

// How a connection ended, from the server's side.
enum class CloseReason {
  peer_closed,   // the client sent FIN (or a TLS close)
  peer_reset,    // the client sent RST
  server_closed, // this server closed normally (close-after-accept, HTTP Connection: close)
  server_reset,  // this server sent RST (reset-after-accept)
  server_stop,   // the server was stopped
  tls_failed,    // the TLS handshake failed or timed out
  error,         // another socket error
};

struct Event {
  enum class Kind { accepted, closed, accept_backoff };
  Kind kind = Kind::accepted;
  std::chrono::system_clock::time_point time;
  std::uint64_t id = 0;  // connection number, from 1
  Endpoint listener;
  Endpoint peer;
  Mode mode = Mode::echo;
  // closed
  CloseReason reason = CloseReason::peer_closed;
  std::chrono::nanoseconds duration{};
  std::uint64_t rx_bytes = 0;
  std::uint64_t tx_bytes = 0;
  // accept_backoff: accept() failed for lack of resources (EMFILE and the like)
  Error error;
  std::uint64_t open_fds = 0;
  std::uint64_t fd_limit = 0;
  std::chrono::nanoseconds backoff{};
};

struct Stats {
  std::uint64_t accepted = 0;
  std::uint64_t active = 0;
  std::uint64_t rx_bytes = 0;
  std::uint64_t tx_bytes = 0;
  std::uint64_t peer_resets = 0;
  std::uint64_t accept_backoffs = 0;
};

using EventSink = std::function<void(const Event&)>;

class Server {
 public:
  // Opens, binds and listens on every listener; nothing is accepted until start().
  // Errors name the address (bind 127.0.0.1:80) and carry the errno.
  static Result<std::unique_ptr<Server>> create(boost::asio::io_context& io, Options options,
                                                EventSink sink);
  virtual ~Server() = default;

  // The addresses actually bound (port 0 replaced by the kernel's choice), in listener order.
  [[nodiscard]] virtual std::vector<Listener> listeners() const = 0;
  virtual void start() = 0;
  // Closes the listeners and every connection; the io_context then runs out of work.
  virtual void stop() = 0;
  [[nodiscard]] virtual Stats stats() const = 0;
};

}  // namespace connscope::serve
