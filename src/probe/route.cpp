#include "probe/route.h"

#include "core/error_text.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

namespace connscope::probe {

namespace {

constexpr std::size_t kHeaderLen = sizeof(nlmsghdr);
constexpr std::size_t kAttrHeaderLen = sizeof(nlattr);
// The route and link replies are one message of a few hundred bytes.
constexpr std::size_t kReceiveBuffer = 16 * 1024;
// rta_expires is in USER_HZ ticks (jiffies_delta_to_clock_t), 100 on every Linux ABI.
constexpr std::uint32_t kUserHz = 100;

constexpr std::size_t align4(std::size_t n) { return (n + 3u) & ~std::size_t{3}; }

// The kernel's error numbers are 1..4095 (MAX_ERRNO). A larger one comes from a garbled reply
// or recording, and negating INT_MIN would be undefined (found by the rtnetlink fuzzer).
constexpr int kMaxErrno = 4095;

// A message or attribute inside the bytes being parsed: its type and its payload.
struct Piece {
  std::uint16_t type = 0;
  std::uint16_t flags = 0;
  std::span<const std::byte> payload;
};

// Walks netlink attributes (type, length, payload, padding) with every length checked.
Result<std::vector<Piece>> attributes(std::span<const std::byte> bytes, std::string_view what) {
  std::vector<Piece> out;
  std::size_t off = 0;
  while (off + kAttrHeaderLen <= bytes.size()) {
    nlattr a{};
    std::memcpy(&a, bytes.data() + off, kAttrHeaderLen);
    if (a.nla_len < kAttrHeaderLen || a.nla_len > bytes.size() - off) {
      return fail_text(std::string(what), Msg::err_nl_bad_attribute,
                       {{"length", std::to_string(a.nla_len)}, {"offset", std::to_string(off)},
                        {"size", std::to_string(bytes.size())}});
    }
    out.push_back(Piece{static_cast<std::uint16_t>(a.nla_type & NLA_TYPE_MASK), 0,
                        bytes.subspan(off + kAttrHeaderLen, a.nla_len - kAttrHeaderLen)});
    off += std::min(align4(a.nla_len), bytes.size() - off);
  }
  return out;
}

// The messages of one datagram (header type and flags, payload after the header).
Result<std::vector<Piece>> messages(std::span<const std::byte> datagram, std::string_view what) {
  std::vector<Piece> out;
  std::size_t off = 0;
  while (off < datagram.size()) {
    const std::size_t left = datagram.size() - off;
    if (left < kHeaderLen) {
      return fail_text(std::string(what), Msg::err_nl_stray_bytes,
                       {{"bytes", std::to_string(left)}, {"offset", std::to_string(off)},
                        {"size", std::to_string(datagram.size())}});
    }
    nlmsghdr h{};
    std::memcpy(&h, datagram.data() + off, kHeaderLen);
    if (h.nlmsg_len < kHeaderLen || h.nlmsg_len > left) {
      return fail_text(std::string(what), Msg::err_nl_bad_length,
                       {{"length", std::to_string(h.nlmsg_len)}, {"offset", std::to_string(off)},
                        {"size", std::to_string(datagram.size())}});
    }
    out.push_back(Piece{h.nlmsg_type, h.nlmsg_flags,
                        datagram.subspan(off + kHeaderLen, h.nlmsg_len - kHeaderLen)});
    off += std::min(align4(h.nlmsg_len), left);
  }
  return out;
}

std::optional<std::uint32_t> u32_of(std::span<const std::byte> payload) {
  if (payload.size() < sizeof(std::uint32_t)) return std::nullopt;
  std::uint32_t v = 0;
  std::memcpy(&v, payload.data(), sizeof v);
  return v;
}

// A 4- or 16-byte address attribute in numeric form.
std::optional<std::string> address_of(std::span<const std::byte> payload) {
  std::array<char, INET6_ADDRSTRLEN> buf{};
  std::array<unsigned char, 16> raw{};
  int family = 0;
  if (payload.size() == 4) {
    family = AF_INET;
  } else if (payload.size() == 16) {
    family = AF_INET6;
  } else {
    return std::nullopt;
  }
  std::memcpy(raw.data(), payload.data(), payload.size());
  if (::inet_ntop(family, raw.data(), buf.data(), static_cast<socklen_t>(buf.size())) == nullptr) {
    return std::nullopt;
  }
  return std::string(buf.data());
}

// NLMSG_ERROR's payload: a negative errno, the request's header (and, with NETLINK_CAP_ACK,
// nothing more of it), then extended-ack attributes when NLM_F_ACK_TLVS is set.
struct KernelError {
  int error = 0;
  std::string message;
};

Result<KernelError> parse_error(const Piece& m, std::string_view what) {
  nlmsgerr e{};
  if (m.payload.size() < sizeof e.error) return fail_text(std::string(what), Msg::err_nl_short, {{"message", "NLMSG_ERROR"}});
  std::memcpy(&e.error, m.payload.data(), sizeof e.error);
  if (e.error < -kMaxErrno || e.error > kMaxErrno) {
    return fail_text(std::string(what), Msg::err_nl_bad_error,
                     {{"message", "NLMSG_ERROR"}, {"error", std::to_string(e.error)}});
  }
  KernelError out{e.error < 0 ? -e.error : e.error, {}};
  if ((m.flags & NLM_F_ACK_TLVS) != 0 && m.payload.size() >= sizeof e) {
    // The echoed request is only its header when NLM_F_CAPPED is set; otherwise all of it.
    std::size_t skip = sizeof e;
    if ((m.flags & NLM_F_CAPPED) == 0) {
      std::memcpy(&e, m.payload.data(), sizeof e);
      skip = std::max<std::size_t>(skip, sizeof e.error + align4(e.msg.nlmsg_len));
    }
    if (skip <= m.payload.size()) {
      auto tlvs = attributes(m.payload.subspan(skip), what);
      if (!tlvs) return std::unexpected(tlvs.error());
      for (const auto& a : *tlvs) {
        if (a.type != NLMSGERR_ATTR_MSG) continue;
        std::string text(reinterpret_cast<const char*>(a.payload.data()), a.payload.size());
        if (auto nul = text.find('\0'); nul != std::string::npos) text.resize(nul);
        out.message = std::move(text);
      }
    }
  }
  return out;
}

struct Dest {
  int family = 0;
  std::array<unsigned char, 16> bytes{};
  std::size_t len = 0;
};

std::optional<Dest> parse_address(const std::string& text) {
  Dest d;
  if (::inet_pton(AF_INET, text.c_str(), d.bytes.data()) == 1) {
    d.family = AF_INET;
    d.len = 4;
    return d;
  }
  if (::inet_pton(AF_INET6, text.c_str(), d.bytes.data()) == 1) {
    d.family = AF_INET6;
    d.len = 16;
    return d;
  }
  return std::nullopt;
}

std::vector<std::byte> to_bytes(const nlmsghdr* nlh) {
  const auto* p = reinterpret_cast<const std::byte*>(nlh);
  return std::vector<std::byte>(p, p + nlh->nlmsg_len);
}

std::string route_op(const RouteQuery& query) {
  std::string op = "route get " + query.destination;
  if (query.source) op += " from " + *query.source;
  if (query.interface) op += " oif " + *query.interface;
  return op;
}

std::chrono::microseconds since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
}

}  // namespace

