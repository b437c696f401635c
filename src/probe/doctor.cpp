#include "probe/doctor.h"

#include <algorithm>
#include <memory>
#include <utility>

#include <boost/asio/ssl/stream.hpp>

namespace connscope::probe {

namespace asio = boost::asio;

const StageRow& DoctorReport::row(StageId id) const {
  for (const auto& r : stages) {
    if (r.stage == id) return r;
  }
  return stages.front();  // stages always holds all seven
}

std::optional<StageId> DoctorReport::verdict_stage() const {
  for (const auto& r : stages) {
    if (r.status == StageStatus::fail) return r.stage;
  }
  for (const auto& r : stages) {
    if (r.status == StageStatus::warn) return r.stage;
  }
  return std::nullopt;
}

StageStatus DoctorReport::verdict() const {
  const auto s = verdict_stage();
  return s ? row(*s).status : StageStatus::ok;
}

TimeSummary summarize_times(std::vector<std::chrono::microseconds> times) {
  TimeSummary t;
  if (times.empty()) return t;
  std::sort(times.begin(), times.end());
  t.min = times.front();
  t.max = times.back();
  t.median = times[times.size() / 2];
  std::chrono::microseconds sum{};
  for (auto v : times) sum += v;
  t.mean = sum / static_cast<long>(times.size());
  return t;
}

StageStatus reach_status(const ReachResult& reach, bool connected) {
  const auto o = reach.outcome;
  if (o == ReachOutcome::replied) return StageStatus::ok;
  if (o == ReachOutcome::partial_loss) return StageStatus::warn;
  if (o == ReachOutcome::unavailable || o == ReachOutcome::error) return StageStatus::skipped;
  return connected ? StageStatus::ok : StageStatus::warn;
}

StageStatus talk_status(const TalkResult& talk) {
  const auto o = talk.outcome;
  if (o == TalkOutcome::ok) return StageStatus::ok;
  if (o == TalkOutcome::slow_first_byte || o == TalkOutcome::http_4xx ||
      o == TalkOutcome::app_error || o == TalkOutcome::unexpected_reply) {
    return StageStatus::warn;
  }
  return StageStatus::fail;
}

asio::awaitable<DoctorReport> run_doctor(asio::any_io_executor ex, DoctorOptions options) {
  DoctorReport report;
  report.options = options;
  const auto started = Clock::now();
  for (StageId id : {StageId::resolve, StageId::route, StageId::reach, StageId::connect,
                     StageId::secure, StageId::talk, StageId::close}) {
    report.stages.push_back({id, StageStatus::skipped, {}});
  }
  auto set = [&](StageId id, StageStatus status, Clock::duration d) {
    for (auto& r : report.stages) {
      if (r.stage == id) {
        r.status = status;
        r.duration = d;
      }
    }
  };
  auto finish = [&]() -> DoctorReport {
    report.total = Clock::now() - started;
    return std::move(report);
  };

  // resolve
  DnsOptions dns_options;
  dns_options.family = options.family;
  dns_options.resolver = options.resolver;
  dns_options.timeout = options.timeout;
  auto t0 = Clock::now();
  report.dns = co_await resolve(ex, options.target.host, dns_options);
  set(StageId::resolve, report.dns.ok() ? StageStatus::ok : StageStatus::fail, Clock::now() - t0);
  if (!report.dns.ok()) co_return finish();

  // route: the kernel's decision for every address; only routable ones are tried
  t0 = Clock::now();
  std::vector<Endpoint> remotes;
  for (const auto& a : report.dns.addresses) {
    RouteQuery q;
    q.destination = a.address;
    q.timeout = options.timeout;
    report.routes.push_back(lookup_route(q));
    const auto o = report.routes.back().outcome;
    // A lookup that could not run (outcome error) does not stop the connect: the SYN will tell.
    if (o == RouteOutcome::ok || o == RouteOutcome::local || o == RouteOutcome::error) {
      remotes.push_back(Endpoint{a.family, a.address, options.port});
    }
  }
  set(StageId::route,
      remotes.empty() ? StageStatus::fail
      : remotes.size() < report.routes.size() ? StageStatus::warn
                                               : StageStatus::ok,
      Clock::now() - t0);
  if (remotes.empty()) co_return finish();

  // reach: ICMP echo to the first routable address (its status waits for connect's result)
  ReachOptions reach_options;
  reach_options.destination = remotes.front().address;
  reach_options.count = options.echo_count;
  reach_options.interval = options.echo_interval;
  reach_options.deadline = options.timeout;
  reach_options.probe_timeout = std::min(options.timeout, std::chrono::milliseconds(1000));
  t0 = Clock::now();
  report.reach = co_await reach(ex, reach_options);
  const auto reach_time = Clock::now() - t0;

  // connect: every routable address, in the resolver's order, up to the first that answers
  ConnectOptions connect_options;
  connect_options.timeout = options.timeout;
  t0 = Clock::now();
  ConnectReport connected = co_await connect_all(ex, std::move(remotes), connect_options);
  report.connect = std::move(connected.attempts);
  StageStatus connect_stage = connect_status(report.connect);
  if (connected.socket && options.repeat > 1) {
    const auto& first = report.connect.back();
    HandshakeStats st;
    auto count = [&st](const ConnectAttempt& a) {
      ++st.attempts;
      st.syns_sent += a.syns_sent();
      st.syn_retransmits += a.syn_retransmits.value_or(0);
      if (a.connected()) {
        ++st.connected;
        st.times.push_back(a.elapsed);
        if (a.syn_retransmits.value_or(0) > 0) ++st.with_retransmits;
      }
    };
    count(first);
    const Endpoint remote = first.remote;
    for (int i = 1; i < options.repeat; ++i) {
      ConnectOutcome again = co_await connect_one(ex, remote, connect_options);
      count(again.attempt);
    }
    // Handshakes that failed or needed resent SYNs: the path (or the server's queues) loses.
    if (st.connected < st.attempts || st.with_retransmits > 0) {
      if (connect_stage == StageStatus::ok) connect_stage = StageStatus::warn;
    }
    report.repeat = std::move(st);
  }
  set(StageId::connect, connect_stage, Clock::now() - t0);
  const bool got_through = !report.connect.empty() && report.connect.back().connected();
  set(StageId::reach, reach_status(*report.reach, got_through), reach_time);
  if (!connected.socket && !report.connect.empty() && report.connect.back().reset_after_handshake) {
    // The server's RST came before connect() returned: what the talk stage would have met.
    TalkResult reset;
    reset.protocol = options.protocol;
    reset.outcome = TalkOutcome::reset_by_peer;
    reset.end = ReadEnd::reset;
    reset.peer_close = PeerClose::rst;
    report.talk = reset;
    set(StageId::talk, StageStatus::fail, Clock::duration{});
    co_return finish();
  }
  if (!connected.socket) co_return finish();

  // secure
  std::unique_ptr<TlsStream> tls_stream;
  if (options.tls) {
    TlsOptions tls_opts = tls_options(options.target, options.sni);
    tls_opts.insecure = options.insecure;
    tls_opts.timeout = options.timeout;
    // The talk stage speaks HTTP/1.1 only: offering h2 would let a server pick what we then
    // cannot speak.
    if (options.protocol == AppProtocol::http) tls_opts.alpn = {"http/1.1"};
    else tls_opts.alpn.clear();
    t0 = Clock::now();
    auto ctx = make_tls_context(options.ca_file);
    if (ctx) {
      report.tls = co_await secure(std::move(*connected.socket), std::move(*ctx), tls_opts);
    } else {
      report.tls.emplace();
      report.tls->outcome = TlsOutcome::other;
      report.tls->error = ctx.error();
    }
    connected.socket.reset();
    set(StageId::secure, tls_status(*report.tls), Clock::now() - t0);
    tls_stream = std::move(report.tls->stream);
    if (!tls_stream) co_return finish();
  }

  // talk
  TalkOptions talk_options_ = talk_options(options.target);
  talk_options_.protocol = options.protocol;
  talk_options_.http_path = options.http_path;
  talk_options_.deadline = options.timeout;
  talk_options_.slow_first_byte = options.slow_first_byte;
  t0 = Clock::now();
  if (tls_stream) {
    report.talk = co_await talk(*tls_stream, talk_options_);
  } else {
    report.talk = co_await talk(*connected.socket, talk_options_);
  }
  set(StageId::talk, talk_status(*report.talk), Clock::now() - t0);

  // close: how the peer ends it, unless it already did during the talk. What is watched is
  // TCP's ending (FIN or RST), also under TLS.
  if (report.talk->peer_close == PeerClose::none && talk_status(*report.talk) != StageStatus::fail) {
    auto& socket = tls_stream ? tls_stream->next_layer() : *connected.socket;
    t0 = Clock::now();
    report.close = co_await observe_close(socket, options.timeout);
    set(StageId::close, report.close->error ? StageStatus::warn : StageStatus::ok, Clock::now() - t0);
  }
  co_return finish();
}

}  // namespace connscope::probe
