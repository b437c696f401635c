#include "probe/doctor.h"
#include "probe/doctor_stages.h"

#include <algorithm>
#include <cerrno>
#include <exception>
#include <memory>
#include <set>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace connscope::probe {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

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
      o == TalkOutcome::app_error || o == TalkOutcome::unexpected_reply || o == TalkOutcome::silent) {
    return StageStatus::warn;
  }
  return StageStatus::fail;
}

std::string_view speaks_name(Speaks s) {
  if (s == Speaks::greeting) return "greeting";
  if (s == Speaks::tls) return "tls";
  if (s == Speaks::http) return "http";
  if (s == Speaks::other) return "other";
  return "nothing";
}

std::string_view redirect_stop_name(RedirectStop stop) {
  if (stop == RedirectStop::loop) return "loop";
  if (stop == RedirectStop::too_many) return "too_many";
  if (stop == RedirectStop::unfollowable) return "unfollowable";
  return "none";
}

bool body_trickles(const TalkResult& talk, const CloseResult& close) {
  if (!talk.http || !talk.http->content_length || close.how != PeerClose::none || close.limit_reached) {
    return false;
  }
  const std::uint64_t seen = close.bytes_discarded + talk.bytes_received;
  return close.bytes_discarded > 0 && seen < *talk.http->content_length;
}

void apply_redirects(DoctorReport& report, RedirectChain chain) {
  if (chain.stop == RedirectStop::loop || chain.stop == RedirectStop::too_many) {
    for (auto& r : report.stages) {
      if (r.stage == StageId::talk) r.status = StageStatus::fail;
      // The close of the last hop says nothing once the chain has failed.
      if (r.stage == StageId::close) r.status = StageStatus::skipped;
    }
    report.close.reset();
  }
  report.redirects = std::move(chain);
}

bool trace_wanted(ConnectFailure failure) {
  return failure == ConnectFailure::filtered || failure == ConnectFailure::host_unreachable ||
         failure == ConnectFailure::admin_prohibited;
}

void classify_by_trace(std::vector<ConnectAttempt>& attempts, const TraceResult& trace) {
  const TraceProbe* answer = nullptr;
  for (const auto& hop : trace.hops) {
    for (const auto& p : hop.probes) {
      if (answer == nullptr && (p.reply == ProbeReply::unreachable || p.reply == ProbeReply::port_unreachable) &&
          classify_icmp(p.origin, p.icmp_type, p.icmp_code)) {
        answer = &p;
      }
    }
  }
  if (answer == nullptr) return;
  for (auto& a : attempts) {
    if (a.failure != ConnectFailure::filtered || a.remote != trace.destination) continue;
    a.failure = *classify_icmp(answer->origin, answer->icmp_type, answer->icmp_code);
    a.queued = QueuedError{answer->origin, answer->icmp_type, answer->icmp_code, answer->error, 0, answer->from};
    a.icmp_from_trace = true;
  }
}

PathEnd path_end(const TraceResult& trace) {
  if (trace.verdict == TraceVerdict::unreachable) return {trace.info.hop, trace.info.reporter};
  return {trace.last_responding_hop(), trace.last_responder()};
}

int small_mss(int family) { return family == AF_INET6 ? 1220 : 536; }

bool mtu_retry_wanted(const TlsResult& tls) {
  return tls.outcome == TlsOutcome::timeout && tls.out_of_order_at_deadline.value_or(0) > 0;
}

bool mtu_retry_wanted(const TalkResult& talk) {
  return (talk.outcome == TalkOutcome::no_response || talk.outcome == TalkOutcome::timeout) &&
         talk.out_of_order_at_deadline.value_or(0) > 0;
}

TlsOptions secure_options(const DoctorOptions& options) {
  TlsOptions o = tls_options(options.target, options.sni);
  o.insecure = options.insecure;
  o.timeout = options.timeout;
  // The talk stage speaks HTTP/1.1 only: offering h2 would let a server pick what we then
  // cannot speak.
  if (options.protocol == AppProtocol::http) o.alpn = {"http/1.1"};
  else o.alpn.clear();
  return o;
}

TalkOptions talk_stage_options(const DoctorOptions& options) {
  TalkOptions o = talk_options(options.target);
  o.protocol = options.protocol;
  o.http_path = options.http_path;
  o.deadline = options.timeout;
  o.slow_first_byte = options.slow_first_byte;
  return o;
}

