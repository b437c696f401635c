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
#include <memory>
#include <thread>
#include <utility>


#include "probe/deadline_fifo.h"
#include "probe/tcp_connect_result.h"
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
  DeadlineFifo<Slot> deadlines;
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
      close_with_reset(s.fd.get());
      s.fd.reset();
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
      deadlines.push(id, s.gen);
    }
    if (done >= n) break;

    // Sleep until an event, the earliest deadline, or the next start the rate allows.
    std::optional<Clock::time_point> wake = deadlines.next(slots);
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
    deadlines.expire(slots, now, [&](Slot& s) { finish(s, 0, true, now); });
  }
  report.stats.elapsed = Clock::now() - t0;
  return report;
}

}  // namespace

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

}  // namespace connscope::probe
