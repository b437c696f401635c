#include "probe/scan.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <deque>
#include <exception>
#include <memory>
#include <thread>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "probe/tcp_connect.h"
#include "probe/tcp_info.h"
#include "sys/unique_fd.h"

#include "probe/socket_ops.h"

namespace connscope::probe {

namespace {

using std::chrono::duration_cast;
using std::chrono::microseconds;

// With nothing in flight and no descriptor free, how long to keep retrying socket().
constexpr auto kNoFdPatience = std::chrono::seconds(2);

// The first decodable error on the socket's error queue, which it empties; one kept from
// before (a soft error seen while the SYNs went on) stays first.
void keep_first_error(int fd, std::optional<QueuedError>& first) {
  auto queued = drain_error_queue(fd);
  if (!first) first = std::move(queued);
}

// A RST instead of a FIN: no TIME_WAIT on our side (nmap -sT does the same).
void close_with_reset(sys::UniqueFd& fd) {
  const linger l{1, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
  fd.reset();
}

// A loopback connect to a free port in the ephemeral range may be given that very port as its
// source (one in ~28,000): local and peer are then the same endpoint.
bool connected_to_itself(int fd) {
  sockaddr_storage local{}, peer{};
  socklen_t llen = sizeof local, plen = sizeof peer;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &llen) != 0 ||
      ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &plen) != 0) {
    return false;
  }
  return llen == plen && std::memcmp(&local, &peer, llen) == 0;
}

void settle(ScanResult& r, int error, bool timed_out) {
  const ScanVerdict v = scan_verdict(error, timed_out, r.queued);
  r.failure = v.failure;
  r.state = scan_state(v.failure);
  r.reason = scan_reason(v.failure, v.reset_after_handshake, r.queued);
  r.timed_out = timed_out;
  r.error = v.failure == ConnectFailure::none || timed_out ? 0 : error;
  if (v.failure != ConnectFailure::none && !timed_out) r.failed_op = "connect";
}

microseconds us(Clock::duration d) { return duration_cast<microseconds>(d); }

timespec to_timespec(Clock::duration d) {
  if (d < Clock::duration::zero()) d = Clock::duration::zero();
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
  return timespec{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
}

}  // namespace

std::string_view scan_state_name(ScanState state) {
  switch (state) {
    case ScanState::open: return "open";
    case ScanState::closed: return "closed";
    case ScanState::filtered: return "filtered";
    case ScanState::unreachable: return "unreachable";
    case ScanState::error: return "error";
  }
  return "error";
}

ScanVerdict scan_verdict(int error, bool timed_out, const std::optional<QueuedError>& queued) {
  // The same decisions as connect_one (tcp_connect.cpp), in the same order.
  if (timed_out) return {classify_connect_error(ETIMEDOUT, queued), false};
  if (error == 0) return {ConnectFailure::none, false};
  if (error == ECONNRESET && !queued) return {ConnectFailure::none, true};
  return {classify_connect_error(error, queued), false};
}

ScanState scan_state(ConnectFailure failure) {
  switch (failure) {
    case ConnectFailure::none: return ScanState::open;
    case ConnectFailure::refused: return ScanState::closed;
    case ConnectFailure::filtered: return ScanState::filtered;
    case ConnectFailure::rejected_icmp:
    case ConnectFailure::admin_prohibited:
    case ConnectFailure::host_unreachable:
    case ConnectFailure::no_route: return ScanState::unreachable;
    case ConnectFailure::local_port_exhaustion:
    case ConnectFailure::other: return ScanState::error;
  }
  return ScanState::error;
}

std::string_view icmp_name(ErrOrigin origin, std::uint8_t type, std::uint8_t code) {
  if (origin == ErrOrigin::icmp) {
    if (type == 11) return "time-exceeded";
    if (type == 12) return "parameter-problem";
    if (type != 3) return "icmp";
    switch (code) {
      case 0: return "net-unreachable";
      case 1: return "host-unreachable";
      case 2: return "protocol-unreachable";
      case 3: return "port-unreachable";
      case 4: return "frag-needed";
      case 6: return "net-unknown";
      case 7: return "host-unknown";
      case 9: return "net-prohibited";
      case 10: return "host-prohibited";
      case 13: return "admin-prohibited";
      default: return "unreachable";
    }
  }
  if (origin == ErrOrigin::icmp6) {
    if (type == 2) return "packet-too-big";
    if (type == 3) return "time-exceeded";
    if (type == 4) return "parameter-problem";
    if (type != 1) return "icmp";
    switch (code) {
      case 0: return "no-route";
      case 1: return "admin-prohibited";
      case 2: return "beyond-scope";
      case 3: return "addr-unreachable";
      case 4: return "port-unreachable";
      case 5: return "policy-fail";
      case 6: return "reject-route";
      default: return "unreachable";
    }
  }
  return "icmp";
}

