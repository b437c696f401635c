// The doctor's protocol identification for a port with no scheme and no well-known protocol
// (DoctorOptions::identify; doctor.h says why and how). Waiting for a greeting for the whole
// deadline and calling silence critical (app.no_response) is wrong for the many services that
// wait for the client to speak first: HTTP, TLS, Redis, databases.

#include <algorithm>
#include <exception>
#include <memory>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
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

// The two probes' results.
struct Probes {
  std::optional<TlsResult> tls;
  std::optional<TalkResult> http;
  std::optional<tcp::socket> http_socket;  // the HTTP probe's connection, for the close stage
};

// What is left until `deadline`, at least a millisecond (a deadline must be positive).
std::chrono::milliseconds left(Clock::time_point deadline) {
  return std::max(std::chrono::milliseconds(1),
                  std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()));
}

// A fresh connection for a probe, within the probes' deadline.
asio::awaitable<std::optional<tcp::socket>> probe_connection(asio::any_io_executor ex, Endpoint remote,
                                                             Clock::time_point deadline) {
  ConnectOptions c;
  c.timeout = left(deadline);
  ConnectOutcome conn = co_await connect_one(ex, std::move(remote), c);
  co_return std::move(conn.socket);
}

asio::awaitable<void> probe_tls(asio::any_io_executor ex, Endpoint remote, DoctorOptions o,
                                Clock::time_point deadline, Probes* p) {
  auto socket = co_await probe_connection(ex, std::move(remote), deadline);
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

asio::awaitable<void> probe_http(asio::any_io_executor ex, Endpoint remote, DoctorOptions o,
                                 Clock::time_point deadline, Probes* p) {
  auto socket = co_await probe_connection(ex, std::move(remote), deadline);
  if (!socket) co_return;
  o.protocol = AppProtocol::http;
  o.timeout = left(deadline);
  p->http = co_await run_talk(&*socket, nullptr, o);
  p->http_socket = std::move(socket);
}

}  // namespace

asio::awaitable<void> identify_and_talk(asio::any_io_executor ex, Endpoint remote, tcp::socket socket,
                                        const DoctorOptions& options, DoctorReport& report) {
  const auto t0 = Clock::now();
  Identification id;
  id.greeting_wait = std::max(std::chrono::milliseconds(1), std::min(kGreetingWait, options.timeout / 3));
  id.tried.push_back("greeting");

  DoctorOptions greeting = options;
  greeting.timeout = id.greeting_wait;
  TalkResult first = co_await run_talk(&socket, nullptr, greeting);
  if (first.outcome != TalkOutcome::no_response) {
    // It spoke first, closed or reset: that is its answer, judged as any banner.
    id.speaks = Speaks::greeting;
    report.identified = std::move(id);
    report.talk = std::move(first);
    set_stage(report, StageId::talk, talk_status(*report.talk), Clock::now() - t0);
    co_await run_close(socket, options, report);
    co_return;
  }
  boost::system::error_code ignored;
  socket.close(ignored);

  // Both probes at once, each connect and exchange within what is left of the stage's deadline.
  const auto deadline = t0 + options.timeout;
  // A parallel group: cancelling the run (the agent stopping a probe) cancels both, and the
  // first probe that gets an answer cancels the other (a TLS server never answers our HTTP
  // request; waiting for it would cost the whole deadline).
  auto probes = std::make_unique<Probes>();
  const auto answered = [p = probes.get()](std::exception_ptr) {
    const bool decided = (p->tls && speaks_tls(*p->tls)) || (p->http && p->http->bytes_received > 0);
    return decided ? asio::cancellation_type::terminal : asio::cancellation_type::none;
  };
  co_await asio::experimental::make_parallel_group(
      asio::co_spawn(ex, probe_tls(ex, remote, options, deadline, probes.get()), asio::deferred),
      asio::co_spawn(ex, probe_http(ex, remote, options, deadline, probes.get()), asio::deferred))
      .async_wait(answered, asio::use_awaitable);
  id.tried.push_back("TLS ClientHello");
  id.tried.push_back("HTTP request");
  const auto probed = Clock::now();

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
  // Nothing answered anything: up (the handshake completed), but silent.
  id.speaks = Speaks::nothing;
  report.identified = std::move(id);
  first.outcome = TalkOutcome::silent;
  report.talk = std::move(first);
  set_stage(report, StageId::talk, talk_status(*report.talk), probed - t0);
}

}  // namespace connscope::probe
