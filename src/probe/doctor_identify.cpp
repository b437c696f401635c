// The doctor's protocol identification for a port with no scheme and no well-known protocol
// (DoctorOptions::identify; doctor.h says why and how). Waiting for a greeting for the whole
// deadline and calling silence critical (app.no_response) is wrong for the many services that
// wait for the client to speak first: HTTP, TLS, Redis, databases.

#include <algorithm>
#include <exception>
#include <memory>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "probe/doctor_stages.h"

namespace connscope::probe {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// A ServerHello (a version was negotiated, a certificate came) or an alert: it speaks TLS,
// whatever it then thinks of us.
bool speaks_tls(const TlsResult& t) {
  return t.handshake_complete || t.version_number != 0 || !t.chain.empty() ||
         (t.alert_received && t.outcome != TlsOutcome::closed_by_peer);
}

// What the greeting wait and the two probes found.
struct Probes {
  std::optional<TalkResult> greeting;  // the first connection, waiting for the server to speak
  bool greeting_cancelled = false;     // the wait ended because a probe had the answer
  std::optional<TlsResult> tls;
  bool tls_done = false;  // the TLS probe ended (also when it could not connect)
  std::optional<TalkResult> http;
  std::optional<tcp::socket> http_socket;  // the HTTP probe's connection, for the close stage
};

// The greeting came (or the connection ended): the service answered by itself.
bool greeted(const Probes& p) {
  return p.greeting && !p.greeting_cancelled && p.greeting->outcome != TalkOutcome::no_response;
}

// What is left until `deadline`, at least a millisecond (a deadline must be positive).
std::chrono::milliseconds left(Clock::time_point deadline) {
  return std::max(std::chrono::milliseconds(1),
                  std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()));
}

// A probe's fresh connection: made once the greeting wait is over (`start`; cancelled before,
// a probe sends nothing), within the probes' deadline.
asio::awaitable<std::optional<tcp::socket>> probe_connection(asio::any_io_executor ex, Endpoint remote,
                                                             Clock::time_point start,
                                                             Clock::time_point deadline) {
  asio::steady_timer wait(ex, start);
  if (auto [ec] = co_await wait.async_wait(asio::as_tuple(asio::use_awaitable)); ec) co_return std::nullopt;
  ConnectOptions c;
  c.timeout = left(deadline);
  ConnectOutcome conn = co_await connect_one(ex, std::move(remote), c);
  co_return std::move(conn.socket);
}

asio::awaitable<void> handshake_probe(asio::any_io_executor ex, Endpoint remote, DoctorOptions o,
                                      Clock::time_point start, Clock::time_point deadline, Probes* p) {
  auto socket = co_await probe_connection(ex, std::move(remote), start, deadline);
  if (!socket) co_return;
  // HTTP is what most TLS services without a scheme carry: offer http/1.1 in ALPN.
  o.protocol = AppProtocol::http;
  // The trust store loads first (tens of milliseconds for the system's): the handshake gets
  // what is left after it.
  auto ctx = make_tls_context(o.ca_file, o.client_cert);
  if (!ctx) co_return;
  o.timeout = left(deadline);
  p->tls = co_await secure(std::move(*socket), std::move(*ctx), secure_options(o));
}

asio::awaitable<void> probe_tls(asio::any_io_executor ex, Endpoint remote, DoctorOptions o,
                                Clock::time_point start, Clock::time_point deadline, Probes* p) {
  co_await handshake_probe(ex, std::move(remote), std::move(o), start, deadline, p);
  p->tls_done = true;
}

asio::awaitable<void> probe_http(asio::any_io_executor ex, Endpoint remote, DoctorOptions o,
                                 Clock::time_point start, Clock::time_point deadline, Probes* p) {
  auto socket = co_await probe_connection(ex, std::move(remote), start, deadline);
  if (!socket) co_return;
  o.protocol = AppProtocol::http;
  o.timeout = left(deadline);
  p->http = co_await run_talk(&*socket, nullptr, o);
  p->http_socket = std::move(socket);
}

// The first connection waits for a greeting for the whole deadline: a slow greeting still counts.
asio::awaitable<void> await_greeting(tcp::socket& socket, const DoctorOptions& options, Probes* p) {
  p->greeting = co_await run_talk(&socket, nullptr, options);
  const auto state = co_await asio::this_coro::cancellation_state;
  p->greeting_cancelled = state.cancelled() != asio::cancellation_type::none;
}

}  // namespace

