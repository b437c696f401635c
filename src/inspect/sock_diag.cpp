#include "inspect/sock_diag.h"

#include "core/error_text.h"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>

#include <array>
#include <cstddef>
#include <cstring>

#include <fmt/format.h>

namespace connscope::inspect {

namespace {

constexpr std::size_t align4(std::size_t n) { return (n + 3u) & ~std::size_t{3}; }
constexpr std::size_t kHeaderLen = sizeof(nlmsghdr);
constexpr std::size_t kAttrHeaderLen = sizeof(nlattr);
constexpr std::size_t kDiagLen = sizeof(inet_diag_msg);

// Reads a T from unaligned bytes; the caller has checked the length. memcpy, not a cast:
// replayed messages need not be aligned, and a cast would break strict aliasing.
template <class T>
T load(std::span<const std::byte> bytes, std::size_t offset = 0) {
  T value{};
  std::memcpy(&value, bytes.data() + offset, sizeof value);
  return value;
}

// glibc's inet_ntop formats through sprintf; at 200k sockets that was a sixth of inspect's
// time. IPv4 (all but a few sockets on most hosts) is formatted here; IPv6 stays with inet_ntop,
// whose RFC 5952 zero compression is not worth repeating.
void format_ipv4(std::uint32_t addr_be, std::string& out) {
  const std::uint32_t a = ntohl(addr_be);
  std::array<char, 16> text{};
  std::size_t n = 0;
  for (int shift = 24; shift >= 0; shift -= 8) {
    const unsigned v = (a >> shift) & 0xFFu;
    if (v >= 100) text[n++] = static_cast<char>('0' + v / 100);
    if (v >= 10) text[n++] = static_cast<char>('0' + v / 10 % 10);
    text[n++] = static_cast<char>('0' + v % 10);
    if (shift > 0) text[n++] = '.';
  }
  out.assign(text.data(), n);
}

// Fills `ep` in place: a socket's two endpoints are filled for every message of a dump.
void fill_endpoint(Endpoint& ep, int family, const std::uint32_t (&addr)[4], std::uint16_t port_be) {
  ep.family = family;
  ep.port = ntohs(port_be);
  if (family == AF_INET) {
    format_ipv4(addr[0], ep.address);
    return;
  }
  char text[INET6_ADDRSTRLEN] = {};
  if (inet_ntop(family, addr, text, sizeof text) != nullptr) ep.address = text;
}

// The fields of tcp_info that lie wholly inside the `len` bytes the kernel sent.
TcpInfo parse_tcp_info(std::span<const std::byte> attr) {
  tcp_info info{};
  const std::size_t len = std::min(attr.size(), sizeof info);
  std::memcpy(&info, attr.data(), len);
  TcpInfo out;
  const auto has = [len](std::size_t offset, std::size_t size) { return offset + size <= len; };
#define CONNSCOPE_TCPI(field, member)                                   \
  if (has(offsetof(tcp_info, member), sizeof info.member)) out.field = info.member
  CONNSCOPE_TCPI(retransmits, tcpi_retransmits);
  CONNSCOPE_TCPI(unacked, tcpi_unacked);
  CONNSCOPE_TCPI(lost, tcpi_lost);
  CONNSCOPE_TCPI(rtt_us, tcpi_rtt);
  CONNSCOPE_TCPI(rttvar_us, tcpi_rttvar);
  CONNSCOPE_TCPI(snd_cwnd, tcpi_snd_cwnd);
  CONNSCOPE_TCPI(total_retrans, tcpi_total_retrans);
  CONNSCOPE_TCPI(bytes_acked, tcpi_bytes_acked);
  CONNSCOPE_TCPI(bytes_received, tcpi_bytes_received);
#undef CONNSCOPE_TCPI
  return out;
}

}  // namespace

std::string_view tcp_state_name(int state) {
  static constexpr std::array<std::string_view, 13> kNames = {
      "UNKNOWN",    "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT",
      "CLOSE",      "CLOSE_WAIT",  "LAST_ACK", "LISTEN",   "CLOSING",   "SYN_RECV"};
  if (state < 0 || static_cast<std::size_t>(state) >= kNames.size()) return kNames[0];
  return kNames[static_cast<std::size_t>(state)];
}

Result<SocketRecord> parse_sock_diag_message(std::span<const std::byte> message, int protocol) {
  constexpr std::string_view kOp = "sock_diag reply";
  if (message.size() < kHeaderLen) {
    return fail_text(std::string(kOp), Msg::err_diag_short_message,
                     {{"size", std::to_string(message.size())}});
  }
  const auto h = load<nlmsghdr>(message);
  if (h.nlmsg_len < kHeaderLen || h.nlmsg_len > message.size()) {
    return fail_text(std::string(kOp), Msg::err_diag_length,
                     {{"length", std::to_string(h.nlmsg_len)}, {"size", std::to_string(message.size())}});
  }
  // Replies carry the request's type: TCPDIAG_GETSOCK for the older both-families dump.
  if (h.nlmsg_type != SOCK_DIAG_BY_FAMILY && h.nlmsg_type != TCPDIAG_GETSOCK) {
    return fail_text(std::string(kOp), Msg::err_diag_type, {{"type", std::to_string(h.nlmsg_type)}});
  }
  const auto body = message.subspan(kHeaderLen, h.nlmsg_len - kHeaderLen);
  if (body.size() < kDiagLen) {
    return fail_text(std::string(kOp), Msg::err_diag_cut_short,
                     {{"message", "inet_diag_msg"}, {"got", std::to_string(body.size())},
                      {"size", std::to_string(kDiagLen)}});
  }
  const auto d = load<inet_diag_msg>(body);
  if (d.idiag_family != AF_INET && d.idiag_family != AF_INET6) {
    return fail_text(std::string(kOp), Msg::err_diag_family, {{"family", std::to_string(d.idiag_family)}});
  }

  // Built in place in the result (no move of the record on return).
  Result<SocketRecord> out(std::in_place);
  SocketRecord& rec = *out;
  rec.family = d.idiag_family;
  rec.protocol = protocol;
  rec.state = d.idiag_state;
  fill_endpoint(rec.local, rec.family, d.id.idiag_src, d.id.idiag_sport);
  fill_endpoint(rec.remote, rec.family, d.id.idiag_dst, d.id.idiag_dport);
  rec.rqueue = d.idiag_rqueue;
  rec.wqueue = d.idiag_wqueue;
  rec.cookie = std::uint64_t{d.id.idiag_cookie[0]} | (std::uint64_t{d.id.idiag_cookie[1]} << 32);
  rec.interface = d.id.idiag_if;
  rec.timer = d.idiag_timer;
  rec.timer_expires_ms = d.idiag_expires;
  rec.retrans = d.idiag_retrans;

  // Attributes follow the (aligned) inet_diag_msg.
  bool full_socket_attr = false;
  std::size_t off = align4(kDiagLen);
  while (off < body.size()) {
    const std::size_t left = body.size() - off;
    if (left < kAttrHeaderLen) {
      return fail_text(std::string(kOp), Msg::err_diag_stray, {{"bytes", std::to_string(left)}});
    }
    const auto a = load<nlattr>(body, off);
    if (a.nla_len < kAttrHeaderLen || a.nla_len > left) {
      return fail_text(std::string(kOp), Msg::err_diag_attribute,
                       {{"type", std::to_string(a.nla_type & NLA_TYPE_MASK)},
                        {"length", std::to_string(a.nla_len)}, {"left", std::to_string(left)}});
    }
    const auto payload = body.subspan(off + kAttrHeaderLen, a.nla_len - kAttrHeaderLen);
    off += std::min(align4(a.nla_len), left);
    const int type = a.nla_type & NLA_TYPE_MASK;
    if (type == INET_DIAG_INFO) {
      if (protocol == IPPROTO_TCP) rec.tcp_info = parse_tcp_info(payload);
      full_socket_attr = true;
    } else if (type == INET_DIAG_SKMEMINFO) {
      // An array of u32 indexed by SK_MEMINFO_*; older kernels send fewer entries.
      if (payload.size() >= (SK_MEMINFO_DROPS + 1) * sizeof(std::uint32_t))
        rec.drops = load<std::uint32_t>(payload, SK_MEMINFO_DROPS * sizeof(std::uint32_t));
      full_socket_attr = true;
    } else if (type == INET_DIAG_SHUTDOWN) {
      // Sent for every full socket and never for a minisocket.
      full_socket_attr = true;
    } else if (type == INET_DIAG_PROTOCOL && !payload.empty()) {
      rec.protocol = static_cast<int>(load<std::uint8_t>(payload));
    }
  }

  // Minisockets carry none of the attributes of a full socket (the kernel sends them at most
  // INET_DIAG_MARK). The kernel reports a request socket as SYN_RECV; a full socket in SYN_RECV
  // (a Fast Open child) has the full attributes. A timewait minisocket reports its substate:
  // TIME_WAIT, or FIN_WAIT2 for a connection its process closed (an orphan past
  // tcp_fin_timeout's start), with the TIME_WAIT timer (3) running.
  if (!full_socket_attr) {
    if (rec.state == tcp_state::kTimeWait ||
        (rec.state == tcp_state::kFinWait2 && d.idiag_timer == 3)) {
      rec.kind = SocketKind::time_wait;
    } else if (rec.state == tcp_state::kSynRecv || rec.state == tcp_state::kNewSynRecv) {
      rec.kind = SocketKind::request;
    }
  } else if (rec.state == tcp_state::kTimeWait) {
    rec.kind = SocketKind::time_wait;  // no full socket stays in TIME_WAIT
  }
  if (rec.kind == SocketKind::full) {
    rec.uid = d.idiag_uid;
    if (d.idiag_inode != 0) rec.inode = d.idiag_inode;
  } else {
    rec.tcp_info.reset();
  }
  return out;
}

std::vector<std::byte> bytecode_local_port(std::uint16_t port) {
  // Two tests, local port >= port and local port <= port, each an op followed by an op whose
  // `no` field holds the port. "yes" jumps to the next test; "no" jumps past the end (len + 4),
  // which the kernel reads as "reject". Both ops exist since Linux 2.6, unlike S_EQ (4.16).
  const std::array<inet_diag_bc_op, 4> ops = {{
      {INET_DIAG_BC_S_GE, 8, 16 + 4},
      {0, 0, port},
      {INET_DIAG_BC_S_LE, 8, 8 + 4},
      {0, 0, port},
  }};
  std::vector<std::byte> out(sizeof ops);
  std::memcpy(out.data(), ops.data(), sizeof ops);
  return out;
}

}  // namespace connscope::inspect
