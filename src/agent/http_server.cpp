#include "agent/http_server.h"

#include "core/error_text.h"

#include "agent/http_request.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <map>
#include <unordered_set>

namespace connscope::agent {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

Endpoint endpoint_of(const tcp::endpoint& e) {
  return Endpoint{e.address().is_v6() ? AF_INET6 : AF_INET, e.address().to_string(), e.port()};
}

struct Conn {
  explicit Conn(tcp::socket s) : stream(std::move(s)) {}
  beast::tcp_stream stream;
};

// An event stream's state, shared by publish() and the stream's writer. `wake` is a timer used
// as a signal: cancelling it wakes the writer.
struct EventStream {
  EventStream(Conn& c, asio::any_io_executor ex) : conn(&c), wake(std::move(ex)) {}
  Conn* conn;
  asio::steady_timer wake;
  std::string pending;
  bool dropped = false;
  std::string channel;
};

}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  asio::any_io_executor ex;
  tcp::acceptor acceptor;
  HttpLimits limits;
  HttpHandler handler;
  HttpStats stats_;
  HttpStats* stats = &stats_;
  std::unordered_set<Conn*> conns;
  std::unordered_set<EventStream*> streams;
  bool stopped = false;

  Impl(asio::any_io_executor e, tcp::acceptor a, HttpLimits l, HttpHandler h)
      : ex(std::move(e)), acceptor(std::move(a)), limits(l), handler(std::move(h)) {}

  asio::awaitable<void> accept_loop() {
    while (!stopped) {
      auto [ec, sock] = co_await acceptor.async_accept(kTuple);
      if (ec) {
        if (stopped || ec == asio::error::operation_aborted) co_return;
        // EMFILE and the like: wait a little rather than spin; the connection stays queued.
        asio::steady_timer t(ex, std::chrono::milliseconds(50));
        co_await t.async_wait(kTuple);
        continue;
      }
      ++stats->accepted;
      if (stats->connections >= limits.max_connections) {
        ++stats->refused;
        error_code ignored;
        sock.close(ignored);
        continue;
      }
      auto conn = std::make_shared<Conn>(std::move(sock));
      // The lambda (and the Impl it holds) lives as long as the session's coroutine.
      asio::co_spawn(ex, [self = shared_from_this(), conn] { return self->session(conn); }, asio::detached);
    }
  }

  // Waits until the socket is readable or `limit` passes; false on the limit or an error.
  asio::awaitable<bool> wait_readable(Conn& c, std::chrono::milliseconds limit) {
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer t(ex, limit);
    auto which = co_await (c.stream.socket().async_wait(tcp::socket::wait_read, kTuple) ||
                           t.async_wait(kTuple));
    if (which.index() == 1) co_return false;
    const auto [ec] = std::get<0>(which);
    co_return !ec;
  }

  asio::awaitable<void> session(std::shared_ptr<Conn> c) {
    conns.insert(c.get());
    ++stats->connections;
    beast::flat_buffer buffer;
    for (bool first = true; !stopped; first = false) {
      // Between requests: wait (idle_timeout) for the next one to start; the first request
      // gets only the request deadline for everything.
      if (!first && buffer.size() == 0 && !co_await wait_readable(*c, limits.idle_timeout)) break;
      RequestParser parser;
      limit_request_parser(parser, limits);
      c->stream.expires_after(limits.request_deadline);
      auto [ec, n] = co_await http::async_read(c->stream, buffer, parser, kTuple);
      c->stream.expires_never();
      if (ec == http::error::end_of_stream || ec == asio::error::eof ||
          ec == asio::error::connection_reset || ec == asio::error::operation_aborted) {
        break;
      }
      if (ec == beast::error::timeout) {
        // The stream closed the socket at its deadline: nothing more can be said on it.
        ++stats->cut_off;
        break;
      }
      RequestIntake in = take_request(ec, parser.get());
      if (in.parsed) ++stats->requests;
      const bool keep_alive = in.keep_alive;
      const bool head = in.head;
      HttpResponse res;
      if (in.answer) {
        res = std::move(*in.answer);
      } else {
        HttpRequest& r = *in.request;
        error_code pec;
        const auto peer = c->stream.socket().remote_endpoint(pec);
        if (!pec) r.peer = endpoint_of(peer);
        res = handler(r);
      }
      if (res.stream && res.status == 200 && !head) {
        co_await stream_events(*c, std::move(res));
        break;
      }
      http::response<http::string_body> out{static_cast<http::status>(res.status), 11};
      out.set(http::field::server, "connscope-agent");
      out.set(http::field::content_type, res.content_type);
      out.set(http::field::cache_control, "no-store");
      for (const auto& [k, v] : res.headers) out.set(k, v);
      out.body() = std::move(res.body);
      out.keep_alive(keep_alive);
      out.prepare_payload();
      c->stream.expires_after(limits.request_deadline);  // a reader that never reads is cut too
      error_code wec;
      if (head) {
        http::response_serializer<http::string_body> sr{out};
        std::tie(wec, std::ignore) = co_await http::async_write_header(c->stream, sr, kTuple);
      } else {
        std::tie(wec, std::ignore) = co_await http::async_write(c->stream, out, kTuple);
      }
      c->stream.expires_never();
      if (wec || !keep_alive) break;
    }
    error_code ignored;
    c->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    c->stream.socket().close(ignored);
    conns.erase(c.get());
    --stats->connections;
  }

  // The rest of an event-stream connection: the header (no length: the body ends when the
  // connection does), the response's body, then what publish() queues, or a comment line when
  // idle so that proxies and the reader see the stream is alive.
  asio::awaitable<void> stream_events(Conn& c, HttpResponse res) {
    if (streams.size() >= limits.max_streams) {
      http::response<http::string_body> busy{http::status::service_unavailable, 11};
      busy.set(http::field::server, "connscope-agent");
      busy.set(http::field::retry_after, "5");
      busy.body() = "too many event streams\n";
      busy.keep_alive(false);
      busy.prepare_payload();
      c.stream.expires_after(limits.request_deadline);
      co_await http::async_write(c.stream, busy, kTuple);
      co_return;
    }
    EventStream es(c, ex);
    es.channel = std::move(res.stream_channel);
    streams.insert(&es);
    ++stats->streams;
    http::response<http::empty_body> head{http::status::ok, 11};
    head.set(http::field::server, "connscope-agent");
    head.set(http::field::content_type, "text/event-stream; charset=utf-8");
    head.set(http::field::cache_control, "no-store");
    for (const auto& [k, v] : res.headers) head.set(k, v);
    head.keep_alive(false);
    http::response_serializer<http::empty_body> sr{head};
    c.stream.expires_after(limits.request_deadline);
    auto [ec, n] = co_await http::async_write_header(c.stream, sr, kTuple);
    std::string sending = std::move(res.body);
    while (!ec && !stopped && !es.dropped) {
      if (sending.empty()) {
        if (es.pending.empty()) {
          c.stream.expires_never();
          es.wake.expires_after(limits.stream_keepalive);
          const auto [wec] = co_await es.wake.async_wait(kTuple);
          if (stopped || es.dropped) break;
          if (!wec && es.pending.empty()) es.pending = ": keep-alive\n\n";
        }
        sending.swap(es.pending);
        continue;
      }
      c.stream.expires_after(limits.request_deadline);
      std::tie(ec, n) = co_await asio::async_write(c.stream, asio::buffer(sending), kTuple);
      sending.clear();
      if (ec == beast::error::timeout) es.dropped = true;
    }
    c.stream.expires_never();
    if (es.dropped) ++stats->streams_dropped;
    streams.erase(&es);
    --stats->streams;
  }

  void publish(std::string_view event) {
    for (EventStream* es : streams) queue(*es, event);
  }

  void publish(const std::function<std::string(std::string_view)>& make) {
    std::map<std::string, std::string, std::less<>> made;  // by channel
    for (EventStream* es : streams) {
      if (es->dropped) continue;
      auto it = made.find(es->channel);
      if (it == made.end()) it = made.emplace(es->channel, make(es->channel)).first;
      queue(*es, it->second);
    }
  }

  void queue(EventStream& es, std::string_view event) {
    if (es.dropped) return;
    if (es.pending.size() + event.size() > limits.stream_backlog) {
      // The reader is not keeping up: end its stream rather than buffer without bound.
      es.dropped = true;
      es.pending.clear();
      error_code ignored;
      es.conn->stream.socket().close(ignored);
    } else {
      es.pending.append(event);
    }
    es.wake.cancel();
  }
};