std::string_view scan_reason(ConnectFailure failure, bool reset_after_handshake,
                             const std::optional<QueuedError>& queued) {
  if (failure == ConnectFailure::none) return reset_after_handshake ? "reset-after-handshake" : "syn-ack";
  // The ICMP message that decided it, when one did.
  if (queued && (queued->origin == ErrOrigin::icmp || queued->origin == ErrOrigin::icmp6) &&
      classify_icmp(queued->origin, queued->type, queued->code) == failure) {
    return icmp_name(queued->origin, queued->type, queued->code);
  }
  switch (failure) {
    case ConnectFailure::refused: return "conn-refused";
    case ConnectFailure::filtered: return "no-response";
    case ConnectFailure::no_route: return "no-route";
    case ConnectFailure::admin_prohibited: return "local-firewall";
    case ConnectFailure::host_unreachable: return "host-unreachable";
    case ConnectFailure::rejected_icmp: return "port-unreachable";
    case ConnectFailure::local_port_exhaustion: return "local-port-exhaustion";
    case ConnectFailure::none:
    case ConnectFailure::other: return "error";
  }
  return "error";
}

ScanResult setup_failure(std::string op, int error) {
  ScanResult r;
  r.state = ScanState::error;
  r.failure = ConnectFailure::other;
  r.reason = "error";
  r.error = error;
  r.failed_op = std::move(op);
  return r;
}

Pacer::Pacer(std::optional<double> per_second) {
  if (per_second && *per_second > 0) {
    interval_ = duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / *per_second));
  }
}

bool Pacer::try_take(Clock::time_point now) {
  if (!interval_) return true;
  if (started_ && now < next_) return false;
  // From the actual start, not the scheduled one: a late poll never lets a burst through.
  next_ = now + *interval_;
  started_ = true;
  return true;
}

std::optional<Clock::time_point> Pacer::next_at() const {
  if (!interval_) return std::nullopt;
  return started_ ? next_ : Clock::time_point{};
}

std::size_t concurrency_for_fd_limit(std::size_t wanted, std::uint64_t soft_limit,
                                     std::uint64_t open_fds) {
  const std::uint64_t used = open_fds + kFdReserve;
  if (soft_limit <= used) return 0;
  return static_cast<std::size_t>(std::min<std::uint64_t>(wanted, soft_limit - used));
}

// ---- the epoll engine ---------------------------------------------------------------------

