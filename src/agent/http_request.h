#pragma once
// The agent server's intake of one request, without the socket: the parser's limits, and what
// the server makes of what Beast's parser read (an answer it gives itself: 400, 413, 431, 405;
// or the request for the handler). The session in http_server.cpp reads the socket with
// http::async_read and calls these; the fuzz harness fuzz_agent_http calls them on its input.

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/system/error_code.hpp>
#include <optional>

#include "agent/http_message.h"

namespace connscope::agent {

using RequestParser = boost::beast::http::request_parser<boost::beast::http::string_body>;

// A parser for the next request, with the limits' header and body caps.
void limit_request_parser(RequestParser& parser, const HttpLimits& limits);

struct RequestIntake {
  std::optional<HttpResponse> answer;  // sent as it is, without the handler
  std::optional<HttpRequest> request;  // else: for the handler (its peer is the caller's to set)
  bool parsed = false;                 // the request parsed (HttpStats::requests counts it)
  bool keep_alive = false;
  bool head = false;
};

// `ec`: how the read ended, not one of the errors that end the connection (end of stream, EOF,
// reset, abort, the deadline), which the session handles itself. `req`: what the parser holds.
RequestIntake take_request(const boost::system::error_code& ec,
                           const boost::beast::http::request<boost::beast::http::string_body>& req);

}  // namespace connscope::agent