HttpServer::HttpServer(asio::any_io_executor ex, tcp::acceptor acceptor, HttpLimits limits, HttpHandler handler)
    : impl_(std::make_shared<Impl>(ex, std::move(acceptor), limits, std::move(handler))) {}

const HttpStats& HttpServer::stats() const { return impl_->stats_; }

HttpServer::~HttpServer() { stop(); }

Result<std::shared_ptr<HttpServer>> HttpServer::listen(asio::any_io_executor ex, const Endpoint& at,
                                                       HttpLimits limits, HttpHandler handler) {
  error_code ec;
  const auto address = asio::ip::make_address(at.address, ec);
  const std::string op = at.to_string();
  if (ec) return fail_text(op, Msg::err_not_numeric_address);
  tcp::acceptor acceptor(ex);
  const tcp::endpoint ep(address, at.port);
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec && address.is_v6()) acceptor.set_option(asio::ip::v6_only(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail_text(op, Msg::err_listen, {}, ec.value());
  return std::shared_ptr<HttpServer>
(new HttpServer(ex, std::move(acceptor), limits, std::move(handler)));
}

Endpoint HttpServer::local() const {
  error_code ec;
  const auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? Endpoint{} : endpoint_of(ep);
}

void HttpServer::start() {
  asio::co_spawn(impl_->ex, [self = impl_] { return self->accept_loop(); }, asio::detached);
}

void HttpServer::stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  error_code ignored;
  impl_->acceptor.close(ignored);
  for (Conn* c : impl_->conns) c->stream.socket().close(ignored);
  for (EventStream* es : impl_->streams) es->wake.cancel();
}

void HttpServer::publish(std::string_view event) {
  if (impl_ && !impl_->stopped) impl_->publish(event);
}

void HttpServer::publish(const std::function<std::string(std::string_view channel)>& event) {
  if (impl_ && !impl_->stopped) impl_->publish(event);
}

}  // namespace connscope::agent