std::string_view route_outcome_name(RouteOutcome outcome) {
  switch (outcome) {
    case RouteOutcome::ok: return "ok";
    case RouteOutcome::local: return "local";
    case RouteOutcome::no_route: return "no_route";
    case RouteOutcome::unreachable_route: return "unreachable_route";
    case RouteOutcome::prohibited_route: return "prohibited_route";
    case RouteOutcome::blackhole_route: return "blackhole_route";
    case RouteOutcome::error: return "error";
  }
  return "error";
}

std::optional<std::string_view> route_finding_id(RouteOutcome outcome) {
  switch (outcome) {
    // A blackhole or unreachable route is this host's own routing refusing, as is no route.
    case RouteOutcome::no_route:
    case RouteOutcome::unreachable_route:
    case RouteOutcome::blackhole_route: return "net.no_route";
    case RouteOutcome::prohibited_route: return "net.admin_prohibited";
    case RouteOutcome::ok:
    case RouteOutcome::local:
    case RouteOutcome::error: return std::nullopt;
  }
  return std::nullopt;
}

std::string route_type_name(std::uint8_t type) {
  switch (type) {
    case RTN_UNSPEC: return "none";
    case RTN_UNICAST: return "unicast";
    case RTN_LOCAL: return "local";
    case RTN_BROADCAST: return "broadcast";
    case RTN_ANYCAST: return "anycast";
    case RTN_MULTICAST: return "multicast";
    case RTN_BLACKHOLE: return "blackhole";
    case RTN_UNREACHABLE: return "unreachable";
    case RTN_PROHIBIT: return "prohibit";
    case RTN_THROW: return "throw";
    case RTN_NAT: return "nat";
    case RTN_XRESOLVE: return "xresolve";
    default: return fmt::format("type {}", type);
  }
}

