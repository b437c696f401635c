#include "probe/trace_tracer.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>

#include "probe/route.h"
#include "probe/socket_ops.h"

namespace connscope::probe::trace_detail {

// DF-set UDP datagrams from the interface's MTU down, each size the next hop reports as too
// big, until the destination answers one: the path MTU and the router that reported it.
boost::asio::awaitable<PathMtu> Tracer::path_mtu(const std::vector<TraceHop>& hops) {
  PathMtu pm;
  auto failed = [&](std::string op, int error) {
    pm.outcome = MtuOutcome::error;
    pm.error = Error{std::move(op), error, {}};
    return pm;
  };
  sys::UniqueFd sock(::socket(family_, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!sock) co_return failed("socket", errno);
  const int fd = sock.get();
  const bool v4 = family_ == AF_INET;
  if (int e = set_recverr(fd, family_)) co_return failed(recverr_option_name(family_), e);
  // DF set, and the size we ask for is sent even above a path MTU the kernel learned before.
  if (int e = v4 ? set_int_option(fd, SOL_IP, IP_MTU_DISCOVER, IP_PMTUDISC_PROBE)
                 : set_int_option(fd, SOL_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_PROBE)) {
    co_return failed(v4 ? "setsockopt IP_MTU_DISCOVER" : "setsockopt IPV6_MTU_DISCOVER", e);
  }
  if (from_ && ::bind(fd, reinterpret_cast<const sockaddr*>(&*from_), from_len_) != 0) {
    co_return failed("bind " + *o_.source, errno);
  }
  sockaddr_storage to{};
  const socklen_t to_len = Endpoint{family_, dst_, o_.mtu_port}.to_sockaddr(to);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), to_len) != 0) co_return failed("connect", errno);

  // Start at the interface's MTU: the route's may already hold a path MTU learned earlier,
  // and the point is to find who reports it.
  RouteQuery q;
  q.destination = dst_;
  q.source = o_.source;
  q.timeout = std::chrono::milliseconds(1000);
  const RouteResult route = lookup_route(q);
  int size = 0;
  if (route.link_mtu) size = static_cast<int>(*route.link_mtu);
  if (size == 0) {
    int mtu = 0;
    socklen_t len = sizeof mtu;
    if (::getsockopt(fd, v4 ? SOL_IP : SOL_IPV6, v4 ? IP_MTU : IPV6_MTU, &mtu, &len) != 0) {
      co_return failed(v4 ? "getsockopt IP_MTU" : "getsockopt IPV6_MTU", errno);
    }
    size = mtu;
  }
  // Loopback's 65536 is more than one datagram holds.
  size = std::min(size, 65535);
  pm.local_mtu = size;
  if (auto w = watch(fd, kMtuTag, EPOLLIN); !w) co_return failed("epoll_ctl ADD", w.error().code);

  std::optional<std::uint32_t> smallest_reported;
  std::vector<std::byte> payload;
  for (int step = 0; step < kMaxMtuSteps && Clock::now() < deadline_; ++step) {
    MtuStep s;
    s.size = size;
    payload.assign(udp_payload_for(family_, size), std::byte{0});
    const Clock::time_point sent = Clock::now();
    if (::send(fd, payload.data(), payload.size(), 0) < 0) {
      s.reply = ProbeReply::local_error;
      s.error = errno;
      pm.steps.push_back(s);
      pm.outcome = MtuOutcome::error;
      pm.mtu = size;
      pm.error = Error{"send " + std::to_string(size) + " bytes", s.error, {}};
      co_return pm;
    }
    const auto until = std::min(sent + o_.probe_timeout, deadline_);
    bool done = false;
    while (!done && Clock::now() < until) {
      const auto events = co_await wait(until);
      if (events.empty()) continue;
      if (auto queued = drain_first(fd)) {
        s.origin = queued->origin;
        s.icmp_type = queued->type;
        s.icmp_code = queued->code;
        s.from = queued->offender;
        s.error = queued->error;
        s.next_hop_mtu = queued->info;
        s.reply = queued->origin == ErrOrigin::icmp || queued->origin == ErrOrigin::icmp6
                      ? classify_icmp_reply(queued->origin, queued->type, queued->code)
                      : ProbeReply::local_error;
        done = true;
        break;
      }
      std::array<std::byte, 512> buf{};
      if (::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT) >= 0) {
        s.reply = ProbeReply::udp_reply;
        s.from = dst_;
        done = true;
      }
    }
    pm.steps.push_back(s);
    if (!done) {
      // The destination did not answer (a firewall, a UDP service on the port, or a black hole
      // for this size): the size is an upper bound only.
      pm.outcome = MtuOutcome::unconfirmed;
      pm.mtu = size;
      break;
    }
    if (is_too_big(s.origin, s.icmp_type, s.icmp_code)) {
      if (!smallest_reported || s.next_hop_mtu < *smallest_reported) {
        smallest_reported = s.next_hop_mtu;
        pm.reporter = s.from;
      }
      const int next = next_mtu(family_, size, s.next_hop_mtu);
      if (next >= size) {
        pm.outcome = MtuOutcome::unconfirmed;
        pm.mtu = size;
        break;
      }
      size = next;
      continue;
    }
    if (s.from && *s.from == dst_) {
      pm.outcome = MtuOutcome::confirmed;
      pm.mtu = size;
      break;
    }
    // Another error from a router (unreachable, time exceeded): the path breaks for UDP here.
    pm.outcome = MtuOutcome::unconfirmed;
    pm.mtu = size;
    break;
  }
  if (pm.mtu == 0) {
    pm.outcome = MtuOutcome::unconfirmed;
    pm.mtu = size;
  }
  if (pm.reporter) pm.hop = hop_of(hops, *pm.reporter).value_or(0);
  co_return pm;
}

}  // namespace connscope::probe::trace_detail
