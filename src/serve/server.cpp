#include "serve/server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <array>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <type_traits>
#include <unordered_map>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

#include "serve/tls.h"
#include "sys/limits.h"

namespace connscope::serve {

namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// A TLS client that connects and says nothing must not hold a connection slot forever.
constexpr auto kTlsHandshakeDeadline = std::chrono::seconds(10);
constexpr auto kFirstBackoff = std::chrono::milliseconds(50);
constexpr auto kMaxBackoff = std::chrono::seconds(1);
constexpr std::size_t kGarbageBurst = 1024;
constexpr int kAcceptBatch = 64;

using ReuseAddr = asio::socket_base::reuse_address;
using ReusePort = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;
using FastOpen = asio::detail::socket_option::integer<IPPROTO_TCP, TCP_FASTOPEN>;
using KeepIdle = asio::detail::socket_option::integer<IPPROTO_TCP, TCP_KEEPIDLE>;
using KeepIntvl = asio::detail::socket_option::integer<IPPROTO_TCP, TCP_KEEPINTVL>;
using KeepCnt = asio::detail::socket_option::integer<IPPROTO_TCP, TCP_KEEPCNT>;

Endpoint to_endpoint(const tcp::endpoint& ep) { return endpoint_from_sockaddr(ep.data()); }

bool is_resource_shortage(const boost::system::error_code& ec) {
  return ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space ||
         ec == asio::error::no_memory || ec.value() == ENFILE;
}

CloseReason classify(const boost::system::error_code& ec) {
  if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated ||
      ec == http::error::end_of_stream) {
    return CloseReason::peer_closed;
  }
  if (ec == asio::error::connection_reset || ec == asio::error::broken_pipe) {
    return CloseReason::peer_reset;
  }
  if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor) {
    return CloseReason::server_stop;
  }
  return CloseReason::error;
}

// One accepted connection. Owned by its coroutine (shared_ptr keeps it alive while an
// operation is in flight); the server holds a weak_ptr to close it on stop().
struct Conn {
  Conn(tcp::socket s, asio::io_context& io) : sock(std::move(s)), timer(io) {}
  tcp::socket sock;
  std::optional<asio::ssl::stream<tcp::socket&>> tls;
  asio::steady_timer timer;
  std::uint64_t id = 0;
  std::size_t listener = 0;
  Endpoint peer;
  steady::time_point start = steady::now();
  std::uint64_t rx = 0;
  std::uint64_t tx = 0;
  CloseReason reason = CloseReason::peer_closed;
};

class ServerImpl final : public Server {
 public:
  ServerImpl(asio::io_context& io, Options options, EventSink sink)
      : io_(io), options_(std::move(options)), sink_(std::move(sink)),
        ssl_ctx_(asio::ssl::context::tls_server), rng_(std::random_device{}()) {}

  Result<void> open() {
    if (options_.tls) {
      std::vector<std::string> names;
      for (const auto& l : options_.listeners) names.push_back(l.endpoint.address);
      if (auto r = configure_tls(ssl_ctx_.native_handle(), *options_.tls, names); !r) return r;
    }
    for (const auto& l : options_.listeners) {
      auto acc = std::make_unique<tcp::acceptor>(io_);
      const tcp::endpoint ep(asio::ip::make_address(l.endpoint.address), l.endpoint.port);
      const std::string where = l.endpoint.to_string();
      boost::system::error_code ec;
      if (acc->open(ep.protocol(), ec); ec) return fail_errno("socket " + where, ec.value());
      acc->set_option(ReuseAddr(true), ec);
      // A separate v6 socket, so [::]:P and 0.0.0.0:P can both be listed, as nginx does.
      if (ep.address().is_v6()) acc->set_option(asio::ip::v6_only(true), ec);
      if (options_.reuseport) {
        if (acc->set_option(ReusePort(true), ec); ec) {
          return fail_errno("setsockopt SO_REUSEPORT " + where, ec.value());
        }
      }
      if (acc->bind(ep, ec); ec) return fail_errno("bind " + where, ec.value());
      if (options_.fastopen > 0) {
        if (acc->set_option(FastOpen(options_.fastopen), ec); ec) {
          return fail_errno("setsockopt TCP_FASTOPEN " + where, ec.value());
        }
      }
      if (acc->listen(options_.backlog, ec); ec) return fail_errno("listen " + where, ec.value());
      acc->non_blocking(true, ec);  // the batch accept in accept_loop must not block
      Listener bound = l;
      bound.endpoint = to_endpoint(acc->local_endpoint());
      bound_.push_back(bound);
      acceptors_.push_back(std::move(acc));
    }
    return {};
  }

