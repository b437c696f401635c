#include "probe/trace.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <random>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <netinet/tcp.h>

#include "probe/trace_tracer.h"
#include "probe/tcp_info.h"
#include "sys/sysctl.h"
#include "sys/unique_fd.h"

#include "probe/socket_ops.h"

namespace connscope::probe::trace_detail {

namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

constexpr std::size_t kUdpProbePayload = 32;
constexpr std::size_t kEchoPayload = 32;

// The canonical text of a numeric address of `family`, or empty when it is not one.
std::string canonical(int family, const std::string& text) {
  std::array<unsigned char, 16> raw{};
  if (::inet_pton(family, text.c_str(), raw.data()) != 1) return {};
  return address_text(family, raw.data());
}

int set_ttl(int fd, int family, int ttl) {
  return family == AF_INET ? set_int_option(fd, SOL_IP, IP_TTL, ttl)
                           : set_int_option(fd, SOL_IPV6, IPV6_UNICAST_HOPS, ttl);
}

bool make_sockaddr(int family, const std::string& address, std::uint16_t port,
                   sockaddr_storage& out, socklen_t& len) {
  Endpoint ep{family, address, port};
  if (canonical(family, address).empty()) return false;
  len = ep.to_sockaddr(out);
  return true;
}

}  // namespace

Result<void> Tracer::watch(int fd, std::uint64_t tag, std::uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = tag;
  if (::epoll_ctl(epoll_.native_handle(), EPOLL_CTL_ADD, fd, &ev) != 0) {
    return fail_errno("epoll_ctl ADD", errno);
  }
  return {};
}

Result<void> Tracer::setup() {
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) return fail_errno("epoll_create1", errno);
  boost::system::error_code ec;
  epoll_.assign(ep, ec);
  if (ec) {
    ::close(ep);
    return fail_errno("watch the epoll set", ec.value());
  }
  const std::uint16_t port = o_.mode == TraceMode::udp && o_.destination.port == 0
                                 ? kTraceUdpPort
                                 : o_.destination.port;
  make_sockaddr(family_, dst_, port, to_, to_len_);
  if (o_.source) {
    sockaddr_storage src{};
    socklen_t len = 0;
    if (!make_sockaddr(family_, *o_.source, 0, src, len)) {
      return fail("--source \"" + *o_.source + "\"", "not a numeric address of the destination's family");
    }
    from_ = src;
    from_len_ = len;
  }
  if (o_.mode == TraceMode::icmp) return setup_echo();
  return {};
}

Result<void> Tracer::setup_echo() {
  echo_ = open_echo_socket(family_, open_socket_nonblocking);
  if (echo_.method == ReachMethod::unavailable) {
    // The evidence for why the unprivileged way was refused: the setting and our groups.
    const auto evidence = ping_group_evidence();
    return std::unexpected(unavailable_reason(dst_, family_, echo_.ping_error, echo_.raw_error,
                                              evidence.range, evidence.groups));
  }
  std::random_device rng;
  auto identifier = prepare_echo_socket(echo_, family_, o_.source, /*with_ttl=*/false,
                                        static_cast<std::uint16_t>(rng() & 0xFFFFu));
  if (!identifier) return std::unexpected(identifier.error());
  EchoMatcher m;
  m.family = family_;
  m.method = echo_.method;
  m.identifier = *identifier;
  m.destination = dst_;
  m.payload = echo_payload((std::uint64_t{rng()} << 32) | rng(), kEchoPayload);
  matcher_ = std::move(m);
  by_sequence_.assign(65536, -1);
  return watch(echo_.fd.get(), kEchoTag, EPOLLIN);
}

void Tracer::finish(std::size_t i, ProbeReply reply, std::optional<std::string> from,
                    Clock::time_point now) {
  Flight& f = flights_[i];
  if (!f.waiting) return;
  f.waiting = false;
  f.fd.reset();  // closing also takes it out of the epoll set
  TraceProbe& p = probes_[i];
  p.reply = reply;
  p.from = std::move(from);
  if (reply_answered(reply)) p.rtt = since(f.sent, now);
  if (destination_answered(p, dst_)) {
    dest_hop_ = dest_hop_ ? std::min(*dest_hop_, p.ttl) : p.ttl;
  }
}

void Tracer::take_icmp(std::size_t i, const QueuedError& q, Clock::time_point now) {
  TraceProbe& p = probes_[i];
  p.origin = q.origin;
  p.icmp_type = q.type;
  p.icmp_code = q.code;
  p.error = q.error;
  if (q.origin == ErrOrigin::icmp || q.origin == ErrOrigin::icmp6) {
    finish(i, classify_icmp_reply(q.origin, q.type, q.code), q.offender, now);
  } else {
    finish(i, ProbeReply::local_error, std::nullopt, now);
  }
}

