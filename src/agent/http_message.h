#pragma once
// The agent's HTTP requests and responses as its handlers see them, the server's limits and
// counters: plain values, without Asio or Beast, for the router, auth and their tests. The server
// itself is http_server.h.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/endpoint.h"

namespace connscope::agent {

struct HttpLimits {
  std::size_t max_connections = 4096;
  std::size_t header_limit = 8 * 1024;
  std::size_t body_limit = 1024;
  std::chrono::milliseconds request_deadline{5000};  // from a request's first byte (or the
                                                     // connection) to its whole header
  std::chrono::milliseconds idle_timeout{60000};     // keep-alive: waiting for the next request
  std::size_t max_streams = 256;                     // event streams open at once; more get 503
  std::size_t stream_backlog = 4 * 1024 * 1024;      // bytes published but not yet written
  std::chrono::milliseconds stream_keepalive{15000};
};

struct HttpRequest {
  std::string method;         // "GET" or "HEAD"
  std::string target;         // path and query, as sent
  std::string authorization;  // the Authorization header, "" when absent
  std::string cookie;         // the Cookie header, "" when absent
  std::string accept_language;  // the Accept-Language header, "" when absent
  Endpoint peer;
};

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra ones
  bool stream = false;  // an event stream: `body` is its start (see above); GET only
  // The stream's channel, for events published per channel (HttpServer::publish with a
  // function): the agent's streams are per language, so each reader gets findings in its own.
  std::string stream_channel;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpStats {
  std::size_t connections = 0;  // open now
  std::uint64_t accepted = 0;
  std::uint64_t refused = 0;    // closed at once: over max_connections
  std::uint64_t requests = 0;
  std::uint64_t cut_off = 0;    // closed: the request header did not come in time
  std::size_t streams = 0;      // event streams open now
  std::uint64_t streams_dropped = 0;  // closed for falling behind (backlog or write deadline)
};

// 405 with `Allow: GET, HEAD`: the API is read-only.
HttpResponse method_not_allowed();

}  // namespace connscope::agent