  std::vector<Listener> listeners() const override { return bound_; }

  void start() override {
    for (std::size_t i = 0; i < acceptors_.size(); ++i) {
      if (bound_[i].mode == Mode::never_accept) continue;
      asio::co_spawn(io_, accept_loop(i), asio::detached);
    }
  }

  void stop() override {
    if (stopped_) return;
    stopped_ = true;
    boost::system::error_code ec;
    for (auto& acc : acceptors_) acc->close(ec);
    for (auto& t : backoff_timers_) t->cancel();
    for (auto& [id, weak] : conns_) {
      if (auto c = weak.lock()) {
        c->timer.cancel();
        c->sock.close(ec);
      }
    }
  }

  Stats stats() const override { return stats_; }

 private:
  asio::awaitable<void> accept_loop(std::size_t index) {
    auto& acc = *acceptors_[index];
    auto timer = std::make_unique<asio::steady_timer>(io_);
    auto* backoff_timer = timer.get();
    backoff_timers_.push_back(std::move(timer));
    std::chrono::milliseconds backoff{0};
    while (!stopped_) {
      auto [ec, sock] = co_await acc.async_accept(kTuple);
      if (stopped_ || ec == asio::error::operation_aborted) co_return;
      if (ec) {
        if (!is_resource_shortage(ec)) continue;  // e.g. ECONNABORTED: that client is gone
        // Out of descriptors: the connection stays in the kernel's queue. Wait rather than
        // retry at once, which would spin on the same error.
        const bool first = backoff.count() == 0;
        backoff = first ? kFirstBackoff : std::min<std::chrono::milliseconds>(backoff * 2, kMaxBackoff);
        ++stats_.accept_backoffs;
        if (first) emit_backoff(index, ec, backoff);
        backoff_timer->expires_after(backoff);
        co_await backoff_timer->async_wait(kTuple);
        continue;
      }
      backoff = std::chrono::milliseconds{0};
      adopt(std::move(sock), index);
      // Drain what else is queued without a trip through epoll per connection, as nginx's
      // multi_accept does: under a connection storm the queue must empty faster than it fills.
      for (int i = 0; i < kAcceptBatch && !stopped_; ++i) {
        tcp::socket more(io_);
        boost::system::error_code bec;
        acc.accept(more, bec);
        if (bec) break;  // would_block: empty; anything else is met again by async_accept
        adopt(std::move(more), index);
      }
    }
  }

  void adopt(tcp::socket sock, std::size_t index) {
    auto c = std::make_shared<Conn>(std::move(sock), io_);
    c->id = ++next_id_;
    c->listener = index;
    boost::system::error_code pec;
    const auto remote = c->sock.remote_endpoint(pec);
    if (!pec) c->peer = to_endpoint(remote);
    ++stats_.accepted;
    ++stats_.active;
    conns_[c->id] = c;
    sink(base_event(Event::Kind::accepted, *c));
    asio::co_spawn(io_, run_connection(c), asio::detached);
  }

