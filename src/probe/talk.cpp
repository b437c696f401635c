#include "probe/talk.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cstdint>
#include <utility>

#include "probe/http_reply.h"
#include "probe/watchdog.h"

namespace connscope::probe {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

constexpr std::size_t kReadChunk = 4096;
constexpr std::string_view kUserAgent = "connscope/0.1";

ReadEnd end_of(const error_code& ec, const Deadline& deadline) {
  if (deadline.fired) return ReadEnd::deadline;
  if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) return ReadEnd::eof;
  if (ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
      ec == asio::error::connection_aborted) {
    return ReadEnd::reset;
  }
  return ReadEnd::error;
}

Error to_error(std::string op, const error_code& ec) {
  const int code = ec.category() == boost::system::system_category() ? ec.value() : 0;
  return Error{std::move(op), code, ec.message()};
}

// What an exchange has read so far.
struct Reading {
  std::string bytes;
  std::size_t limit = 0;
  Clock::time_point sent;  // the first byte is timed from here
  std::optional<Clock::duration> first_byte;
};

template <class Stream>
asio::awaitable<error_code> read_more(Stream& stream, Reading& r) {
  const std::size_t old = r.bytes.size();
  const std::size_t room = std::min(kReadChunk, r.limit - old);
  r.bytes.resize(old + room);
  auto [ec, n] = co_await stream.async_read_some(asio::buffer(r.bytes.data() + old, room), kTuple);
  r.bytes.resize(old + n);
  if (n > 0 && !r.first_byte) r.first_byte = Clock::now() - r.sent;
  co_return ec;
}

// Records how a failed operation ended the exchange.
void ended(TalkResult& res, const error_code& ec, const Deadline& deadline, std::string_view what) {
  res.end = end_of(ec, deadline);
  if (ec.category() == asio::error::get_ssl_category()) {
    res.tls_alert = alert_from_ssl_error(static_cast<unsigned long>(ec.value()));
  }
  if (res.end == ReadEnd::error) {
    res.error = to_error(fmt::format("talk {}: {}", protocol_name(res.protocol), what), ec);
  }
}

template <class Stream>
asio::awaitable<void> exchange_plain(Stream& stream, const TalkOptions& o, TalkResult& res,
                                     Reading& r, Deadline& deadline) {
  co_await asio::this_coro::throw_if_cancelled(false);
  const auto opening = opening_bytes(o.protocol);
  // Timed from just before the write: a request this small leaves in the write's first system
  // call, while the resumption after it can come later than the reply.
  r.sent = Clock::now();
  if (!opening.empty()) {
    auto [ec, n] =
        co_await asio::async_write(stream, asio::buffer(opening.data(), opening.size()), kTuple);
    res.bytes_sent = n;
    if (ec) {
      ended(res, ec, deadline, "write");
      deadline.finished = true;
      co_return;
    }
  }
  for (;;) {
    if (r.bytes.size() >= r.limit) {
      res.end = ReadEnd::limit;
      res.limit_reached = true;
      break;
    }
    const auto ec = co_await read_more(stream, r);
    if (ec) {
      ended(res, ec, deadline, "read");
      break;
    }
    if (reply_progress(o.protocol, r.bytes) == ReplyProgress::complete) {
      res.end = ReadEnd::complete;
      break;
    }
  }
  deadline.finished = true;
}