// The secure stage, the client context included.
asio::awaitable<TlsResult> run_secure(tcp::socket socket, const DoctorOptions& options) {
  const auto start = Clock::now();
  auto ctx = make_tls_context(options.ca_file, options.client_cert);
  if (!ctx) {
    TlsResult failed;
    failed.outcome = TlsOutcome::other;
    failed.error = ctx.error();
    co_return failed;
  }
  // Loading the trust store takes tens of milliseconds (more on a loaded machine): the handshake
  // gets what is left of the stage's deadline, so the stage as a whole keeps it.
  TlsOptions o = secure_options(options);
  o.timeout = std::max(std::chrono::milliseconds(1),
                       options.timeout - std::chrono::ceil<std::chrono::milliseconds>(Clock::now() - start));
  co_return co_await secure(std::move(socket), std::move(*ctx), std::move(o));
}

asio::awaitable<TalkResult> run_talk(tcp::socket* plain, TlsStream* tls, const DoctorOptions& options) {
  if (tls != nullptr) co_return co_await talk(*tls, talk_stage_options(options));
  co_return co_await talk(*plain, talk_stage_options(options));
}

void set_stage(DoctorReport& report, StageId id, StageStatus status, Clock::duration d) {
  for (auto& r : report.stages) {
    if (r.stage == id) {
      r.status = status;
      r.duration = d;
    }
  }
}

asio::awaitable<void> run_close(tcp::socket& socket, const DoctorOptions& options, DoctorReport& report) {
  // What is watched is TCP's ending (FIN or RST), also under TLS.
  if (!report.talk || report.talk->peer_close != PeerClose::none || talk_status(*report.talk) == StageStatus::fail) {
    co_return;
  }
  const auto t0 = Clock::now();
  report.close = co_await observe_close(socket, options.timeout);
  set_stage(report, StageId::close, report.close->error ? StageStatus::warn : StageStatus::ok, Clock::now() - t0);
  if (body_trickles(*report.talk, *report.close)) {
    // The header was fine, the body it announced did not come: a reply not complete within
    // the deadline, as a client downloading it would find.
    report.talk->outcome = TalkOutcome::timeout;
    set_stage(report, StageId::talk, talk_status(*report.talk), report.row(StageId::talk).duration);
  }
}