  asio::awaitable<void> run_connection(std::shared_ptr<Conn> c) {
    const Mode mode = bound_[c->listener].mode;
    boost::system::error_code ec;
    if (mode == Mode::reset_after_accept) {
      c->sock.set_option(asio::socket_base::linger(true, 0), ec);
      c->sock.close(ec);
      c->reason = CloseReason::server_reset;
    } else if (mode == Mode::close_after_accept) {
      c->sock.shutdown(tcp::socket::shutdown_both, ec);
      c->sock.close(ec);
      c->reason = CloseReason::server_closed;
    } else {
      apply_keepalive(c->sock);
      c->sock.non_blocking(true, ec);  // read_chunk reads after a readiness wait
      if (options_.tls) {
        c->tls.emplace(c->sock, ssl_ctx_);
        c->timer.expires_after(kTlsHandshakeDeadline);
        c->timer.async_wait([weak = std::weak_ptr<Conn>(c)](boost::system::error_code tec) {
          if (tec) return;
          if (auto cc = weak.lock()) {
            boost::system::error_code ignored;
            cc->sock.close(ignored);
          }
        });
        auto [hec] = co_await c->tls->async_handshake(asio::ssl::stream_base::server, kTuple);
        c->timer.cancel();
        if (hec) {
          c->reason = stopped_ ? CloseReason::server_stop : CloseReason::tls_failed;
        } else {
          co_await run_mode(*c->tls, *c, mode);
        }
      } else {
        co_await run_mode(c->sock, *c, mode);
      }
      c->sock.close(ec);
    }
    if (stopped_ && c->reason != CloseReason::server_reset && c->reason != CloseReason::server_closed) {
      c->reason = CloseReason::server_stop;
    }
    finish(*c);
  }

  // An if-chain, not a switch: g++ 12 miscompiles co_await inside switch cases (the resumed
  // coroutine lands on a trap instruction).
  template <class Stream>
  asio::awaitable<void> run_mode(Stream& s, Conn& c, Mode mode) {
    if (mode == Mode::echo) {
      co_await echo(s, c);
    } else if (mode == Mode::discard) {
      co_await discard(s, c);
    } else if (mode == Mode::banner) {
      const bool sent = co_await write_all(s, c, options_.banner + "\r\n");
      if (sent) co_await echo(s, c);
    } else if (mode == Mode::http) {
      co_await serve_http(s, c, std::chrono::nanoseconds{0});
    } else if (mode == Mode::slow_first_byte) {
      co_await serve_http(s, c, options_.delay);
    } else if (mode == Mode::drip) {
      co_await drip(s, c);
    } else if (mode == Mode::garbage) {
      co_await garbage(s, c);
    } else if (mode == Mode::no_close) {
      co_await no_close(s, c);
    }
    // never-accept, reset-after-accept and close-after-accept do no I/O here.
  }

  // Returns false (with c.reason set) when the write failed.
  template <class Stream>
  asio::awaitable<bool> write_all(Stream& s, Conn& c, std::string_view data) {
    auto [ec, n] = co_await asio::async_write(s, asio::buffer(data.data(), data.size()), kTuple);
    count_tx(c, n);
    if (ec) {
      c.reason = classify(ec);
      co_return false;
    }
    co_return true;
  }

  // What one read brought: its bytes (owned, so they outlive the next read) or the error.
  struct Chunk {
    boost::system::error_code ec;
    std::string data;
  };

  // An idle connection holds no buffer: a plain socket waits for readability and then reads
  // into the server's scratch buffer (one thread, so one buffer serves all). A TLS stream cannot
  // be waited on that way, so it reads into a buffer of its own.
  template <class Stream>
  asio::awaitable<boost::system::error_code> wait_readable(Stream& s) {
    if constexpr (std::is_same_v<Stream, tcp::socket>) {
      auto [ec] = co_await s.async_wait(tcp::socket::wait_read, kTuple);
      co_return ec;
    } else {
      co_return boost::system::error_code{};
    }
  }

  template <class Stream>
  asio::awaitable<Chunk> read_chunk(Stream& s, Conn& c) {
    Chunk chunk;
    if constexpr (std::is_same_v<Stream, tcp::socket>) {
      for (;;) {
        chunk.ec = co_await wait_readable(s);
        if (chunk.ec) co_return chunk;
        const std::size_t n = s.read_some(asio::buffer(scratch_), chunk.ec);
        if (chunk.ec == asio::error::would_block) continue;  // woken, but nothing to read
        count_rx(c, n);
        chunk.data.assign(scratch_.data(), n);
        co_return chunk;
      }
    } else {
      chunk.data.resize(scratch_.size());
      auto [ec, n] = co_await s.async_read_some(asio::buffer(chunk.data), kTuple);
      count_rx(c, n);
      chunk.ec = ec;
      chunk.data.resize(n);
      co_return chunk;
    }
  }