RouteOutcome classify_route_errno(int error) {
  if (error == ENETUNREACH) return RouteOutcome::no_route;
  if (error == EHOSTUNREACH) return RouteOutcome::unreachable_route;
  if (error == EACCES) return RouteOutcome::prohibited_route;
  if (error == EINVAL) return RouteOutcome::blackhole_route;
  return RouteOutcome::error;
}

Result<std::vector<std::byte>> build_route_request(const RouteQuery& query,
                                                   std::optional<std::uint32_t> ifindex,
                                                   bool with_binding, std::uint32_t seq) {
  const auto dst = parse_address(query.destination);
  if (!dst) {
    return fail_text(route_op(query), Msg::err_not_numeric_destination);
  }
  std::optional<Dest> src;
  if (with_binding && query.source) {
    src = parse_address(*query.source);
    if (!src) return fail_text(route_op(query), Msg::err_not_numeric_source);
    if (src->family != dst->family) {
      return fail_text(route_op(query), Msg::err_families_differ);
    }
  }
  // libmnl builds in place and wants an aligned buffer.
  alignas(nlmsghdr) std::array<std::byte, 256> buf{};
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_GETROUTE;
  nlh->nlmsg_flags = NLM_F_REQUEST;
  nlh->nlmsg_seq = seq;
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  rtm->rtm_family = static_cast<unsigned char>(dst->family);
  rtm->rtm_dst_len = static_cast<unsigned char>(dst->len * 8);
  rtm->rtm_flags = RTM_F_LOOKUP_TABLE;
  mnl_attr_put(nlh, RTA_DST, dst->len, dst->bytes.data());
  if (src) {
    rtm->rtm_src_len = static_cast<unsigned char>(src->len * 8);
    mnl_attr_put(nlh, RTA_SRC, src->len, src->bytes.data());
  }
  if (with_binding && ifindex) mnl_attr_put_u32(nlh, RTA_OIF, *ifindex);
  return to_bytes(nlh);
}

std::vector<std::byte> build_link_request(std::uint32_t ifindex, std::uint32_t seq) {
  alignas(nlmsghdr) std::array<std::byte, 128> buf{};
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_GETLINK;
  nlh->nlmsg_flags = NLM_F_REQUEST;
  nlh->nlmsg_seq = seq;
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = static_cast<int>(ifindex);
  // Leave out the per-VF and statistics blocks: name, MTU and flags are all we read.
  mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  return to_bytes(nlh);
}