void Tracer::send_probe(int ttl, int round) {
  const std::size_t i = probes_.size();
  TraceProbe p;
  p.ttl = ttl;
  p.round = round;
  probes_.push_back(p);
  flights_.emplace_back();
  Flight& f = flights_.back();
  auto local_failure = [&](int error) {
    probes_[i].reply = ProbeReply::local_error;
    probes_[i].error = error;
    f.fd.reset();
  };

  if (o_.mode == TraceMode::icmp) {
    const int fd = echo_.fd.get();
    const auto sequence = next_sequence_++;
    if (int e = set_ttl(fd, family_, ttl)) return local_failure(e);
    const auto packet = build_echo_request(family_, matcher_->identifier, sequence, matcher_->payload);
    f.sent = Clock::now();
    if (::sendto(fd, packet.data(), packet.size(), 0, reinterpret_cast<const sockaddr*>(&to_),
                 to_len_) < 0) {
      return local_failure(errno);
    }
    // A sequence still in use after 65536 sends belongs to a probe long timed out.
    if (by_sequence_[sequence] >= 0) {
      const auto old = static_cast<std::size_t>(by_sequence_[sequence]);
      if (flights_[old].waiting) finish(old, ProbeReply::timeout, std::nullopt, f.sent);
    }
    by_sequence_[sequence] = static_cast<std::int64_t>(i);
    f.until = f.sent + o_.probe_timeout;
    f.waiting = true;
    return;
  }

  const bool tcp = o_.mode == TraceMode::tcp;
  const int fd = ::socket(family_, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return local_failure(errno);
  f.fd.reset(fd);
  // Before connect(): the kernel queues an ICMP error only when this is already set.
  if (int e = set_recverr(fd, family_)) return local_failure(e);
  if (int e = set_ttl(fd, family_, ttl)) return local_failure(e);
  if (tcp) {
    // Closing a connected probe sends a RST: no TIME_WAIT here, nothing left open there.
    const linger lg{1, 0};
    if (::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) != 0) return local_failure(errno);
  }
  if (from_) {
    if (tcp) set_int_option(fd, SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&*from_), from_len_) != 0) {
      return local_failure(errno);
    }
  }
  if (auto w = watch(fd, i, tcp ? (EPOLLOUT | EPOLLIN) : EPOLLIN); !w) return local_failure(w.error().code);
  f.sent = Clock::now();
  const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&to_), to_len_);
  const int err = rc == 0 ? 0 : errno;
  f.until = f.sent + o_.probe_timeout;
  f.waiting = true;
  if (tcp) {
    if (rc == 0) return finish(i, ProbeReply::syn_ack, dst_, Clock::now());
    if (err == EINPROGRESS || err == EINTR) return;
    // Refused before anything answered: no route, a local firewall; or a reset on loopback.
    if (auto q = drain_first(fd)) return take_icmp(i, *q, Clock::now());
    if (err == ECONNREFUSED) return finish(i, ProbeReply::rst, dst_, Clock::now());
    f.waiting = false;
    return local_failure(err);
  }
  if (rc != 0) {
    f.waiting = false;
    return local_failure(err);
  }
  const std::array<std::byte, kUdpProbePayload> payload{};
  if (::send(fd, payload.data(), payload.size(), 0) < 0) {
    const int e = errno;
    if (auto q = drain_first(fd)) return take_icmp(i, *q, Clock::now());
    f.waiting = false;
    return local_failure(e);
  }
}

void Tracer::handle_tcp(std::size_t i, Clock::time_point now) {
  const int fd = flights_[i].fd.get();
  if (auto q = drain_first(fd)) return take_icmp(i, *q, now);
  const int err = socket_error(fd);
  if (err == ECONNREFUSED) return finish(i, ProbeReply::rst, dst_, now);
  // The handshake completed and the server reset it before we looked: it answered.
  if (err == ECONNRESET) return finish(i, ProbeReply::syn_ack, dst_, now);
  if (err != 0) {
    probes_[i].error = err;
    return finish(i, ProbeReply::local_error, std::nullopt, now);
  }
  const auto info = read_tcp_info(fd);
  if (!info || info->state == TCP_SYN_SENT) return;  // still waiting
  if (info->state == TCP_CLOSE) {
    probes_[i].error = EPROTO;
    return finish(i, ProbeReply::local_error, std::nullopt, now);
  }
  finish(i, ProbeReply::syn_ack, dst_, now);
}