  template <class Stream>
  asio::awaitable<void> echo(Stream& s, Conn& c) {
    for (;;) {
      const Chunk chunk = co_await read_chunk(s, c);
      if (chunk.ec) {
        c.reason = classify(chunk.ec);
        co_return;
      }
      const bool sent = co_await write_all(s, c, chunk.data);
      if (!sent) co_return;
    }
  }

  template <class Stream>
  asio::awaitable<void> discard(Stream& s, Conn& c) {
    for (;;) {
      const Chunk chunk = co_await read_chunk(s, c);
      if (chunk.ec) {
        c.reason = classify(chunk.ec);
        co_return;
      }
    }
  }

  template <class Stream>
  asio::awaitable<void> no_close(Stream& s, Conn& c) {
    co_await discard(s, c);
    if (c.reason != CloseReason::peer_closed) co_return;
    // The peer's FIN has arrived; never closing leaves this socket in CLOSE_WAIT, which is
    // what an application that forgets close() looks like.
    c.timer.expires_at(steady::time_point::max());
    co_await c.timer.async_wait(kTuple);
    c.reason = CloseReason::server_stop;
  }

  template <class Stream>
  asio::awaitable<void> drip(Stream& s, Conn& c) {
    const std::string text = options_.banner.empty() ? std::string(" ") : options_.banner + " ";
    for (std::size_t i = 0;; ++i) {
      const bool sent = co_await write_all(s, c, std::string_view(&text[i % text.size()], 1));
      if (!sent) co_return;
      c.timer.expires_after(options_.interval);
      auto [ec] = co_await c.timer.async_wait(kTuple);
      if (ec || stopped_) {
        c.reason = CloseReason::server_stop;
        co_return;
      }
    }
  }

  template <class Stream>
  asio::awaitable<void> garbage(Stream& s, Conn& c) {
    std::size_t burst = kGarbageBurst;
    for (;;) {
      std::string junk(burst, '\0');
      for (auto& ch : junk) ch = static_cast<char>(rng_() & 0xff);
      const bool sent = co_await write_all(s, c, junk);
      if (!sent) co_return;
      const Chunk chunk = co_await read_chunk(s, c);
      if (chunk.ec) {
        c.reason = classify(chunk.ec);
        co_return;
      }
      burst = std::max<std::size_t>(chunk.data.size(), 64);
    }
  }

  // Keep-alive loop. The request and response live in http_exchange's frame, which exists only
  // while a request is being handled; between requests a connection holds just its buffer.
  template <class Stream>
  asio::awaitable<void> serve_http(Stream& s, Conn& c, std::chrono::nanoseconds delay) {
    boost::beast::flat_buffer buffer;
    for (;;) {
      if (buffer.size() == 0) {
        buffer.shrink_to_fit();
        const auto ec = co_await wait_readable(s);
        if (ec) {
          c.reason = classify(ec);
          co_return;
        }
      }
      const bool again = co_await http_exchange(s, c, buffer, delay);
      if (!again) co_return;
    }
  }

  // Reads one request and answers it; false (with c.reason set) when the connection is done.
  template <class Stream>
  asio::awaitable<bool> http_exchange(Stream& s, Conn& c, boost::beast::flat_buffer& buffer,
                                      std::chrono::nanoseconds delay) {
    http::request<http::string_body> req;
    auto [ec, n] = co_await http::async_read(s, buffer, req, kTuple);
    count_rx(c, n);
    unsigned status = options_.http_status;
    bool keep_alive = req.keep_alive();
    if (ec) {
      const CloseReason why = classify(ec);
      if (why != CloseReason::error) {
        c.reason = why;
        co_return false;
      }
      // Not HTTP (or broken HTTP): answer as a real server would, then close.
      status = 400;
      keep_alive = false;
    }
    if (delay.count() > 0) {
      c.timer.expires_after(delay);
      auto [tec] = co_await c.timer.async_wait(kTuple);
      if (tec || stopped_) {
        c.reason = CloseReason::server_stop;
        co_return false;
      }
    }
    http::response<http::string_body> res{static_cast<http::status>(status), 11};
    res.set(http::field::server, "connscope-serve");
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    if (!options_.http_location.empty()) res.set(http::field::location, options_.http_location);
    const auto reason = http::obsolete_reason(static_cast<http::status>(status));
    res.body() = fmt::format("connscope serve: {} {}\n", status,
                             std::string_view(reason.data(), reason.size()));
    res.keep_alive(keep_alive);
    res.prepare_payload();
    boost::system::error_code wec;
    std::size_t wn = 0;
    if (!ec && req.method() == http::verb::head) {
      // Content-Length stays that of the body a GET would get; no body is sent.
      http::response_serializer<http::string_body> sr{res};
      std::tie(wec, wn) = co_await http::async_write_header(s, sr, kTuple);
    } else {
      std::tie(wec, wn) = co_await http::async_write(s, res, kTuple);
    }
    count_tx(c, wn);
    if (wec) {
      c.reason = classify(wec);
      co_return false;
    }
    if (!keep_alive) {
      boost::system::error_code sec;
      c.sock.shutdown(tcp::socket::shutdown_send, sec);
      c.reason = CloseReason::server_closed;
      co_return false;
    }
    co_return true;
  }