Result<RouteReply> parse_route_reply(std::span<const std::byte> datagram) {
  constexpr std::string_view what = "RTM_GETROUTE reply";
  auto msgs = messages(datagram, what);
  if (!msgs) return std::unexpected(msgs.error());
  for (const auto& m : *msgs) {
    if (m.type == NLMSG_ERROR) {
      auto e = parse_error(m, what);
      if (!e) return std::unexpected(e.error());
      if (e->error == 0) continue;  // an acknowledgement, not an answer
      RouteReply r;
      r.kernel_error = e->error;
      r.kernel_message = std::move(e->message);
      return r;
    }
    if (m.type != RTM_NEWROUTE) continue;
    rtmsg rtm{};
    if (m.payload.size() < sizeof rtm) return fail_text(std::string(what), Msg::err_nl_short, {{"message", "rtmsg"}});
    std::memcpy(&rtm, m.payload.data(), sizeof rtm);
    RouteReply r;
    r.family = rtm.rtm_family;
    r.type = rtm.rtm_type;
    r.flags = rtm.rtm_flags;
    r.table = rtm.rtm_table;
    auto attrs = attributes(m.payload.subspan(align4(sizeof rtm)), what);
    if (!attrs) return std::unexpected(attrs.error());
    for (const auto& a : *attrs) {
      if (a.type == RTA_OIF) {
        r.oif = u32_of(a.payload);
      } else if (a.type == RTA_PREFSRC) {
        r.prefsrc = address_of(a.payload);
      } else if (a.type == RTA_SRC) {
        // IPv6 replies carry "from ::" when the request named no source.
        const bool unspecified = std::all_of(a.payload.begin(), a.payload.end(),
                                             [](std::byte b) { return b == std::byte{0}; });
        if (!unspecified) r.src = address_of(a.payload);
      } else if (a.type == RTA_GATEWAY) {
        r.gateway = address_of(a.payload);
      } else if (a.type == RTA_VIA && !r.gateway) {
        // struct rtvia: a 2-byte family, then the address.
        if (a.payload.size() > sizeof(std::uint16_t)) {
          r.gateway = address_of(a.payload.subspan(sizeof(std::uint16_t)));
        }
      } else if (a.type == RTA_TABLE) {
        if (auto t = u32_of(a.payload)) r.table = *t;
      } else if (a.type == RTA_METRICS) {
        auto metrics = attributes(a.payload, what);
        if (!metrics) return std::unexpected(metrics.error());
        for (const auto& mt : *metrics) {
          if (mt.type == RTAX_MTU) r.mtu = u32_of(mt.payload);
        }
      } else if (a.type == RTA_CACHEINFO) {
        rta_cacheinfo ci{};
        if (a.payload.size() >= sizeof ci) {
          std::memcpy(&ci, a.payload.data(), sizeof ci);
          if (ci.rta_expires > 0) r.expires_ticks = ci.rta_expires;
        }
      }
    }
    return r;
  }
  return fail_text(std::string(what), Msg::err_route_no_answer);
}

Result<LinkReply> parse_link_reply(std::span<const std::byte> datagram) {
  constexpr std::string_view what = "RTM_GETLINK reply";
  auto msgs = messages(datagram, what);
  if (!msgs) return std::unexpected(msgs.error());
  for (const auto& m : *msgs) {
    if (m.type == NLMSG_ERROR) {
      auto e = parse_error(m, what);
      if (!e) return std::unexpected(e.error());
      if (e->error == 0) continue;
      LinkReply r;
      r.kernel_error = e->error;
      return r;
    }
    if (m.type != RTM_NEWLINK) continue;
    ifinfomsg ifi{};
    if (m.payload.size() < sizeof ifi) {
      return fail_text(std::string(what), Msg::err_nl_short, {{"message", "ifinfomsg"}});
    }
    std::memcpy(&ifi, m.payload.data(), sizeof ifi);
    LinkReply r;
    r.ifindex = static_cast<std::uint32_t>(ifi.ifi_index);
    r.flags = ifi.ifi_flags;
    auto attrs = attributes(m.payload.subspan(align4(sizeof ifi)), what);
    if (!attrs) return std::unexpected(attrs.error());
    for (const auto& a : *attrs) {
      if (a.type == IFLA_IFNAME) {
        std::string name(reinterpret_cast<const char*>(a.payload.data()), a.payload.size());
        if (auto nul = name.find('\0'); nul != std::string::npos) name.resize(nul);
        r.name = std::move(name);
      } else if (a.type == IFLA_MTU) {
        r.mtu = u32_of(a.payload);
      }
    }
    return r;
  }
  return fail_text(std::string(what), Msg::err_link_no_answer);
}

// ---- the live socket ----