asio::awaitable<void> identify_and_talk(asio::any_io_executor ex, Endpoint remote, tcp::socket socket,
                                        const DoctorOptions& options, DoctorReport& report) {
  const auto t0 = Clock::now();
  Identification id;
  id.greeting_wait = std::max(std::chrono::milliseconds(1), std::min(kGreetingWait, options.timeout / 3));
  id.tried.push_back("greeting");

  // The greeting wait on the first connection for the whole deadline; after a part of it (no
  // greeting yet), a TLS ClientHello and an HTTP request at once on fresh connections. A parallel
  // group: cancelling the run (the agent stopping a probe) cancels them all, and it ends as soon
  // as the answer is clear: a greeting, a TLS answer, or an HTTP answer once the TLS probe has
  // ended. Not an HTTP answer alone: many TLS servers answer plain HTTP too (nginx's "400 The
  // plain HTTP request was sent to HTTPS port"), and TLS is what they speak; the TLS probe ends
  // quickly on a plain server.
  const auto deadline = t0 + options.timeout;
  const auto probes_at = t0 + id.greeting_wait;
  auto probes = std::make_unique<Probes>();
  const auto answered = [p = probes.get()](std::exception_ptr) {
    const bool tls = p->tls && speaks_tls(*p->tls);
    const bool http = p->tls_done && p->http && p->http->bytes_received > 0;
    return greeted(*p) || tls || http ? asio::cancellation_type::terminal : asio::cancellation_type::none;
  };
  co_await asio::experimental::make_parallel_group(
      asio::co_spawn(ex, await_greeting(socket, options, probes.get()), asio::deferred),
      asio::co_spawn(ex, probe_tls(ex, remote, options, probes_at, deadline, probes.get()), asio::deferred),
      asio::co_spawn(ex, probe_http(ex, remote, options, probes_at, deadline, probes.get()), asio::deferred))
      .async_wait(answered, asio::use_awaitable);
  const auto probed = Clock::now();
  if (greeted(*probes)) {
    // It spoke first (perhaps late), closed or reset: that is its answer, judged as any banner.
    id.speaks = Speaks::greeting;
    report.identified = std::move(id);
    report.talk = std::move(probes->greeting);
    set_stage(report, StageId::talk, talk_status(*report.talk), probed - t0);
    co_await run_close(socket, options, report);
    co_return;
  }
  boost::system::error_code ignored;
  socket.close(ignored);
  if (probed >= probes_at) {
    id.tried.push_back("TLS ClientHello");
    id.tried.push_back("HTTP request");
  }

  if (probes->tls && speaks_tls(*probes->tls)) {
    // Judged as TLS, then as HTTP inside it, each stage with its full deadline as for https://.
    id.speaks = Speaks::tls;
    report.identified = std::move(id);
    report.tls = std::move(probes->tls);
    std::unique_ptr<TlsStream> stream = std::move(report.tls->stream);
    // The handshake's own time: the greeting wait before it is the identification's evidence.
    const auto handshake = report.tls->elapsed;
    set_stage(report, StageId::secure, tls_status(*report.tls), handshake);
    if (!stream) co_return;
    DoctorOptions inside = options;
    inside.protocol = AppProtocol::http;
    const auto t1 = Clock::now();
    report.talk = co_await run_talk(nullptr, stream.get(), inside);
    if (report.talk->tls_alert) {
      refused_after_handshake(*report.tls, *report.talk->tls_alert);
      report.talk.reset();
      set_stage(report, StageId::secure, tls_status(*report.tls), handshake);
      co_return;
    }
    set_stage(report, StageId::talk, talk_status(*report.talk), Clock::now() - t1);
    co_await run_close(stream->next_layer(), options, report);
    co_return;
  }
  if (probes->http && probes->http->bytes_received > 0) {
    // It answered our HTTP request: as HTTP when it is HTTP, else by what it said.
    id.speaks = probes->http->http || probes->http->http_interim > 0 ? Speaks::http : Speaks::other;
    report.identified = std::move(id);
    report.talk = std::move(probes->http);
    if (report.identified->speaks == Speaks::other) {
      // Not HTTP, but an answer: the service is up and speaks something else, as a greeting would say.
      auto& t = *report.talk;
      t.protocol = AppProtocol::banner;
      t.outcome = judge(AppProtocol::banner, t.end, t.reply, std::nullopt, t.slow);
    }
    set_stage(report, StageId::talk, talk_status(*report.talk), probed - t0);
    if (probes->http_socket) co_await run_close(*probes->http_socket, options, report);
    co_return;
  }
  // Nothing answered anything: up (the handshake completed), but silent, unless the greeting
  // stalled behind a gap (an MTU black hole): the caller's retry decides then.
  id.speaks = Speaks::nothing;
  report.identified = std::move(id);
  report.talk = probes->greeting ? std::move(*probes->greeting) : TalkResult{};
  if (!mtu_retry_wanted(*report.talk)) report.talk->outcome = TalkOutcome::silent;
  set_stage(report, StageId::talk, talk_status(*report.talk), probed - t0);
}

}  // namespace connscope::probe
