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
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/write.hpp>
#include <cstdint>
#include <utility>

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
constexpr unsigned kMaxInterim = 32;  // 1xx answers skipped before giving up on a final one
constexpr std::size_t kHeaderValueMax = 256;
constexpr std::string_view kUserAgent = "connscope/0.1";
constexpr std::string_view kRedisPing = "PING\r\n";
// Length 8, then the SSLRequest code 80877103 (1234 << 16 | 5679), both big-endian.
constexpr std::array<char, 8> kSslRequest{'\x00', '\x00', '\x00', '\x08',
                                          '\x04', '\xd2', '\x16', '\x2f'};
constexpr std::uint32_t kMaxFramedReply = 65536;

bool textual(unsigned char c) {
  return (c >= 0x20 && c < 0x7f) || c == '\t' || c == '\r' || c == '\n';
}

bool all_textual(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return textual(static_cast<unsigned char>(c)); });
}

unsigned byte(std::string_view b, std::size_t i) { return static_cast<unsigned char>(b[i]); }

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Calls f(line) for every complete line (without its line end) until f returns a value.
template <class F>
std::optional<ReplyProgress> each_line(std::string_view b, F f) {
  std::size_t at = 0;
  for (std::size_t index = 0;; ++index) {
    const auto nl = b.find('\n', at);
    if (nl == std::string_view::npos) return std::nullopt;
    auto line = b.substr(at, nl - at);
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (auto r = f(line, index)) return r;
    at = nl + 1;
  }
}

ReplyProgress ssh_progress(std::string_view b) {
  const auto r =
      each_line(b, [](std::string_view line, std::size_t index) -> std::optional<ReplyProgress> {
        if (line.starts_with("SSH-")) return ReplyProgress::complete;
        if (index == 0) {
          // Text lines may come before the version line, but not another protocol's reply.
          const auto kind = describe_reply(std::string(line) + "\r\n").kind;
          if (kind != ReplyKind::text) return ReplyProgress::complete;
        }
        return std::nullopt;
      });
  return r.value_or(ReplyProgress::need_more);
}

// SMTP and FTP: "220-..." lines continue a reply, "220 ..." ends it; 1xx is preliminary (FTP's
// "120 ready in 5 minutes") and another reply follows.
ReplyProgress numeric_progress(std::string_view b) {
  const auto r =
      each_line(b, [](std::string_view line, std::size_t) -> std::optional<ReplyProgress> {
        if (line.size() < 3 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2]) ||
            (line.size() > 3 && line[3] != ' ' && line[3] != '-')) {
          return ReplyProgress::complete;  // not a reply line: not this protocol
        }
        if (line.size() > 3 && line[3] == '-') return std::nullopt;
        if (line[0] == '1') return std::nullopt;
        return ReplyProgress::complete;
      });
  return r.value_or(ReplyProgress::need_more);
}

ReplyProgress mysql_progress(std::string_view b) {
  if (b.size() < 4) return ReplyProgress::need_more;
  const std::uint32_t len = byte(b, 0) | (byte(b, 1) << 8) | (byte(b, 2) << 16);
  if (byte(b, 3) != 0 || len == 0 || len > kMaxFramedReply) return ReplyProgress::complete;
  return b.size() >= 4 + std::size_t{len} ? ReplyProgress::complete : ReplyProgress::need_more;
}

ReplyProgress postgres_progress(std::string_view b) {
  if (b[0] == 'S' || b[0] == 'N') return ReplyProgress::complete;
  if (b[0] != 'E') return ReplyProgress::complete;
  if (b.size() < 5) return ReplyProgress::need_more;
  const std::uint32_t len =
      (byte(b, 1) << 24) | (byte(b, 2) << 16) | (byte(b, 3) << 8) | byte(b, 4);
  if (len > 4 && len <= kMaxFramedReply) {
    return b.size() >= 1 + std::size_t{len} ? ReplyProgress::complete : ReplyProgress::need_more;
  }
  // A protocol-2 error: 'E' and a C string.
  return b.find('\0') != std::string_view::npos ? ReplyProgress::complete
                                                : ReplyProgress::need_more;
}

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

// Every response starts with "HTTP/": bytes that cannot begin it need no more waiting (an SSH
// or SMTP server says its line and then waits for us; Beast would wait for a blank line).
bool could_be_http(std::string_view b) {
  constexpr std::string_view kStart = "HTTP/";
  const auto n = std::min(b.size(), kStart.size());
  return b.substr(0, n) == kStart.substr(0, n);
}

