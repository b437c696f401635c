// What a client sends the agent's HTTP server, as the session in agent/http_server.cpp reads
// it, without the socket: Boost.Beast's http::read (the synchronous twin of the session's
// http::async_read: the same read algorithm, flat_buffer and request_parser<string_body> with
// the server's header and body limits, limit_request_parser) on a stream that hands out the
// input in chunks, then agent::take_request (the answers the server gives itself: 400, 413,
// 431, 405; or the request for the handler), keep-alive requests one after the other on the
// same buffer as the session does; then the token check (Auth::check) and the routes' handling
// of the request target that needs no live agent: the path, the history and findings queries
// (parse_history_request, parse_event_request), the dashboard's language (query_param,
// dashboard_lang, dashboard_texts). The same bytes read whole must give the same requests (and a
// refusal where the chunked reading had one).
//
// Input: byte 0 the chunk sizes (0: everything in one read; else 1-64 bytes each, from that
// seed); the rest: the bytes of the connection.

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "agent/api_query.h"
#include "agent/auth.h"
#include "agent/dashboard_texts.h"
#include "agent/http_request.h"
#include "fuzz_check.h"

namespace {

using namespace connscope;
using namespace connscope::agent;
namespace asio = boost::asio;
namespace http = boost::beast::http;

constexpr int kMaxRequests = 16;  // keep-alive requests read from one input
constexpr std::string_view kToken = "0123456789abcdef0123456789abcdef";

// A SyncReadStream over the input: reads of the sizes the input chooses, then EOF.
class InputStream {
 public:
  InputStream(std::string_view bytes, std::uint32_t seed) : rest_(bytes), state_(seed) {}

  template <class MutableBufferSequence>
  std::size_t read_some(const MutableBufferSequence& buffers, boost::system::error_code& ec) {
    if (rest_.empty()) {
      ec = asio::error::eof;
      return 0;
    }
    std::size_t n = rest_.size();
    if (state_ != 0) {
      state_ = state_ * 1103515245u + 12345u;
      n = std::min<std::size_t>(n, 1 + ((state_ >> 16) % 64));
    }
    n = asio::buffer_copy(buffers, asio::buffer(rest_.data(), n));
    rest_.remove_prefix(n);
    ec = {};
    return n;
  }

  template <class MutableBufferSequence>
  std::size_t read_some(const MutableBufferSequence& buffers) {
    boost::system::error_code ec;
    const auto n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

 private:
  std::string_view rest_;
  std::uint32_t state_;
};

// The routes' handling of a request that passed the token check, as far as it needs no live
// agent (router.cpp: the path, then each route's parser of the target's query).
void route_queries(const HttpRequest& r) {
  const HistoryTime now{std::chrono::milliseconds(1'700'000'000'000)};
  const std::string path = r.target.substr(0, r.target.find('?'));
  if (path == "/api/v1/history") {
    if (auto h = parse_history_request(r.target, now)) fuzz::check(h->from <= h->to, "from before to");
  } else if (path == "/api/v1/findings") {
    (void)parse_event_request(r.target, now, std::chrono::hours(1));
  } else if (path == "/api/v1/texts") {
    if (auto lang = dashboard_lang(query_param(r.target, "lang"), r.accept_language)) {
      (void)dashboard_texts(*lang).dump();
    }
  }
}

// Reads the connection's requests as the session does; returns what each became (the answer's
// status, or the handler's request), for the comparison of two ways of reading.
std::vector<std::string> serve(std::string_view bytes, std::uint32_t seed) {
  InputStream stream(bytes, seed);
  const HttpLimits limits;
  const Auth auth{std::string(kToken)};
  const Auth open{std::nullopt};
  boost::beast::flat_buffer buffer;
  std::vector<std::string> seen;
  for (int i = 0; i < kMaxRequests; ++i) {
    RequestParser parser;
    limit_request_parser(parser, limits);
    boost::system::error_code ec;
    http::read(stream, buffer, parser, ec);
    // The session's own ends of a connection.
    if (ec == http::error::end_of_stream || ec == asio::error::eof) break;
    const RequestIntake in = take_request(ec, parser.get());
    fuzz::check(in.answer.has_value() != in.request.has_value(), "an answer or a request");
    if (in.answer) {
      fuzz::check(in.answer->status >= 400 && in.answer->status < 500, "a 4xx answer");
      // Which refusal a malformed request gets may depend on the reads: Beast checks the
      // request line and fields early only in its first put, so the same bad bytes are a 400 at
      // once when they come in one read, and a 431 (header over the limit) or a 400 (the
      // connection ends) later when they come in several. Refused either way; a 405 is for a
      // request that parsed, and must not depend on the reads.
      seen.push_back(in.parsed ? std::to_string(in.answer->status) : "refused");
    } else {
      const HttpRequest& r = *in.request;
      fuzz::check(r.method == "GET" || r.method == "HEAD", "GET or HEAD");
      fuzz::check(!auth.check(r).has_value() || r.authorization != std::string("Bearer ") + std::string(kToken),
                  "the right bearer token passes");
      fuzz::check(!open.check(r).has_value(), "no token: every request passes");
      route_queries(r);
      seen.push_back(r.method + " " + r.target + "\n" + r.authorization + "\n" + r.cookie + "\n" +
                     r.accept_language);
    }
    if (ec || !in.keep_alive) break;
  }
  return seen;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const auto bytes = fuzz::text(data + 1, size - 1);
  const auto seen = serve(bytes, data[0]);
  // How the connection's bytes are cut into reads must not change the requests, up to the first
  // refusal on either side: what Beast refuses can depend on the reads (see serve(); also, in
  // Boost 1.81 a header of exactly header_limit + 1 bytes passes when it comes in one read and is
  // a 431 in several), and a refusal ends the connection.
  if (data[0] != 0) {
    const auto whole = serve(bytes, 0);
    const auto refused = [](const std::vector<std::string>& v) {
      return static_cast<std::size_t>(std::find(v.begin(), v.end(), "refused") - v.begin());
    };
    const std::size_t n = std::min(refused(seen), refused(whole));
    for (std::size_t i = 0; i < n && i < seen.size() && i < whole.size(); ++i) {
      fuzz::check(seen[i] == whole[i], "the same requests, whatever the reads");
    }
    if (n >= seen.size() || n >= whole.size()) {
      // One side ended without a refusal: the other must not have read another request.
      fuzz::check(seen.size() == whole.size() || refused(seen) < seen.size() || refused(whole) < whole.size(),
                  "the same number of requests, whatever the reads");
    }
  }
  return 0;
}
