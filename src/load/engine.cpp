#include <sys/epoll.h>
#include <sys/socket.h>
#include <netinet/tcp.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <limits>

#include "core/error_text.h"
#include "load/load.h"
#include "probe/deadline_fifo.h"
#include "probe/socket_ops.h"
#include "probe/tcp_info.h"
#include "sys/unique_fd.h"

namespace connscope::load {

namespace {

using std::chrono::duration_cast;
using std::chrono::microseconds;

constexpr std::uint64_t kStopTag = std::numeric_limits<std::uint64_t>::max();
constexpr auto kLate = std::chrono::milliseconds(10);

microseconds us(Clock::duration d) { return duration_cast<microseconds>(d); }

timespec to_timespec(Clock::duration d) {
  if (d < Clock::duration::zero()) d = Clock::duration::zero();
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
  return timespec{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
}

struct Slot {
  sys::UniqueFd fd;
  Clock::time_point due{};
  Clock::time_point start{};
  Clock::time_point deadline{};
  std::optional<probe::QueuedError> queued;
  std::uint32_t gen = 0;
  bool busy = false;
};

// The storm's counts as connections end; the report is made from it at the end.
class Tally {
 public:
  explicit Tally(Clock::time_point t0) : t0_(t0) {}

  LoadSecond& second(Clock::time_point t) {
    const auto i = static_cast<std::size_t>(std::max<Clock::rep>(0, (t - t0_) / std::chrono::seconds(1)));
    if (timeline_.size() <= i) timeline_.resize(i + 1);
    return timeline_[i];
  }

  void started(Clock::time_point now, Clock::time_point due, std::size_t in_flight) {
    ++started_;
    last_start_ = now;
    auto& s = second(now);
    ++s.started;
    s.max_in_flight = std::max(s.max_in_flight, in_flight);
    max_in_flight_ = std::max(max_in_flight_, in_flight);
    const auto lag = now - due;
    if (lag > kLate) ++late_starts_;
    max_lag_ = std::max(max_lag_, us(lag));
  }

  void ended(const Outcome& o, int error, Clock::time_point now, const Slot* slot, std::uint32_t retransmits) {
    ++finished_;
    ++by_fate_[static_cast<std::size_t>(o.fate)];
    auto& s = second(now);
    const bool connected = o.fate == Fate::connected || o.fate == Fate::connected_retried;
    if (connected) {
      ++s.connected;
      if (slot != nullptr) {
        connect_.add(us(now - slot->due));
        handshake_.add(us(now - slot->start));
      }
      if (retransmits > 0) {
        ++s.retransmitted;
        ++retransmits_[retransmits];
      }
    } else {
      ++s.failed;
    }
    for (auto& f : fates_) {
      if (f.outcome.fate == o.fate && f.outcome.reason == o.reason && f.outcome.failure == o.failure) {
        ++f.count;
        return;
      }
    }
    fates_.push_back(FateCount{o, 1, error});
  }

  [[nodiscard]] LoadProgress progress(Clock::time_point now, std::size_t in_flight) const {
    LoadProgress p;
    p.elapsed = now - t0_;
    p.started = started_;
    p.by_fate = by_fate_;
    p.connected = by_fate_[static_cast<std::size_t>(Fate::connected)] +
                  by_fate_[static_cast<std::size_t>(Fate::connected_retried)];
    p.failed = finished_ - p.connected;
    p.in_flight = in_flight;
    const auto i = static_cast<std::size_t>(std::max<Clock::rep>(0, (now - t0_) / std::chrono::seconds(1)));
    // The last whole second: the current one is still filling.
    if (i >= 1 && i - 1 < timeline_.size()) p.rate_last_second = static_cast<double>(timeline_[i - 1].started);
    return p;
  }

  LoadReport report(Clock::time_point end) && {
    LoadReport r;
    r.elapsed = end - t0_;
    r.start_span = started_ > 0 ? last_start_ - t0_ : Clock::duration::zero();
    r.started = started_;
    r.finished = finished_;
    r.fates = std::move(fates_);
    std::stable_sort(r.fates.begin(), r.fates.end(), [](const FateCount& a, const FateCount& b) { return a.count > b.count; });
    r.syn_retransmits = std::move(retransmits_);
    r.connect = connect_.summary();
    r.handshake = handshake_.summary();
    r.late_starts = late_starts_;
    r.max_start_lag = max_lag_;
    r.max_in_flight = max_in_flight_;
    r.timeline = std::move(timeline_);
    return r;
  }

 private:
  Clock::time_point t0_;
  Clock::time_point last_start_{};
  std::uint64_t started_ = 0;
  std::uint64_t finished_ = 0;
  std::array<std::uint64_t, kFateCount> by_fate_{};
  std::vector<FateCount> fates_;
  std::map<std::uint32_t, std::uint64_t> retransmits_;
  LatencyHistogram connect_;
  LatencyHistogram handshake_;
  std::uint64_t late_starts_ = 0;
  microseconds max_lag_{0};
  std::size_t max_in_flight_ = 0;
  std::vector<LoadSecond> timeline_;
};

}  // namespace

std::uint64_t LoadReport::count(Fate f) const {
  std::uint64_t n = 0;
  for (const auto& c : fates) n += c.outcome.fate == f ? c.count : 0;
  return n;
}

double LoadReport::start_rate() const {
  const double span = std::chrono::duration<double>(start_span).count();
  if (started < 2 || span <= 0) return 0;
  return static_cast<double>(started - 1) / span;
}

Result<LoadReport> run_load(const LoadOptions& options) {
  const bool open_loop = options.rate.has_value();
  if (open_loop && options.connections) return fail_text("load", Msg::load_model_both);
  if (!open_loop && !options.connections) return fail_text("load", Msg::load_model_missing);
  if (open_loop && !(*options.rate > 0 && std::isfinite(*options.rate))) return fail_text("load --rate", Msg::load_bad_rate);
  if ((!open_loop && *options.connections == 0) || options.timeout <= std::chrono::milliseconds::zero() ||
      options.duration <= std::chrono::milliseconds::zero() || options.max_in_flight == 0) {
    return fail_text("load", Msg::load_bad_options);
  }

  sys::UniqueFd ep(::epoll_create1(EPOLL_CLOEXEC));
  if (!ep) return fail_errno("epoll_create1", errno);
  if (options.stop_fd >= 0) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kStopTag;
    if (::epoll_ctl(ep.get(), EPOLL_CTL_ADD, options.stop_fd, &ev) != 0) return fail_errno("epoll_ctl stop fd", errno);
  }

