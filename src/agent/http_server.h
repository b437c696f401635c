#pragma once
// The agent's HTTP/1.1 server (Boost.Beast): keep-alive, a deadline on every request and on
// keep-alive idleness, limits on header size and on connections, GET and HEAD only (the API is
// read-only). Requests go to one synchronous handler on the server's thread; it must be quick
// (it reads the latest samples; it never samples or waits).
//
// Slow or oversized requests are cut off: a connection whose request header is not complete
// within `request_deadline` is closed (so slowloris connections end), a header over
// `header_limit` gets 431, a body over `body_limit` 413, anything that does not parse 400, a
// method other than GET/HEAD 405. Over `max_connections`, a new connection is closed at once.
//
// Server-Sent Events: a handler that answers with `stream = true` turns the connection into an
// event stream (text/event-stream, ended by closing): the response body is sent first, then
// whatever publish() is given, to every stream at once. A stream whose reader falls behind by
// more than `stream_backlog` bytes, or does not take a write within `request_deadline`, is closed
// (EventSource reconnects); an idle stream gets a comment line every `stream_keepalive`.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "agent/http_message.h"
#include "core/endpoint.h"
#include "core/error.h"

namespace connscope::agent {

// Owns the acceptor and every connection. Created, started, stopped and asked for stats on the
// thread that runs the executor's io_context (one thread).
class HttpServer {
 public:
  // Binds `at` (port 0: the kernel chooses) and listens.
  static Result<std::shared_ptr<HttpServer>> listen(boost::asio::any_io_executor ex, const Endpoint& at,
                                                    HttpLimits limits, HttpHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  [[nodiscard]] Endpoint local() const;
  void start();  // the accept loop
  void stop();   // closes the acceptor and every connection
  // Sends `event` (whole SSE events: "event: x\ndata: ...\n\n") to every open event stream.
  void publish(std::string_view event);
  // The same, with the event each stream gets made for its channel (HttpResponse::
  // stream_channel), once per channel.
  void publish(const std::function<std::string(std::string_view channel)>& event);
  [[nodiscard]] const HttpStats& stats() const;

  struct Impl;

 private:
  HttpServer(boost::asio::any_io_executor ex, boost::asio::ip::tcp::acceptor acceptor, HttpLimits limits,
             HttpHandler handler);
  // Shared with the accept loop and every session, so that destroying the server while they
  // finish (after stop()) is safe.
  std::shared_ptr<Impl> impl_;
};

}  // namespace connscope::agent