namespace {

// See MtuRetry.
asio::awaitable<MtuRetry> retry_with_small_mss(asio::any_io_executor ex, Endpoint remote,
                                               StageId stalled, std::uint32_t out_of_order,
                                               const DoctorOptions& options) {
  MtuRetry r;
  r.stalled = stalled;
  r.out_of_order = out_of_order;
  r.mss = small_mss(remote.family);
  const auto t0 = Clock::now();
  ConnectOptions connect_options;
  connect_options.timeout = options.timeout;
  connect_options.maxseg = r.mss;
  ConnectOutcome c = co_await connect_one(ex, std::move(remote), connect_options);
  r.connect = std::move(c.attempt);
  if (c.socket) {
    std::unique_ptr<TlsStream> tls_stream;
    bool talk_next = true;
    if (options.tls) {
      TlsResult t = co_await run_secure(std::move(*c.socket), options);
      c.socket.reset();
      r.tls = t.outcome;
      tls_stream = std::move(t.stream);
      talk_next = tls_stream && stalled == StageId::talk;
      // Anything but another stall (an alert or a failed verification too) means the server's
      // flight arrived.
      if (stalled == StageId::secure) {
        r.confirmed = t.outcome != TlsOutcome::timeout && t.outcome != TlsOutcome::other;
      }
    }
    if (talk_next) {
      const TalkResult t = co_await run_talk(c.socket ? &*c.socket : nullptr, tls_stream.get(), options);
      r.talk = t.outcome;
      r.confirmed = t.outcome != TalkOutcome::no_response && t.outcome != TalkOutcome::timeout &&
                    t.outcome != TalkOutcome::failed;
    }
  }
  r.elapsed = Clock::now() - t0;
  co_return r;
}

// The stages from connect on, each after the one before.
asio::awaitable<void> connect_onwards(asio::any_io_executor ex, const DoctorOptions& options,
                                      std::vector<Endpoint> remotes, DoctorReport& report) {
  // connect: every routable address at once (connect_all); the trace alongside once the
  // handshake has been silent for a while (see DoctorReport::trace)
  ConnectOptions connect_options;
  connect_options.timeout = options.timeout;
  auto t0 = Clock::now();
  TraceOptions trace_options;
  trace_options.destination = remotes.front();
  trace_options.mode = TraceMode::tcp;
  trace_options.probes = 1;
  trace_options.probe_timeout = std::min(options.timeout, std::chrono::milliseconds(1000));
  const auto trace_after = std::min(kTraceAfter, options.timeout / 3);
  struct TraceJoin {
    explicit TraceJoin(const asio::any_io_executor& e) : delay(e), done(e, Clock::time_point::max()) {}
    asio::steady_timer delay;  // cancelled when the connect ends first: the trace never starts
    asio::cancellation_signal stop;
    bool started = false;
    std::optional<TraceResult> result;
    asio::steady_timer done;  // cancelled when the result is in
  };
  auto tj = std::make_shared<TraceJoin>(ex);
  tj->delay.expires_after(trace_after);
  auto start_trace = [tj, ex](TraceOptions o) {
    tj->started = true;
    asio::co_spawn(ex, trace(ex, std::move(o)),
                   asio::bind_cancellation_slot(tj->stop.slot(), [tj](std::exception_ptr e, TraceResult r) {
                     if (!e) tj->result = std::move(r);
                     tj->done.cancel();
                   }));
  };
  tj->delay.async_wait([tj, start_trace, trace_options, t0, timeout = options.timeout](boost::system::error_code ec) {
    if (ec) return;
    TraceOptions o = trace_options;
    o.deadline = std::chrono::duration_cast<std::chrono::milliseconds>(t0 + timeout - Clock::now());
    if (o.deadline->count() > 0) start_trace(std::move(o));
  });
  ConnectReport connected = co_await connect_all(ex, std::move(remotes), connect_options);
  tj->delay.cancel();
  report.connect = std::move(connected.attempts);
  // The trace goes to the first address: its attempt decides whether the path is in question.
  const auto traced = std::find_if(report.connect.begin(), report.connect.end(), [&](const ConnectAttempt& a) {
    return a.remote == trace_options.destination;
  });
  const bool failed_on_path = !connected.socket && traced != report.connect.end() &&
                              !traced->reset_after_handshake && trace_wanted(traced->failure);
  if (!failed_on_path && tj->started) tj->stop.emit(asio::cancellation_type::terminal);
  if (failed_on_path && !tj->started) {
    // A router's ICMP error ended the connect before the trace began: trace now.
    TraceOptions o = trace_options;
    o.deadline = options.timeout;
    start_trace(std::move(o));
  }
  if (tj->started) {
    if (!tj->result) co_await tj->done.async_wait(asio::as_tuple(asio::use_awaitable));
    if (failed_on_path) report.trace = std::move(tj->result);
    if (report.trace) classify_by_trace(report.connect, *report.trace);
  }
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
  set_stage(report, StageId::connect, connect_stage, Clock::now() - t0);
  const bool reset_after_accept = std::any_of(report.connect.begin(), report.connect.end(),
                                              [](const ConnectAttempt& a) { return a.reset_after_handshake; });
  if (!connected.socket && reset_after_accept && options.tls) {
    // The server's RST came before connect() returned: what the TLS handshake would have met.
    TlsResult reset;
    reset.outcome = TlsOutcome::reset_by_peer;
    reset.error = Error{"TLS handshake", ECONNRESET, {}};
    report.tls = std::move(reset);
    set_stage(report, StageId::secure, StageStatus::fail, Clock::duration{});
    co_return;
  }
  if (!connected.socket && reset_after_accept) {
    // The server's RST came before connect() returned: what the talk stage would have met.
    TalkResult reset;
    reset.protocol = options.protocol;
    reset.outcome = TalkOutcome::reset_by_peer;
    reset.end = ReadEnd::reset;
    reset.peer_close = PeerClose::rst;
    report.talk = reset;
    set_stage(report, StageId::talk, StageStatus::fail, Clock::duration{});
    co_return;
  }
  if (!connected.socket) co_return;

  // secure
  const Endpoint remote = report.connect.back().remote;
  std::unique_ptr<TlsStream> tls_stream;
  if (options.tls) {
    t0 = Clock::now();
    report.tls = co_await run_secure(std::move(*connected.socket), options);
    connected.socket.reset();
    tls_stream = std::move(report.tls->stream);
    if (!tls_stream && mtu_retry_wanted(*report.tls)) {
      report.mtu_retry = co_await retry_with_small_mss(
          ex, remote, StageId::secure, *report.tls->out_of_order_at_deadline, options);
    }
    set_stage(report, StageId::secure, tls_status(*report.tls), Clock::now() - t0);
    if (!tls_stream) co_return;
  }

  // talk
  if (options.identify && !options.tls && options.protocol == AppProtocol::banner) {
    t0 = Clock::now();
    co_await identify_and_talk(ex, remote, std::move(*connected.socket), options, report);
    if (report.talk && mtu_retry_wanted(*report.talk)) {
      report.mtu_retry = co_await retry_with_small_mss(
          ex, remote, StageId::talk, *report.talk->out_of_order_at_deadline, options);
      set_stage(report, StageId::talk, talk_status(*report.talk), Clock::now() - t0);
    }
    co_return;
  }
  t0 = Clock::now();
  report.talk = co_await run_talk(connected.socket ? &*connected.socket : nullptr, tls_stream.get(), options);
  if (report.tls && report.talk->tls_alert) {
    // The server's refusal of the handshake, met by the first read (a TLS 1.3 server judges
    // the client's certificate after our Finished): the secure stage failed, talk never began.
    refused_after_handshake(*report.tls, *report.talk->tls_alert);
    report.talk.reset();
    set_stage(report, StageId::secure, tls_status(*report.tls), report.row(StageId::secure).duration);
    co_return;
  }
  if (mtu_retry_wanted(*report.talk)) {
    // The stalled connection goes first: its server side may hold a worker the retry needs.
    tls_stream.reset();
    connected.socket.reset();
    report.mtu_retry = co_await retry_with_small_mss(
        ex, remote, StageId::talk, *report.talk->out_of_order_at_deadline, options);
  }
  set_stage(report, StageId::talk, talk_status(*report.talk), Clock::now() - t0);
  if (report.mtu_retry) co_return;

  // close: how the peer ends it, unless it already did during the talk
  co_await run_close(tls_stream ? tls_stream->next_layer() : *connected.socket, options, report);
}

}  // namespace