  void apply_keepalive(tcp::socket& s) {
    if (!options_.keepalive) return;
    boost::system::error_code ec;
    s.set_option(asio::socket_base::keep_alive(true), ec);
    s.set_option(KeepIdle(static_cast<int>(options_.keepalive->idle.count())), ec);
    s.set_option(KeepIntvl(static_cast<int>(options_.keepalive->interval.count())), ec);
    s.set_option(KeepCnt(options_.keepalive->count), ec);
  }

  void count_rx(Conn& c, std::size_t n) {
    c.rx += n;
    stats_.rx_bytes += n;
  }
  void count_tx(Conn& c, std::size_t n) {
    c.tx += n;
    stats_.tx_bytes += n;
  }

  Event base_event(Event::Kind kind, const Conn& c) const {
    Event ev;
    ev.kind = kind;
    ev.time = std::chrono::system_clock::now();
    ev.id = c.id;
    ev.listener = bound_[c.listener].endpoint;
    ev.mode = bound_[c.listener].mode;
    ev.peer = c.peer;
    return ev;
  }

  void finish(Conn& c) {
    --stats_.active;
    if (c.reason == CloseReason::peer_reset) ++stats_.peer_resets;
    conns_.erase(c.id);
    Event ev = base_event(Event::Kind::closed, c);
    ev.reason = c.reason;
    ev.duration = steady::now() - c.start;
    ev.rx_bytes = c.rx;
    ev.tx_bytes = c.tx;
    sink(ev);
  }

  void emit_backoff(std::size_t index, const boost::system::error_code& ec,
                    std::chrono::milliseconds backoff) {
    Event ev;
    ev.kind = Event::Kind::accept_backoff;
    ev.time = std::chrono::system_clock::now();
    ev.listener = bound_[index].endpoint;
    ev.mode = bound_[index].mode;
    ev.error = Error{"accept " + ev.listener.to_string(), ec.value(), {}};
    if (auto open = sys::count_open_fds()) ev.open_fds = *open;
    if (auto limit = sys::get_fd_limit()) ev.fd_limit = limit->soft;
    ev.backoff = backoff;
    sink(ev);
  }

  void sink(const Event& ev) {
    if (sink_) sink_(ev);
  }

  asio::io_context& io_;
  Options options_;
  EventSink sink_;
  asio::ssl::context ssl_ctx_;
  std::mt19937 rng_;
  std::array<char, 16384> scratch_{};
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors_;
  std::vector<std::unique_ptr<asio::steady_timer>> backoff_timers_;
  std::vector<Listener> bound_;
  std::unordered_map<std::uint64_t, std::weak_ptr<Conn>> conns_;
  std::uint64_t next_id_ = 0;
  Stats stats_;
  bool stopped_ = false;
};

}  // namespace

Result<std::unique_ptr<Server>> Server::create(boost::asio::io_context& io, Options options,
                                               EventSink sink) {
  auto server = std::make_unique<ServerImpl>(io, std::move(options), std::move(sink));
  if (auto r = server->open(); !r) return std::unexpected(r.error());
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace connscope::serve