template <class Stream>
asio::awaitable<void> exchange_http(Stream& stream, const TalkOptions& o, TalkResult& res,
                                    Reading& r, Deadline& deadline) {
  co_await asio::this_coro::throw_if_cancelled(false);
  http::request<http::empty_body> req{http::verb::get, o.http_path.empty() ? "/" : o.http_path, 11};
  req.set(http::field::host, o.http_host);
  req.set(http::field::user_agent, kUserAgent);
  req.set(http::field::accept, "*/*");
  req.set(http::field::connection, "close");
  r.sent = Clock::now();  // see exchange_plain
  auto [wec, wn] = co_await http::async_write(stream, req, kTuple);
  res.bytes_sent = wn;
  if (wec) {
    ended(res, wec, deadline, "write request");
    deadline.finished = true;
    co_return;
  }

  // The reading (Beast's parser on the bytes read so far) is http_reply.cpp's; this loop only
  // reads the socket.
  HttpReplyReader reader(o.http_header_limit, r.limit);
  while (reader.take(r.bytes, res) == ReplyProgress::need_more) {
    // A socket read brings bytes or an error, never both.
    const auto ec = co_await read_more(stream, r);
    if (ec) {
      ended(res, ec, deadline, "read response");
      break;
    }
  }
  deadline.finished = true;
}

template <class Stream>
asio::awaitable<TalkResult> talk_on(Stream& stream, TalkOptions o) {
  using namespace asio::experimental::awaitable_operators;
  TalkResult res;
  res.protocol = o.protocol;
  const auto start = Clock::now();
  Reading r;
  r.limit = std::max<std::size_t>(
      1, o.protocol == AppProtocol::http ? o.http_header_limit : o.banner_limit);
  r.sent = start;
  Deadline deadline;
  const Clock::duration limit = o.deadline;
  // An if, not a switch around co_await (g++ 12).
  if (o.protocol == AppProtocol::http) {
    co_await (exchange_http(stream, o, res, r, deadline) || watchdog(stream, limit, deadline));
  } else {
    co_await (exchange_plain(stream, o, res, r, deadline) || watchdog(stream, limit, deadline));
  }
  res.elapsed = Clock::now() - start;
  res.out_of_order_at_deadline = deadline.out_of_order;
  res.first_byte = r.first_byte;
  res.slow = r.first_byte && *r.first_byte > o.slow_first_byte;
  conclude_talk(res, r.bytes);
  co_return res;
}

asio::awaitable<void> drain(tcp::socket& socket, CloseResult& res, std::size_t limit,
                            Deadline& deadline) {
  co_await asio::this_coro::throw_if_cancelled(false);
  std::array<char, kReadChunk> scratch{};
  for (;;) {
    if (res.bytes_discarded >= limit) {
      res.limit_reached = true;
      break;
    }
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(scratch), kTuple);
    res.bytes_discarded += n;
    if (!ec) continue;
    const ReadEnd end = end_of(ec, deadline);
    if (end == ReadEnd::eof) res.how = PeerClose::fin;
    if (end == ReadEnd::reset) res.how = PeerClose::rst;
    if (end == ReadEnd::error) res.error = to_error("close: read", ec);
    break;
  }
  deadline.finished = true;
}

}  // namespace

asio::awaitable<TalkResult> talk(tcp::socket& stream, TalkOptions options) {
  return talk_on(stream, std::move(options));
}

asio::awaitable<TalkResult> talk(asio::ssl::stream<tcp::socket>& stream, TalkOptions options) {
  return talk_on(stream, std::move(options));
}

asio::awaitable<TalkResult> talk(asio::ssl::stream<tcp::socket&>& stream, TalkOptions options) {
  return talk_on(stream, std::move(options));
}

asio::awaitable<CloseResult> observe_close(tcp::socket& socket, std::chrono::milliseconds wait,
                                           std::size_t discard_limit) {
  using namespace asio::experimental::awaitable_operators;
  CloseResult res;
  const auto start = Clock::now();
  error_code ec;
  socket.shutdown(tcp::socket::shutdown_send, ec);
  if (ec) {
    // ENOTCONN: the peer's RST has already torn the connection down.
    if (ec == asio::error::not_connected) {
      res.how = PeerClose::rst;
    } else {
      res.error = to_error("close: shutdown", ec);
    }
    co_return res;
  }
  Deadline deadline;
  const Clock::duration limit = wait;
  co_await (drain(socket, res, discard_limit, deadline) || watchdog(socket, limit, deadline));
  res.after = Clock::now() - start;
  co_return res;
}

}  // namespace connscope::probe