std::string header(const http::response<http::empty_body>& m, http::field f) {
  const auto it = m.find(f);
  if (it == m.end()) return {};
  const auto v = it->value();
  return escape_preview(std::string_view(v.data(), v.size()), kHeaderValueMax);
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

  // The bytes are read here and handed to Beast's parser, not read by Beast: they stay whole for
  // describe_reply when they turn out not to be HTTP, and the first one is timed.
  std::optional<http::response_parser<http::empty_body>> parser;
  const auto fresh_parser = [&] {
    parser.emplace();
    parser->header_limit(
        static_cast<std::uint32_t>(std::min<std::size_t>(o.http_header_limit, UINT32_MAX)));
    parser->eager(false);
    // The body is never read here; Beast would still check an announced Content-Length against
    // its 8 MB default and call a large download "not HTTP".
    parser->body_limit(boost::none);
  };
  fresh_parser();
  std::size_t parsed = 0;
  unsigned interim = 0;
  for (;;) {
    if (!could_be_http(r.bytes)) {
      res.end = ReadEnd::invalid;
      res.error =
          Error{"talk http: read response", 0, "not an HTTP response (no \"HTTP/\" at the start)"};
      break;
    }
    if (parsed < r.bytes.size()) {
      error_code pec;
      parsed += parser->put(asio::buffer(r.bytes.data() + parsed, r.bytes.size() - parsed), pec);
      if (pec && pec != http::error::need_more) {
        res.end = ReadEnd::invalid;
        res.error = Error{"talk http: parse response", 0, pec.message()};
        break;
      }
      if (!pec && parser->is_header_done()) {
        const auto& m = parser->get();
        const unsigned status = m.result_int();
        if (status >= 100 && status < 200 && status != 101) {
          // 100 Continue, 103 Early Hints and the like: the final answer follows. A server that
          // sends them without end gets no more than kMaxInterim of our patience (and the
          // stage's deadline bounds the time).
          res.http_interim = ++interim;
          if (interim == 1) res.http_first_interim = status;
          if (interim < kMaxInterim) {
            fresh_parser();
            continue;
          }
          res.end = ReadEnd::complete;
          break;
        }
        HttpReply h;
        h.version = m.version();
        h.status = status;
        const auto reason = m.reason();
        h.reason = escape_preview(std::string_view(reason.data(), reason.size()), kHeaderValueMax);
        h.server = header(m, http::field::server);
        if (status >= 300 && status < 400) h.location = header(m, http::field::location);
        h.content_type = header(m, http::field::content_type);
        if (const auto len = parser->content_length()) h.content_length = *len;
        h.interim = interim;
        res.http = std::move(h);
        res.end = ReadEnd::complete;
        break;
      }
    }
    if (r.bytes.size() >= r.limit) {
      res.end = ReadEnd::limit;
      res.limit_reached = true;
      break;
    }
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
  res.bytes_received = r.bytes.size();
  res.first_byte = r.first_byte;
  res.slow = r.first_byte && *r.first_byte > o.slow_first_byte;
  res.reply = describe_reply(r.bytes);
  if (res.end == ReadEnd::eof) res.peer_close = PeerClose::fin;
  if (res.end == ReadEnd::reset) res.peer_close = PeerClose::rst;
  if (o.protocol == AppProtocol::postgres && res.reply.kind == ReplyKind::postgres_ssl_reply) {
    res.postgres_tls = res.reply.text == "S";
  }
  const std::optional<unsigned> status =
      res.http ? std::optional<unsigned>(res.http->status) : std::nullopt;
  res.outcome = judge(o.protocol, res.end, res.reply, status, res.slow, res.http ? 0 : res.http_interim);
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

std::string_view outcome_name(TalkOutcome o) {
  if (o == TalkOutcome::ok) return "ok";
  if (o == TalkOutcome::slow_first_byte) return "slow_first_byte";
  if (o == TalkOutcome::http_4xx) return "http_4xx";
  if (o == TalkOutcome::http_5xx) return "http_5xx";
  if (o == TalkOutcome::http_no_final) return "http_no_final";
  if (o == TalkOutcome::app_error) return "app_error";
  if (o == TalkOutcome::unexpected_reply) return "unexpected_reply";
  if (o == TalkOutcome::no_response) return "no_response";
  if (o == TalkOutcome::silent) return "silent";
  if (o == TalkOutcome::timeout) return "timeout";
  if (o == TalkOutcome::closed_by_peer) return "closed_by_peer";
  if (o == TalkOutcome::reset_by_peer) return "reset_by_peer";
  return "failed";
}

std::string_view read_end_name(ReadEnd e) {
  if (e == ReadEnd::complete) return "complete";
  if (e == ReadEnd::invalid) return "invalid";
  if (e == ReadEnd::limit) return "limit";
  if (e == ReadEnd::eof) return "eof";
  if (e == ReadEnd::reset) return "reset";
  if (e == ReadEnd::deadline) return "deadline";
  return "error";
}

std::string_view peer_close_name(PeerClose c) {
  if (c == PeerClose::fin) return "fin";
  if (c == PeerClose::rst) return "rst";
  return "none";
}

TalkOptions talk_options(const Target& target) {
  TalkOptions o;
  o.protocol = target.protocol;
  o.http_host = target.http_host();
  if (!target.http_path.empty()) o.http_path = target.http_path;
  return o;
}

std::string_view finding_id(const TalkResult& r) {
  const auto o = r.outcome;
  if (o == TalkOutcome::no_response) return "app.no_response";
  if (o == TalkOutcome::silent) return "app.silent";
  if (o == TalkOutcome::http_5xx) return "app.http_5xx";
  if (o == TalkOutcome::http_4xx) return "app.http_4xx";
  if (o == TalkOutcome::slow_first_byte) return "app.slow_first_byte";
  if (o == TalkOutcome::closed_by_peer && r.bytes_received == 0) return "tcp.closed_after_accept";
  if (o == TalkOutcome::reset_by_peer && r.bytes_received == 0) return "tcp.reset_after_accept";
  if (o == TalkOutcome::app_error) return "app.error_reply";
  if (o == TalkOutcome::unexpected_reply) return "app.unexpected_reply";
  if (o == TalkOutcome::timeout) return "app.incomplete_reply";
  if (o == TalkOutcome::http_no_final) return "http.no_final_response";
  // Part of a reply, then the peer's FIN or RST.
  if (o == TalkOutcome::closed_by_peer || o == TalkOutcome::reset_by_peer) return "app.truncated_reply";
  return "";
}

std::string_view opening_bytes(AppProtocol protocol) {
  if (protocol == AppProtocol::redis) return kRedisPing;
  if (protocol == AppProtocol::postgres) return {kSslRequest.data(), kSslRequest.size()};
  return {};
}

ReplyProgress reply_progress(AppProtocol protocol, std::string_view bytes) {
  if (bytes.empty()) return ReplyProgress::need_more;
  if (protocol == AppProtocol::mysql) return mysql_progress(bytes);
  if (protocol == AppProtocol::postgres) return postgres_progress(bytes);
  // The rest are line protocols: a byte that cannot be in a text line ends the wait at once.
  if (!all_textual(bytes)) return ReplyProgress::complete;
  if (protocol == AppProtocol::ssh) return ssh_progress(bytes);
  if (protocol == AppProtocol::smtp || protocol == AppProtocol::ftp) return numeric_progress(bytes);
  // Redis's reply to PING, an unknown server's greeting, an HTTP status line: one line.
  return bytes.find('\n') != std::string_view::npos ? ReplyProgress::complete
                                                    : ReplyProgress::need_more;
}

TalkOutcome judge(AppProtocol protocol, ReadEnd end, const ReplyDescription& reply,
                  std::optional<unsigned> http_status, bool slow, unsigned interim_only) {
  const auto good = slow ? TalkOutcome::slow_first_byte : TalkOutcome::ok;
  if (end == ReadEnd::error) return TalkOutcome::failed;
  // Interim answers, then silence or more of them than we wait for: no final response.
  if (interim_only > 0 && (end == ReadEnd::deadline || end == ReadEnd::complete)) {
    return TalkOutcome::http_no_final;
  }
  if (reply.size == 0) {
    if (end == ReadEnd::eof) return TalkOutcome::closed_by_peer;
    if (end == ReadEnd::reset) return TalkOutcome::reset_by_peer;
    return end == ReadEnd::deadline ? TalkOutcome::no_response : TalkOutcome::failed;
  }
  // An unknown protocol: whatever the server said is its answer.
  if (protocol == AppProtocol::banner) return good;
  if (end == ReadEnd::eof) return TalkOutcome::closed_by_peer;
  if (end == ReadEnd::reset) return TalkOutcome::reset_by_peer;
  if (end == ReadEnd::deadline) return TalkOutcome::timeout;
  if (end != ReadEnd::complete) return TalkOutcome::unexpected_reply;  // limit, invalid

  const auto k = reply.kind;
  if (protocol == AppProtocol::http) {
    if (!http_status || *http_status < 100 || *http_status > 599)
      return TalkOutcome::unexpected_reply;
    if (*http_status >= 500) return TalkOutcome::http_5xx;
    if (*http_status >= 400) return TalkOutcome::http_4xx;
    return good;
  }
  if (protocol == AppProtocol::ssh) {
    return k == ReplyKind::ssh_banner ? good : TalkOutcome::unexpected_reply;
  }
  if (protocol == AppProtocol::smtp || protocol == AppProtocol::ftp) {
    if (k != ReplyKind::numeric_reply) return TalkOutcome::unexpected_reply;
    if (reply.code == 220) return good;
    return reply.code >= 400 ? TalkOutcome::app_error : TalkOutcome::unexpected_reply;
  }
  if (protocol == AppProtocol::redis) {
    if (k != ReplyKind::redis_reply) return TalkOutcome::unexpected_reply;
    // NOAUTH: alive and answering, it only wants a password first.
    if (reply.text == "+PONG" || (reply.error && reply.state == "NOAUTH")) return good;
    return reply.error ? TalkOutcome::app_error : TalkOutcome::unexpected_reply;
  }
  if (protocol == AppProtocol::mysql) {
    if (k == ReplyKind::mysql_handshake) return good;
    return k == ReplyKind::mysql_error ? TalkOutcome::app_error : TalkOutcome::unexpected_reply;
  }
  if (protocol == AppProtocol::postgres) {
    if (k == ReplyKind::postgres_ssl_reply) return good;
    return k == ReplyKind::postgres_error ? TalkOutcome::app_error : TalkOutcome::unexpected_reply;
  }
  return TalkOutcome::unexpected_reply;
}

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