struct RtnetlinkExchange::State {
  struct Closer {
    void operator()(mnl_socket* nl) const noexcept { mnl_socket_close(nl); }
  };
  std::unique_ptr<mnl_socket, Closer> nl;
  std::uint32_t portid = 0;
  std::vector<std::byte> buffer = std::vector<std::byte>(kReceiveBuffer);
};

RtnetlinkExchange::RtnetlinkExchange(std::unique_ptr<State> state) : state_(std::move(state)) {}
RtnetlinkExchange::RtnetlinkExchange(RtnetlinkExchange&&) noexcept = default;
RtnetlinkExchange& RtnetlinkExchange::operator=(RtnetlinkExchange&&) noexcept = default;
RtnetlinkExchange::~RtnetlinkExchange() = default;

Result<RtnetlinkExchange> RtnetlinkExchange::open() {
  auto state = std::make_unique<State>();
  state->nl.reset(mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC));
  if (!state->nl) return fail_text("NETLINK_ROUTE", Msg::err_open_socket, {{"kind", "netlink"}}, errno);
  // Extended acks say why a request was refused, in the kernel's words; capped acks do not
  // echo the request back. Both are best effort (older kernels lack them).
  int on = 1;
  mnl_socket_setsockopt(state->nl.get(), NETLINK_EXT_ACK, &on, sizeof on);
  mnl_socket_setsockopt(state->nl.get(), NETLINK_CAP_ACK, &on, sizeof on);
  if (mnl_socket_bind(state->nl.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
    return fail_text("NETLINK_ROUTE", Msg::err_bind_socket, {{"kind", "netlink"}}, errno);
  }
  state->portid = mnl_socket_get_portid(state->nl.get());
  return RtnetlinkExchange(std::move(state));
}

Result<std::vector<std::byte>> RtnetlinkExchange::exchange(std::span<const std::byte> request,
                                                           Clock::time_point deadline) {
  const std::string op = "rtnetlink request";
  nlmsghdr sent{};
  if (request.size() < sizeof sent) return fail_text(op, Msg::err_nl_request_short);
  std::memcpy(&sent, request.data(), sizeof sent);
  mnl_socket* nl = state_->nl.get();
  if (mnl_socket_sendto(nl, request.data(), request.size()) < 0) return fail_errno(op, errno);
  for (;;) {
    const auto left = deadline - Clock::now();
    if (left <= Clock::duration::zero()) {
      return fail_text(op, Msg::err_nl_no_reply, {}, ETIMEDOUT);
    }
    // At least 1 ms: a zero SO_RCVTIMEO would mean "wait forever".
    const auto us = std::max<std::int64_t>(
        1000, std::chrono::duration_cast<std::chrono::microseconds>(left).count());
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(us / 1'000'000);
    tv.tv_usec = static_cast<suseconds_t>(us % 1'000'000);
    if (::setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0) {
      return fail_text("NETLINK_ROUTE", Msg::err_set_option, {{"option", "SO_RCVTIMEO"}}, errno);
    }
    const ssize_t n = mnl_socket_recvfrom(nl, state_->buffer.data(), state_->buffer.size());
    if (n < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) {
        return fail_text(op, Msg::err_nl_no_reply, {}, ETIMEDOUT);
      }
      if (err == ENOSPC) {
        return fail_text(op, Msg::err_nl_reply_too_large, {{"size", std::to_string(state_->buffer.size())}});
      }
      return fail_errno(op, err);
    }
    const auto datagram = std::span<const std::byte>(state_->buffer.data(),
                                                     static_cast<std::size_t>(n));
    nlmsghdr h{};
    if (datagram.size() < sizeof h) return fail_text(op, Msg::err_nl_short, {{"message", "nlmsghdr"}});
    std::memcpy(&h, datagram.data(), sizeof h);
    // Leftovers of an earlier request that timed out on this socket.
    if (h.nlmsg_seq != sent.nlmsg_seq || h.nlmsg_pid != state_->portid) continue;
    return std::vector<std::byte>(datagram.begin(), datagram.end());
  }
}

Result<std::uint32_t> RtnetlinkExchange::interface_index(const std::string& name) {
  const unsigned index = ::if_nametoindex(name.c_str());
  if (index == 0) return fail_text(name, Msg::err_no_interface, {}, errno);
  return static_cast<std::uint32_t>(index);
}

