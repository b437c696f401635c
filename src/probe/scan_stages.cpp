#include "probe/scan.h"

// `connscope probe --tls / --talk`: each endpoint through the connect, secure and talk stages
// on Asio coroutines, as the doctor runs them, a bounded number at once.

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <exception>
#include <memory>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "probe/talk.h"
#include "probe/tcp_connect.h"
#include "probe/tls_probe.h"

namespace connscope::probe {

// ---- the stages engine (--tls, --talk) ------------------------------------------------------

namespace {

namespace asio = boost::asio;

struct StageRun {
  std::span<const Endpoint> endpoints;
  std::span<const Target> targets;
  ScanOptions options;
  StageOptions stages;
  std::optional<TlsContext> tls_context;
  Pacer pacer;
  Clock::time_point t0;
  ScanReport report;
  std::size_t next = 0;
  std::size_t in_flight = 0;
  std::size_t done = 0;
  std::size_t open = 0;
  Clock::time_point last_progress;
  std::exception_ptr error;
};

ScanResult from_attempt(const ConnectAttempt& a, Clock::time_point t0, Clock::time_point start) {
  ScanResult r;
  r.failure = a.failure;
  r.state = scan_state(a.failure);
  r.queued = a.queued;
  r.reason = scan_reason(a.failure, a.reset_after_handshake, a.queued);
  r.error = a.error;
  r.failed_op = a.failed_op;
  r.timed_out = a.timed_out;
  r.start = std::chrono::duration_cast<std::chrono::microseconds>(start - t0);
  r.elapsed = a.elapsed;
  return r;
}

asio::awaitable<void> stage_worker(StageRun& run) {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer timer(ex);
  const std::size_t n = run.endpoints.size();
  while (run.next < n) {
    // The pacer is shared by the workers of this one thread.
    while (!run.pacer.try_take(Clock::now())) {
      timer.expires_at(*run.pacer.next_at());
      co_await timer.async_wait(asio::use_awaitable);
    }
    if (run.next >= n) break;
    const std::size_t index = run.next++;
    ++run.in_flight;
    run.report.stats.max_in_flight = std::max(run.report.stats.max_in_flight, run.in_flight);
    const Endpoint& remote = run.endpoints[index];
    const Target& target = run.targets[index];
    ConnectOptions copt;
    copt.timeout = run.options.timeout;
    const Clock::time_point start = Clock::now();
    ConnectOutcome out = co_await connect_one(ex, remote, copt);
    // EMFILE: back-pressure; the other workers' sockets are closing.
    while (!out.socket && (out.attempt.error == EMFILE || out.attempt.error == ENFILE) &&
           out.attempt.failed_op == "socket") {
      ++run.report.stats.fd_waits;
      timer.expires_after(std::chrono::milliseconds(10));
      co_await timer.async_wait(asio::use_awaitable);
      out = co_await connect_one(ex, remote, copt);
    }
    ScanResult r = from_attempt(out.attempt, run.t0, start);
    if (out.socket) {
      ScanStages st;
      Target t = target;
      t.port = remote.port;
      if (t.scheme == Scheme::none || t.scheme_guessed) t.protocol = scheme_protocol(scheme_for_port(remote.port));
      st.protocol = t.protocol;
      const bool tls = run.stages.tls || (run.stages.talk && t.tls && !t.scheme_guessed);
      TalkOptions topt = talk_options(t);
      topt.deadline = run.options.timeout;
      if (tls && run.tls_context) {
        TlsOptions o = tls_options(t, std::nullopt);
        o.insecure = true;  // a scan measures; verification is recorded, not enforced
        o.timeout = run.options.timeout;
        TlsResult tr = co_await secure(std::move(*out.socket), *run.tls_context, o);
        st.tls = tr.outcome;
        st.tls_version = tr.version;
        st.tls_verified = tr.verified;
        st.days_to_expiry = tr.days_to_expiry;
        if (run.stages.talk && tr.stream) {
          TalkResult talked = co_await talk(*tr.stream, topt);
          if (talked.tls_alert) {
            // The server's refusal after the handshake (a TLS 1.3 server that wants a client
            // certificate): the TLS stage's verdict, not the protocol's.
            refused_after_handshake(tr, *talked.tls_alert);
            st.tls = tr.outcome;
            st.tls_verified = false;
          } else {
            st.talk = talked.outcome;
            st.reply = summarize(talked.reply);
            if (talked.http) st.http_status = talked.http->status;
          }
        }
      } else if (run.stages.talk) {
        TalkResult talked = co_await talk(*out.socket, topt);
        st.talk = talked.outcome;
        st.reply = summarize(talked.reply);
        if (talked.http) st.http_status = talked.http->status;
      }
      if (out.socket && out.socket->is_open()) {
        boost::system::error_code ec;
        out.socket->set_option(asio::socket_base::linger(true, 0), ec);
        out.socket->close(ec);
      }
      r.stages = std::move(st);
    }
    --run.in_flight;
    if (r.state == ScanState::open) ++run.open;
    run.report.results[index] = std::move(r);
    ++run.done;
    const auto now = Clock::now();
    if (run.options.progress && now - run.last_progress >= run.options.progress_interval) {
      run.last_progress = now;
      run.options.progress(ScanProgress{run.done, n, run.open, now - run.t0});
    }
  }
}

}  // namespace

Result<ScanReport> scan_with_stages(std::span<const Endpoint> endpoints,
                                    std::span<const Target> targets, const ScanOptions& options,
                                    const StageOptions& stages) {
  if (targets.size() != endpoints.size()) {
    return fail("scan_with_stages", "one target per endpoint is required");
  }
  auto run = std::make_unique<StageRun>(StageRun{endpoints, targets, options, stages, std::nullopt,
                                                 Pacer(options.rate), Clock::now(), {}, 0, 0, 0, 0,
                                                 Clock::now(), nullptr});
  run->report.results.resize(endpoints.size());
  if (stages.tls || stages.talk) {
    init_tls_library();
    auto ctx = make_tls_context(stages.ca_file, stages.client_cert);
    if (!ctx) return std::unexpected(ctx.error());
    run->tls_context = std::move(*ctx);
  }
  asio::io_context io(1);
  const std::size_t workers = std::max<std::size_t>(1, std::min(options.concurrency, endpoints.size()));
  run->t0 = Clock::now();
  run->last_progress = run->t0;
  for (std::size_t i = 0; i < workers; ++i) {
    asio::co_spawn(io, stage_worker(*run), [&run](std::exception_ptr e) {
      if (e && !run->error) run->error = e;
    });
  }
  io.run();
  if (run->error) {
    try {
      std::rethrow_exception(run->error);
    } catch (const std::exception& e) {
      return fail("probe stages", e.what());
    }
  }
  run->report.stats.elapsed = Clock::now() - run->t0;
  if (options.progress) {
    options.progress(ScanProgress{run->done, endpoints.size(), run->open, run->report.stats.elapsed});
  }
  return std::move(run->report);
}

}  // namespace connscope::probe