asio::awaitable<DoctorReport> run_doctor(asio::any_io_executor ex, DoctorOptions options) {
  DoctorReport report;
  report.options = options;
  const auto started = Clock::now();
  for (StageId id : {StageId::resolve, StageId::route, StageId::reach, StageId::connect,
                     StageId::secure, StageId::talk, StageId::close}) {
    report.stages.push_back({id, StageStatus::skipped, {}});
  }
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
  set_stage(report, StageId::resolve, report.dns.ok() ? StageStatus::ok : StageStatus::fail, Clock::now() - t0);
  if (!report.dns.ok()) co_return finish();

  // route: the kernel's decision for every address; only routable ones are tried
  t0 = Clock::now();
  std::vector<Endpoint> remotes;
  std::set<std::string> distinct;
  for (const auto& a : report.dns.addresses) {
    // A hostile or broken resolver's 500 answers: each address once, and at most kMaxAddresses,
    // so that the connect stage stays one timeout long.
    if (!distinct.insert(a.address).second) continue;
    if (distinct.size() > kMaxAddresses) {
      ++report.addresses_not_tried;
      continue;
    }
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
  set_stage(report, StageId::route,
            remotes.empty() ? StageStatus::fail
            : remotes.size() < report.routes.size() ? StageStatus::warn
                                                     : StageStatus::ok,
            Clock::now() - t0);
  if (remotes.empty()) co_return finish();

  // reach: ICMP echo to the first routable address, alongside the stages after it. Its waits
  // (the echo interval, a reply that never comes) would otherwise add to every run, a filtered
  // port's timeout included, and leave the CPU idle before the TLS handshake, which then runs
  // measurably slower than curl's. Its status waits for connect's result.
  ReachOptions reach_options;
  reach_options.destination = remotes.front().address;
  reach_options.count = options.echo_count;
  reach_options.interval = options.echo_interval;
  reach_options.deadline = options.timeout;
  reach_options.probe_timeout = std::min(options.timeout, std::chrono::milliseconds(1000));
  struct ReachJoin {
    explicit ReachJoin(const asio::any_io_executor& e) : done(e, Clock::time_point::max()) {}
    std::optional<ReachResult> result;
    Clock::duration elapsed{};
    asio::steady_timer done;  // cancelled when the result is in
  };
  auto join = std::make_shared<ReachJoin>(ex);
  t0 = Clock::now();
  asio::co_spawn(ex, reach(ex, reach_options),
                 [join, t0, destination = reach_options.destination](std::exception_ptr e, ReachResult r) {
                   join->elapsed = Clock::now() - t0;
                   if (e) {  // reach reports failures as results; only an exception (bad_alloc) lands here
                     r = ReachResult{};
                     r.outcome = ReachOutcome::error;
                     r.destination = destination;
                     r.reason = Error{"ICMP echo", 0, "the probe failed unexpectedly"};
                   }
                   join->result = std::move(r);
                   join->done.cancel();
                 });

  co_await connect_onwards(ex, options, std::move(remotes), report);

  if (!join->result) co_await join->done.async_wait(asio::as_tuple(asio::use_awaitable));
  report.reach = std::move(join->result);
  const bool got_through = !report.connect.empty() && report.connect.back().connected();
  set_stage(report, StageId::reach, reach_status(*report.reach, got_through), join->elapsed);
  co_return finish();
}

}  // namespace connscope::probe