namespace {

// What the shards of one scan share: its start, and the counts the progress line shows.
struct ShardShared {
  Clock::time_point t0{};
  std::atomic<std::size_t> done{0};
  std::atomic<std::size_t> open{0};
  std::size_t total = 0;
};

// One epoll loop over `endpoints`, on the calling thread. Only a shard given `progress` reports,
// with the counts of all shards.
Result<ScanReport> scan_shard(std::span<const Endpoint> endpoints, const ScanOptions& options,
                              ShardShared& shared) {
  ScanReport report;
  const std::size_t n = endpoints.size();
  report.results.resize(n);
  if (n == 0) return report;

  sys::UniqueFd ep(::epoll_create1(EPOLL_CLOEXEC));
  if (!ep) return fail_errno("epoll_create1", errno);

  const std::size_t cap = std::max<std::size_t>(1, std::min(options.concurrency, n));
  struct Slot {
    sys::UniqueFd fd;
    std::size_t index = 0;
    Clock::time_point start{};
    Clock::time_point deadline{};
    std::uint32_t gen = 0;
    bool busy = false;
  };
  std::vector<Slot> slots(cap);
  std::vector<std::uint32_t> free_slots;
  free_slots.reserve(cap);
  for (std::size_t i = cap; i > 0; --i) free_slots.push_back(static_cast<std::uint32_t>(i - 1));
  // Start order is deadline order (one timeout for all): the front is the next to expire.
  std::deque<std::pair<std::uint32_t, std::uint32_t>> fifo;
  std::vector<epoll_event> events(std::min<std::size_t>(cap, 1024));

  Pacer pacer(options.rate);
  const Clock::time_point t0 = shared.t0;
  std::size_t next = 0;
  std::size_t in_flight = 0;
  std::size_t done = 0;
  std::size_t open = 0;
  bool fd_blocked = false;
  Clock::time_point no_fd_since{};  // when socket() began to fail with nothing in flight
  bool no_fd = false;
  Clock::time_point last_progress = t0;

  auto record = [&](std::size_t index) {
    ++done;
    shared.done.fetch_add(1, std::memory_order_relaxed);
    if (report.results[index].state == ScanState::open) {
      ++open;
      shared.open.fetch_add(1, std::memory_order_relaxed);
    }
  };
  auto release = [&](Slot& s) {
    s.busy = false;
    ++s.gen;
    --in_flight;
    fd_blocked = false;  // a descriptor is free again
    free_slots.push_back(static_cast<std::uint32_t>(&s - slots.data()));
  };
  // The connect ended (error 0: connected, or the errno) or our deadline passed.
  auto finish = [&](Slot& s, int error, bool timed_out, Clock::time_point now) {
    ScanResult& r = report.results[s.index];
    // The queue tells a RST from an ICMP port-unreachable (both ECONNREFUSED) and names the
    // sender; a connect that succeeded needs nothing from it.
    if (error != 0 || timed_out) keep_first_error(s.fd.get(), r.queued);
    r.elapsed = us(now - s.start);
    settle(r, error, timed_out);
    if (r.state == ScanState::open && connected_to_itself(s.fd.get())) {
      // The kernel picked the destination port as our source port on this same address: TCP's
      // simultaneous open connected the socket to itself. Nothing listens there.
      r.state = ScanState::closed;
      r.failure = ConnectFailure::refused;
      r.reason = "self-connect";
    }
    if (r.state == ScanState::open) {
      close_with_reset(s.fd);
    } else {
      s.fd.reset();  // closing removes it from the epoll set
    }
    record(s.index);
    release(s);
  };

  while (done < n) {
    // Start what the limits allow.
    while (in_flight < cap && next < n && !fd_blocked) {
      const Clock::time_point now = Clock::now();
      if (!pacer.try_take(now)) break;
      const std::size_t index = next;
      const Endpoint& remote = endpoints[index];
      ScanResult& r = report.results[index];
      const int fd = ::socket(remote.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        const int e = errno;
        if (e == EMFILE || e == ENFILE) {
          ++report.stats.fd_waits;
          if (in_flight > 0) {
            fd_blocked = true;  // back-pressure: wait for a connect to end
            break;
          }
          if (!no_fd) {
            no_fd = true;
            no_fd_since = now;
          }
          if (now - no_fd_since > kNoFdPatience) {
            return fail_errno("socket", e, "no descriptor free and no connect in flight");
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
          continue;
        }
        r = setup_failure("socket", e);
        ++next;
        record(index);
        continue;
      }
      no_fd = false;
      ++next;
      sys::UniqueFd sock(fd);
      // Before connect(): the kernel queues an ICMP error only if this is already set.
      if (int e = set_recverr(fd, remote.family)) {
        r = setup_failure(recverr_option_name(remote.family), e);
        record(index);
        continue;
      }
      sockaddr_storage ss{};
      const socklen_t len = remote.to_sockaddr(ss);
      const Clock::time_point start = Clock::now();
      r.start = us(start - t0);
      const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&ss), len);
      const int ce = rc == 0 ? 0 : errno;
      if (rc != 0 && ce != EINPROGRESS && ce != EINTR) {
        // Failed before a SYN left (no local port, no route, a local firewall).
        keep_first_error(fd, r.queued);
        r.elapsed = us(Clock::now() - start);
        settle(r, ce, false);
        record(index);
        continue;
      }
      const std::uint32_t id = free_slots.back();
      free_slots.pop_back();
      Slot& s = slots[id];
      s.fd = std::move(sock);
      s.index = index;
      s.start = start;
      s.deadline = start + options.timeout;
      s.busy = true;
      ++in_flight;
      report.stats.max_in_flight = std::max(report.stats.max_in_flight, in_flight);
      if (rc == 0) {  // connected at once (possible on loopback)
        finish(s, 0, false, Clock::now());
        continue;
      }
      epoll_event ev{};
      ev.events = EPOLLOUT;  // EPOLLERR and EPOLLHUP are always reported
      ev.data.u64 = (std::uint64_t{s.gen} << 32) | id;
      if (::epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
        const int e = errno;
        ScanResult& sr = report.results[index];
        sr = setup_failure("epoll_ctl", e);
        sr.start = us(start - t0);
        s.fd.reset();
        record(index);
        release(s);
        continue;
      }
      fifo.emplace_back(id, s.gen);
    }
    if (done >= n) break;

    // Sleep until an event, the earliest deadline, or the next start the rate allows.
    while (!fifo.empty() && (!slots[fifo.front().first].busy ||
                             slots[fifo.front().first].gen != fifo.front().second)) {
      fifo.pop_front();
    }
    std::optional<Clock::time_point> wake;
    if (!fifo.empty()) wake = slots[fifo.front().first].deadline;
    if (next < n && in_flight < cap && !fd_blocked) {
      if (auto p = pacer.next_at(); p && (!wake || *p < *wake)) wake = p;
    }
    const Clock::time_point before = Clock::now();
    timespec ts{};
    const timespec* tsp = nullptr;
    if (wake) {
      ts = to_timespec(*wake - before);
      tsp = &ts;
    }
    if (options.progress && before - last_progress >= options.progress_interval) {
      last_progress = before;
      options.progress(ScanProgress{shared.done.load(std::memory_order_relaxed), shared.total,
                                    shared.open.load(std::memory_order_relaxed), before - t0});
    }
    const int ready = ::epoll_pwait2(ep.get(), events.data(), static_cast<int>(events.size()), tsp,
                                     nullptr);
    if (ready < 0 && errno != EINTR) return fail_errno("epoll_pwait2", errno);
    const Clock::time_point now = Clock::now();
    for (int k = 0; k < std::max(ready, 0); ++k) {
      const auto& ev = events[static_cast<std::size_t>(k)];
      const auto id = static_cast<std::uint32_t>(ev.data.u64 & 0xffffffffu);
      const auto gen = static_cast<std::uint32_t>(ev.data.u64 >> 32);
      Slot& s = slots[id];
      if (!s.busy || s.gen != gen) continue;
      const int fd = s.fd.get();
      const int error = socket_error(fd);
      if (error != 0) {
        finish(s, error, false, now);
        continue;
      }
      // No error: connected, unless an ICMP error the kernel kept as a soft one (the socket was
      // busy when it came) woke us while the SYNs go on. Keep it and wait for the verdict.
      const auto info = read_tcp_info(fd);
      if (info && info->state == TCP_SYN_SENT) {
        keep_first_error(fd, report.results[s.index].queued);
        continue;
      }
      finish(s, 0, false, now);
    }
    // Deadlines.
    while (!fifo.empty()) {
      const auto [id, gen] = fifo.front();
      Slot& s = slots[id];
      if (!s.busy || s.gen != gen) {
        fifo.pop_front();
        continue;
      }
      if (s.deadline > now) break;
      fifo.pop_front();
      finish(s, 0, true, now);
    }
  }
  report.stats.elapsed = Clock::now() - t0;
  return report;
}

}  // namespace

