#pragma once
// The model of one socket from a sock_diag dump, and the pure parser that builds it from one
// netlink message (as streamed by sys::DumpSource). No I/O here: the parser runs on live dumps
// and on recordings alike (tests/fixtures/sock_diag/).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/endpoint.h"
#include "core/error.h"

namespace connscope::inspect {

// Kernel TCP state numbers (include/net/tcp_states.h); UDP sockets report 7 (CLOSE) when
// unconnected and 1 (ESTABLISHED) when connected.
namespace tcp_state {
inline constexpr int kEstablished = 1;
inline constexpr int kSynSent = 2;
inline constexpr int kSynRecv = 3;
inline constexpr int kFinWait1 = 4;
inline constexpr int kFinWait2 = 5;
inline constexpr int kTimeWait = 6;
inline constexpr int kClose = 7;
inline constexpr int kCloseWait = 8;
inline constexpr int kLastAck = 9;
inline constexpr int kListen = 10;
inline constexpr int kClosing = 11;
inline constexpr int kNewSynRecv = 12;  // a request socket inside the kernel
}  // namespace tcp_state

// "ESTABLISHED", ..., NEW_SYN_RECV as "SYN_RECV" (what a person knows it as); "UNKNOWN" otherwise.
std::string_view tcp_state_name(int state);

// What kind of kernel object the record describes. Timewait sockets (TIME_WAIT, and FIN_WAIT2
// after the process closed the socket) and request sockets (half-open connections waiting for
// the client's ACK, shown as SYN_RECV) are minisockets: no file, no owner, no tcp_info.
enum class SocketKind : std::uint8_t { full, time_wait, request };

// A subset of struct tcp_info. Kernels send the struct as long as they know it; an older
// kernel's shorter struct leaves the newer fields absent.
struct TcpInfo {
  std::optional<std::uint8_t> retransmits;     // consecutive unanswered retransmissions now
  std::optional<std::uint32_t> unacked;        // segments in flight
  std::optional<std::uint32_t> lost;
  std::optional<std::uint32_t> rtt_us;         // smoothed round-trip time
  std::optional<std::uint32_t> rttvar_us;
  std::optional<std::uint32_t> snd_cwnd;       // segments
  std::optional<std::uint32_t> total_retrans;  // over the connection's life
  std::optional<std::uint64_t> bytes_acked;    // Linux 4.1+
  std::optional<std::uint64_t> bytes_received;  // Linux 4.1+
};

struct SocketRecord {
  int family = 0;    // AF_INET or AF_INET6
  int protocol = 0;  // IPPROTO_TCP or IPPROTO_UDP
  int state = 0;     // kernel TCP state number (tcp_state::k*)
  SocketKind kind = SocketKind::full;
  Endpoint local;
  Endpoint remote;
  // For LISTEN sockets: connections waiting for accept() and the backlog limit
  // (min(listen backlog, somaxconn)); the accept queue overflows when rqueue > wqueue.
  // Otherwise: bytes not yet read / not yet acknowledged.
  std::uint32_t rqueue = 0;
  std::uint32_t wqueue = 0;
  std::optional<std::uint32_t> uid;    // absent for minisockets
  // Absent when the socket has no file: minisockets, connections still in an accept queue,
  // orphans (closed by their process, still finishing the close).
  std::optional<std::uint64_t> inode;
  std::uint64_t cookie = 0;  // the kernel's socket id (also for minisockets)
  std::uint32_t interface = 0;  // bound device index, 0 when none
  // The socket's pending timer: 0 none, 1 retransmit (for a request socket: SYN-ACK), 2
  // keepalive, 3 TIME_WAIT, 4 zero-window probe; when it fires; retransmissions so far.
  std::uint8_t timer = 0;
  std::uint32_t timer_expires_ms = 0;
  std::uint8_t retrans = 0;
  std::optional<TcpInfo> tcp_info;  // present when asked for and the socket has one
  // Packets the socket dropped (sk_drops, from INET_DIAG_SKMEMINFO when asked for): for a
  // listener, every SYN or handshake ACK refused because its SYN or accept queue was full.
  std::optional<std::uint32_t> drops;

  [[nodiscard]] std::string_view state_name() const { return tcp_state_name(state); }
};

// Parses one SOCK_DIAG_BY_FAMILY message (nlmsghdr included). `protocol` is the one the dump
// asked for (the kernel names it only for some sockets). A short or inconsistent message is an
// error, never a read past `message`.
Result<SocketRecord> parse_sock_diag_message(std::span<const std::byte> message, int protocol);

// Kernel-side filter bytecode (INET_DIAG_REQ_BYTECODE) that keeps only sockets whose local
// port is `port`; for sys::InetDiagRequest::bytecode.
std::vector<std::byte> bytecode_local_port(std::uint16_t port);

}  // namespace connscope::inspect