void Tracer::handle_udp(std::size_t i, Clock::time_point now) {
  const int fd = flights_[i].fd.get();
  if (auto q = drain_first(fd)) return take_icmp(i, *q, now);
  std::array<std::byte, 512> buf{};
  const ssize_t got = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
  if (got >= 0) return finish(i, ProbeReply::udp_reply, dst_, now);
  const int err = errno;
  if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR) return;
  probes_[i].error = err;
  finish(i, ProbeReply::local_error, std::nullopt, now);
}

void Tracer::handle_echo(Clock::time_point now) {
  const int fd = echo_.fd.get();
  auto probe_of = [&](std::uint16_t sequence) -> std::optional<std::size_t> {
    const auto idx = by_sequence_[sequence];
    if (idx < 0) return std::nullopt;
    return static_cast<std::size_t>(idx);
  };
  auto take = [&](const Received& rec) {
    if (rec.kind == Received::Kind::foreign) return;
    const auto i = probe_of(rec.sequence);
    if (!i || !flights_[*i].waiting) return;
    if (rec.kind == Received::Kind::echo_reply) return finish(*i, ProbeReply::echo_reply, rec.from, now);
    TraceProbe& p = probes_[*i];
    p.origin = rec.error.origin;
    p.icmp_type = rec.error.type;
    p.icmp_code = rec.error.code;
    std::optional<std::string> from;
    if (!rec.error.from.empty()) from = rec.error.from;
    finish(*i, classify_icmp_reply(rec.error.origin, rec.error.type, rec.error.code), from, now);
  };
  if (echo_.method == ReachMethod::ping_socket) {
    for (int n = 0; n < kMaxReads; ++n) {
      auto d = read_error_queue(fd);
      if (!d) break;
      if (!d->error) continue;
      take(match_queued_error(*matcher_, *d->error, d->original));
    }
  }
  std::vector<std::byte> data(4096);
  for (int n = 0; n < kMaxReads; ++n) {
    sockaddr_storage from{};
    iovec iov{data.data(), data.size()};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    const ssize_t got = ::recvmsg(fd, &msg, MSG_DONTWAIT);
    if (got < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      continue;  // a ping socket reports a queued error once as the receive's errno
    }
    if ((msg.msg_flags & MSG_TRUNC) != 0) continue;
    take(match_packet(*matcher_, std::span<const std::byte>(data.data(), static_cast<std::size_t>(got)),
                      sockaddr_text(from), std::nullopt));
  }
}

void Tracer::handle(std::uint64_t tag, std::uint32_t /*events*/, Clock::time_point now) {
  if (tag == kEchoTag) return handle_echo(now);
  if (tag >= flights_.size() || !flights_[tag].waiting) return;
  if (o_.mode == TraceMode::tcp) return handle_tcp(tag, now);
  handle_udp(tag, now);
}

asio::awaitable<std::vector<epoll_event>> Tracer::wait(Clock::time_point until) {
  std::vector<epoll_event> out;
  std::array<epoll_event, 64> events{};
  // Ready already: no need to sleep (level-triggered, so nothing is lost either way).
  int n = ::epoll_wait(epoll_.native_handle(), events.data(), static_cast<int>(events.size()), 0);
  if (n <= 0 && Clock::now() < until) {
    // The wait on the epoll set is started here, synchronously, so that an edge between the
    // check above and the wait cannot be lost (Asio watches descriptors edge-triggered); the
    // timer ends it by cancelling. A timer handler already queued when the wait ended must not
    // cancel a later wait: hence the generation.
    const std::uint64_t gen = ++wait_gen_;
    timer_.expires_at(until);
    timer_.async_wait([this, alive = alive_, gen](const boost::system::error_code& ec) {
      if (ec || !*alive || gen != wait_gen_) return;
      boost::system::error_code ignored;
      epoll_.cancel(ignored);
    });
    co_await epoll_.async_wait(asio::posix::descriptor_base::wait_read, kTuple);
    ++wait_gen_;
    timer_.cancel();
    const auto cs = co_await asio::this_coro::cancellation_state;
    if (cs.cancelled() != asio::cancellation_type::none) cancelled_ = true;
    n = ::epoll_wait(epoll_.native_handle(), events.data(), static_cast<int>(events.size()), 0);
  }
  for (int k = 0; k < n; ++k) out.push_back(events[static_cast<std::size_t>(k)]);
  co_return out;
}