std::size_t scan_shards(std::size_t endpoints, const ScanOptions& options, unsigned cores) {
  // A rate limit, not the CPU, bounds a paced scan; one pacer keeps it exact.
  if (options.rate || cores <= 1) return 1;
  const std::size_t by_size = endpoints / kMinShardEndpoints;
  const std::size_t by_concurrency = options.concurrency / kMinShardConcurrency;
  return std::max<std::size_t>(1, std::min({std::size_t{cores}, kMaxShards, by_size, by_concurrency}));
}

Result<ScanReport> scan_endpoints(std::span<const Endpoint> endpoints, const ScanOptions& options) {
  ShardShared shared;
  shared.t0 = Clock::now();
  shared.total = endpoints.size();
  const std::size_t k = scan_shards(endpoints.size(), options, std::thread::hardware_concurrency());
  Result<ScanReport> out = ScanReport{};
  if (k == 1) {
    out = scan_shard(endpoints, options, shared);
  } else {
    // Interleaved, so that every shard meets every host and port region alike; each shard its
    // share of the concurrency, so the sum never exceeds it.
    std::vector<std::vector<Endpoint>> parts(k);
    for (std::size_t i = 0; i < endpoints.size(); ++i) parts[i % k].push_back(endpoints[i]);
    std::vector<Result<ScanReport>> reports(k, ScanReport{});
    {
      std::vector<std::jthread> threads;
      for (std::size_t j = 0; j < k; ++j) {
        ScanOptions o = options;
        o.concurrency = options.concurrency / k + (j < options.concurrency % k ? 1 : 0);
        if (j != 0) o.progress = nullptr;
        threads.emplace_back([&, j, o] { reports[j] = scan_shard(parts[j], o, shared); });
      }
    }
    ScanReport merged;
    merged.results.resize(endpoints.size());
    for (std::size_t j = 0; j < k; ++j) {
      if (!reports[j]) return std::unexpected(reports[j].error());
      auto& r = *reports[j];
      for (std::size_t m = 0; m < r.results.size(); ++m) merged.results[m * k + j] = std::move(r.results[m]);
      merged.stats.max_in_flight += r.stats.max_in_flight;
      merged.stats.fd_waits += r.stats.fd_waits;
    }
    merged.stats.shards = k;
    out = std::move(merged);
  }
  if (!out) return out;
  out->stats.elapsed = Clock::now() - shared.t0;
  if (options.progress) {
    options.progress(ScanProgress{shared.done.load(), shared.total, shared.open.load(), out->stats.elapsed});
  }
  return out;
}

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
  r.start = us(start - t0);
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
          st.talk = talked.outcome;
          st.reply = summarize(talked.reply);
          if (talked.http) st.http_status = talked.http->status;
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
    auto ctx = make_tls_context(std::nullopt);
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