// ---- the stage ----

RouteResult lookup_route(const RouteQuery& query, RouteExchange& exchange) {
  const auto start = Clock::now();
  const auto deadline = start + query.timeout;
  RouteResult out;
  out.destination = query.destination;
  const std::string op = route_op(query);
  auto failed = [&](Error e) {
    out.outcome = RouteOutcome::error;
    out.error = std::move(e);
    out.duration = since(start);
    return out;
  };

  if (const auto dst = parse_address(query.destination)) out.family = dst->family;
  std::optional<std::uint32_t> ifindex;
  if (query.interface) {
    auto index = exchange.interface_index(*query.interface);
    if (!index) return failed(index.error());
    ifindex = *index;
  }

  auto ask = [&](bool with_binding, std::uint32_t seq) -> Result<RouteReply> {
    auto request = build_route_request(query, ifindex, with_binding, seq);
    if (!request) return std::unexpected(request.error());
    auto reply = exchange.exchange(*request, deadline);
    if (!reply) {
      Error e = reply.error();
      e.op = op;
      return std::unexpected(std::move(e));
    }
    return parse_route_reply(*reply);
  };

  auto reply = ask(true, 1);
  if (!reply) return failed(reply.error());
  if (reply->kernel_error != 0) {
    out.kernel_error = reply->kernel_error;
    out.kernel_message = reply->kernel_message;
    if (query.source || query.interface) {
      // Is it the route or the binding (a source this host does not own is ENETUNREACH for
      // IPv4, a blackhole is EINVAL either way)? Only the bare destination can tell.
      auto bare = ask(false, 2);
      if (!bare) return failed(bare.error());
      if (bare->kernel_error != reply->kernel_error) {
        return failed(error_text(op, Msg::err_route_refused_source, {}, reply->kernel_error));
      }
    }
    out.outcome = classify_route_errno(reply->kernel_error);
    if (out.outcome == RouteOutcome::error) {
      return failed(Error{op, reply->kernel_error, reply->kernel_message});
    }
    out.duration = since(start);
    return out;
  }

  out.route_type = reply->type;
  out.table = reply->table;
  // The kernel leaves RTA_PREFSRC out when the request named the source it would pick.
  out.source = reply->prefsrc ? reply->prefsrc : reply->src;
  out.gateway = reply->gateway;
  out.route_mtu = reply->mtu;
  if (reply->expires_ticks) out.expires = std::chrono::seconds(*reply->expires_ticks / kUserHz);
  if (reply->type == RTN_LOCAL) {
    out.outcome = RouteOutcome::local;
  } else if (reply->type == RTN_UNREACHABLE) {
    out.outcome = RouteOutcome::unreachable_route;
  } else if (reply->type == RTN_PROHIBIT) {
    out.outcome = RouteOutcome::prohibited_route;
  } else if (reply->type == RTN_BLACKHOLE) {
    out.outcome = RouteOutcome::blackhole_route;
  } else {
    out.outcome = RouteOutcome::ok;
  }

  if (reply->oif) {
    out.ifindex = *reply->oif;
    auto link_reply = exchange.exchange(build_link_request(*reply->oif, 3), deadline);
    if (!link_reply) {
      Error e = link_reply.error();
      e.op = fmt::format("link get index {}", *reply->oif);
      return failed(std::move(e));
    }
    auto link = parse_link_reply(*link_reply);
    if (!link) return failed(link.error());
    if (link->kernel_error != 0) {
      return failed(Error{fmt::format("link get index {}", *reply->oif), link->kernel_error, {}});
    }
    out.interface = link->name;
    out.link_mtu = link->mtu;
    out.link_up = (link->flags & IFF_UP) != 0 && (link->flags & IFF_RUNNING) != 0;
  }
  out.duration = since(start);
  return out;
}

RouteResult lookup_route(const RouteQuery& query) {
  auto exchange = RtnetlinkExchange::open();
  if (!exchange) {
    RouteResult out;
    out.destination = query.destination;
    out.error = exchange.error();
    return out;
  }
  return lookup_route(query, *exchange);
}

}  // namespace connscope::probe