  const std::size_t cap = open_loop ? options.max_in_flight : std::min(options.max_in_flight, *options.connections);
  std::vector<Slot> slots(cap);
  std::vector<std::uint32_t> free_slots;
  free_slots.reserve(cap);
  for (std::size_t i = cap; i > 0; --i) free_slots.push_back(static_cast<std::uint32_t>(i - 1));
  probe::DeadlineFifo<Slot> deadlines;
  std::vector<epoll_event> events(std::min<std::size_t>(cap + 1, 1024));

  const Clock::time_point t0 = Clock::now();
  const Clock::time_point end_starts = t0 + options.duration;
  const std::uint64_t planned =
      open_loop ? std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::floor(
                                                 *options.rate * std::chrono::duration<double>(options.duration).count())))
                : 0;
  const double period_ns = open_loop ? 1e9 / *options.rate : 0;
  auto due_at = [&](std::uint64_t i) {
    return t0 + std::chrono::nanoseconds(static_cast<std::int64_t>(std::llround(static_cast<double>(i) * period_ns)));
  };

  Tally tally(t0);
  std::uint64_t next = 0;  // open loop: the next connection due
  std::size_t in_flight = 0;
  bool stopped = false;
  Clock::time_point last_progress = t0;

  auto release = [&](Slot& s) {
    s.fd.reset();  // closing removes it from the epoll set
    s.queued.reset();
    s.busy = false;
    ++s.gen;
    --in_flight;
    free_slots.push_back(static_cast<std::uint32_t>(&s - slots.data()));
  };
  // The connect ended (error 0: connected, or its errno) or our deadline passed.
  auto finish = [&](Slot& s, int error, bool timed_out, Clock::time_point now) {
    if (error != 0 || timed_out) {
      auto q = probe::drain_error_queue(s.fd.get());
      if (!s.queued) s.queued = std::move(q);
    }
    std::uint32_t retransmits = 0;
    if (error == 0 && !timed_out) {
      if (const auto info = probe::read_tcp_info(s.fd.get())) retransmits = info->total_retrans;
    }
    Outcome o = classify(error, timed_out, s.queued, retransmits);
    if ((o.fate == Fate::connected || o.fate == Fate::connected_retried) && probe::connected_to_itself(s.fd.get())) {
      o = Outcome{Fate::refused, probe::ConnectFailure::refused, "self-connect"};
    }
    if (options.close == CloseHow::rst && error == 0 && !timed_out) probe::close_with_reset(s.fd.get());
    tally.ended(o, error, now, &s, retransmits);
    release(s);
  };
  auto start_one = [&](Clock::time_point due) {
    const Clock::time_point now = Clock::now();
    const int fd = ::socket(options.target.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    tally.started(now, due, in_flight + (fd >= 0 ? 1 : 0));
    if (fd < 0) {
      tally.ended(classify_socket_error(errno), errno, now, nullptr, 0);
      return;
    }
    sys::UniqueFd sock(fd);
    if (const int e = probe::set_recverr(fd, options.target.family)) {
      tally.ended(classify_socket_error(e), e, now, nullptr, 0);
      return;
    }
    const std::uint32_t id = free_slots.back();
    free_slots.pop_back();
    Slot& s = slots[id];
    s.fd = std::move(sock);
    s.due = due;
    s.start = now;
    s.deadline = now + options.timeout;
    s.busy = true;
    ++in_flight;
    sockaddr_storage ss{};
    const socklen_t len = options.target.to_sockaddr(ss);
    const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&ss), len);
    const int ce = rc == 0 ? 0 : errno;
    if (rc == 0 || (ce != EINPROGRESS && ce != EINTR)) {
      // Connected at once, or failed before a SYN left (no local port, no route, a firewall).
      finish(s, ce, false, Clock::now());
      return;
    }
    epoll_event ev{};
    ev.events = EPOLLOUT;  // EPOLLERR and EPOLLHUP are always reported
    ev.data.u64 = (std::uint64_t{s.gen} << 32) | id;
    if (::epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
      finish(s, errno, false, Clock::now());
      return;
    }
    deadlines.push(id, s.gen);
  };

  for (;;) {
    Clock::time_point now = Clock::now();
    // Start what is due and what the slots allow.
    if (!stopped) {
      if (open_loop) {
        while (next < planned && in_flight < cap && due_at(next) <= now) start_one(due_at(next++));
      } else {
        while (in_flight < cap && now < end_starts) start_one(Clock::now());
      }
    }
    const bool more_to_start = !stopped && (open_loop ? next < planned : Clock::now() < end_starts);
    if (!more_to_start && in_flight == 0) break;
    if (stopped) break;

    std::optional<Clock::time_point> wake = deadlines.next(slots);
    auto sooner = [&](Clock::time_point t) {
      if (!wake || t < *wake) wake = t;
    };
    if (more_to_start && in_flight < cap) sooner(open_loop ? due_at(next) : end_starts);
    if (!open_loop && more_to_start) sooner(end_starts);
    if (options.progress) sooner(last_progress + options.progress_interval);
    now = Clock::now();
    timespec ts{};
    const timespec* tsp = nullptr;
    if (wake) {
      ts = to_timespec(*wake - now);
      tsp = &ts;
    }
    const int ready = ::epoll_pwait2(ep.get(), events.data(), static_cast<int>(events.size()), tsp, nullptr);
    if (ready < 0 && errno != EINTR) return fail_errno("epoll_pwait2", errno);
    now = Clock::now();
    for (int k = 0; k < std::max(ready, 0); ++k) {
      const auto& ev = events[static_cast<std::size_t>(k)];
      if (ev.data.u64 == kStopTag) {
        stopped = true;
        continue;
      }
      const auto id = static_cast<std::uint32_t>(ev.data.u64 & 0xffffffffu);
      const auto gen = static_cast<std::uint32_t>(ev.data.u64 >> 32);
      Slot& s = slots[id];
      if (!s.busy || s.gen != gen) continue;
      const int error = probe::socket_error(s.fd.get());
      if (error != 0) {
        finish(s, error, false, now);
        continue;
      }
      // No error: connected, unless an ICMP error the kernel kept as a soft one woke us while the
      // SYNs go on. Keep it for the verdict and wait.
      const auto info = probe::read_tcp_info(s.fd.get());
      if (info && info->state == TCP_SYN_SENT) {
        auto q = probe::drain_error_queue(s.fd.get());
        if (!s.queued) s.queued = std::move(q);
        continue;
      }
      finish(s, 0, false, now);
    }
    deadlines.expire(slots, now, [&](Slot& s) { finish(s, 0, true, now); });
    if (options.progress && now - last_progress >= options.progress_interval) {
      last_progress = now;
      options.progress(tally.progress(now, in_flight));
    }
  }

  const Clock::time_point end = Clock::now();
  if (options.progress) options.progress(tally.progress(end, in_flight));
  const std::size_t unfinished = in_flight;
  for (auto& s : slots) {
    if (s.busy) {
      s.fd.reset();
      s.busy = false;
    }
  }
  LoadReport r = std::move(tally).report(end);
  r.interrupted = stopped;
  r.planned = planned;
  r.unfinished = unfinished;
  return r;
}

}  // namespace connscope::load