asio::awaitable<TraceResult> Tracer::run() {
  start_ = Clock::now();
  TraceResult r;
  r.mode = o_.mode;
  r.destination = Endpoint{family_, dst_,
                           o_.mode == TraceMode::icmp ? std::uint16_t{0}
                           : o_.mode == TraceMode::udp && o_.destination.port == 0
                               ? kTraceUdpPort
                               : o_.destination.port};
  const int rounds = o_.probes * o_.cycles;
  const int hops = o_.max_hops - o_.first_ttl + 1;
  const auto schedule = (o_.send_gap * hops + o_.interval) * rounds + o_.probe_timeout +
                        (o_.path_mtu ? o_.probe_timeout * kMaxMtuSteps : milliseconds(0)) +
                        milliseconds(1000);
  deadline_ = start_ + o_.deadline.value_or(std::chrono::duration_cast<milliseconds>(schedule));

  if (auto s = setup(); !s) {
    r.verdict = TraceVerdict::error;
    r.error = s.error();
    r.icmp_method = echo_.method;
    r.duration = since(start_, Clock::now());
    co_return r;
  }
  r.icmp_method = echo_.method;

  int round = 0;
  int ttl = o_.first_ttl;
  Clock::time_point next_send = start_;
  for (;;) {
    auto now = Clock::now();
    // Send what is due.
    while (round < rounds && now >= next_send && now < deadline_) {
      const int top = dest_hop_ ? std::min(*dest_hop_, o_.max_hops) : o_.max_hops;
      if (ttl > top) {
        // The round is complete (the destination answered below the TTLs left).
        ++round;
        ttl = o_.first_ttl;
        next_send = now + o_.interval;
        if (o_.on_round) o_.on_round(round, rounds);
        continue;
      }
      send_probe(ttl, round);
      ++ttl;
      next_send = Clock::now() + o_.send_gap;
      now = Clock::now();
    }
    // Probes past their time are lost.
    bool waiting = false;
    Clock::time_point wake = deadline_;
    for (std::size_t i = 0; i < flights_.size(); ++i) {
      Flight& f = flights_[i];
      if (!f.waiting) continue;
      if (f.until <= now) {
        finish(i, ProbeReply::timeout, std::nullopt, now);
        continue;
      }
      waiting = true;
      wake = std::min(wake, f.until);
    }
    if (round >= rounds && !waiting) break;
    if (now >= deadline_ || cancelled_) break;
    if (round < rounds) wake = std::min(wake, next_send);
    const auto events = co_await wait(wake);
    const auto woke = Clock::now();
    for (const auto& ev : events) handle(ev.data.u64, ev.events, woke);
  }
  // The deadline cut the rest short: what was still in flight is lost.
  for (std::size_t i = 0; i < flights_.size(); ++i) {
    if (flights_[i].waiting) finish(i, ProbeReply::timeout, std::nullopt, Clock::now());
  }
  r.rounds = round;
  echo_.fd.reset();  // out of the epoll set: the path-MTU probes wait on it alone

  r.info = decide_verdict(probes_, dst_);
  r.verdict = r.info.verdict;
  r.hops = build_hops(probes_, r.info, dst_, o_.first_ttl, o_.max_hops);
  if (o_.path_mtu) r.path_mtu = co_await path_mtu(r.hops);
  r.duration = since(start_, Clock::now());
  co_return r;
}

}  // namespace connscope::probe::trace_detail

namespace connscope::probe {

namespace asio = boost::asio;
using std::chrono::milliseconds;

asio::awaitable<TraceResult> trace(asio::any_io_executor ex, TraceOptions options) {
  TraceResult r;
  r.mode = options.mode;
  r.destination = options.destination;
  auto invalid = [&](std::string detail) {
    r.verdict = TraceVerdict::error;
    r.error = Error{"trace to " + options.destination.address, 0, std::move(detail)};
    return r;
  };
  const int family = options.destination.family;
  if (family != AF_INET && family != AF_INET6) co_return invalid("not an IPv4 or IPv6 destination");
  std::string dst = trace_detail::canonical(family, options.destination.address);
  if (dst.empty()) co_return invalid("the destination is not a numeric address");
  if (options.first_ttl < 1 || options.first_ttl > 255 || options.max_hops < options.first_ttl ||
      options.max_hops > 255) {
    co_return invalid("hops must be 1-255, the first at most the last");
  }
  if (options.probes < 1 || options.probes > 10) co_return invalid("probes per hop must be 1-10");
  if (options.cycles < 1 || options.cycles > 1000) co_return invalid("cycles must be 1-1000");
  if (options.probe_timeout <= milliseconds(0) || options.interval < milliseconds(0) ||
      options.send_gap < milliseconds(0) || (options.deadline && *options.deadline <= milliseconds(0))) {
    co_return invalid("timeouts must be positive, intervals not negative");
  }
  if (options.mode == TraceMode::tcp && options.destination.port == 0) {
    co_return invalid("a TCP trace needs a port");
  }
  trace_detail::Tracer tracer(ex, std::move(options), family, std::move(dst));
  co_return co_await tracer.run();
}

}  // namespace connscope::probe
