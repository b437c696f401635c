#pragma once
// The connect stage: a TCP handshake to each resolved address in order, each one timed, with its
// SYN retransmissions and the exact way it failed (DESIGN.md, "connect").
//
// How the kernel reports a failed handshake (Linux, net/ipv4/tcp_ipv4.c tcp_v4_err and
// net/ipv6/tcp_ipv6.c tcp_v6_err, checked on 6.18): a RST ends the connect with ECONNREFUSED.
// Any ICMP destination-unreachable (but frag-needed / packet-too-big), time-exceeded or
// parameter-problem that matches a socket in SYN_SENT ends the connect at once with the errno it
// converts to (there is no "soft error, keep retrying" in SYN_SENT unless the socket happens to
// be locked by a system call at that instant, then the error is kept in sk_err_soft and the
// SYNs go on). With IP_RECVERR / IPV6_RECVERR set before connect(), that ICMP message is also
// queued on the socket's error queue with its type, code and sender: that tells a reset from an
// ICMP port-unreachable (both ECONNREFUSED) and names the router that refused. Silence makes the
// kernel resend the SYN net.ipv4.tcp_syn_retries times (the first after 1 s; newer kernels keep
// the first net.ipv4.tcp_syn_linear_timeouts 1 s apart, then double), up to 127 s with the
// defaults of older kernels; we give up at the caller's deadline instead.
//
// SYN retransmissions are tcp_info's tcpi_total_retrans, read before the socket closes: a SYN
// resent by the retransmit timer is counted there (tcp_retransmit_skb), and nothing else has
// been sent yet. (tcpi_total_rto, from Linux 6.7, counts timer expiries, not segments, and is
// not in Debian 12's headers.)

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "core/endpoint.h"
#include "probe/icmp_error.h"
#include "probe/stage.h"

namespace connscope::probe {

struct ConnectOptions {
  // Per address: an unanswered SYN is a verdict (filtered) after this, never after the kernel's
  // retries. Must be positive.
  std::chrono::milliseconds timeout{3000};
  // Bind to this numeric local address first (port chosen by the kernel at connect time, with
  // IP_BIND_ADDRESS_NO_PORT, so the four-tuple decides as for an unbound socket).
  std::optional<std::string> source;
  // TCP_MAXSEG before connect: the MSS we announce (the doctor's path-MTU retry uses a small
  // one). nullopt: the kernel's choice.
  std::optional<int> maxseg;
};

// One address tried. Plain data: the doctor turns it into evidence and findings.
struct ConnectAttempt {
  Endpoint remote;
  // The address and port the SYN left from; absent when connect() failed before choosing one.
  std::optional<Endpoint> local;
  ConnectFailure failure = ConnectFailure::other;
  // errno the attempt ended with: connect() itself, SO_ERROR, or the setup call named in
  // failed_op. 0 when connected and when our deadline passed (timed_out; `queued` may then still
  // hold an ICMP error the kernel kept as a soft one, and that decides `failure`).
  int error = 0;
  // The system call that failed, e.g. "connect", "bind 198.18.1.2", "setsockopt TCP_MAXSEG";
  // empty when connected or timed out.
  std::string failed_op;
  bool timed_out = false;  // our deadline passed with the handshake still in SYN_SENT
  // The handshake completed but the server reset the connection before connect() returned
  // (failure none, error ECONNRESET, no socket): the talk stage's tcp.reset_after_accept.
  bool reset_after_handshake = false;
  // The ICMP (or other) error the kernel queued for this socket, with its sender.
  std::optional<QueuedError> queued;
  // `queued` and `failure` come from the doctor's trace, not from our SYN: the SYN met silence,
  // a trace probe to the same port met the ICMP error (its sender limits the errors it sends).
  bool icmp_from_trace = false;
  // From connect() to the verdict (connected, failed, or the deadline).
  std::chrono::microseconds elapsed{0};
  // SYNs resent by the kernel (tcpi_total_retrans at the verdict); absent when no SYN was sent
  // (connect() failed at once) or tcp_info could not be read.
  std::optional<std::uint32_t> syn_retransmits;
  // From tcp_info once connected: the smoothed RTT (the handshake's sample) and the MSS we send.
  std::optional<std::chrono::microseconds> rtt;
  std::optional<std::uint32_t> snd_mss;

  [[nodiscard]] bool connected() const { return failure == ConnectFailure::none; }
  // SYNs that left this host: 0 when connect() failed before sending one.
  [[nodiscard]] std::uint32_t syns_sent() const {
    return syn_retransmits ? *syn_retransmits + 1 : 0;
  }
};

// A connected attempt needed retransmitted SYNs: the tcp.slow_handshake warning.
inline constexpr std::string_view kSlowHandshakeFinding = "tcp.slow_handshake";

// One attempt and, when it connected, the socket. Owns the socket, which is bound to the
// executor given to connect_one: use it (and destroy it) there, or on one thread at a time when
// that executor's io_context is not running.
struct ConnectOutcome {
  ConnectAttempt attempt;
  // Connected, blocking mode as asio opens sockets (non_blocking(false)), IP_RECVERR turned
  // off again so later stages see TCP's usual soft handling of ICMP errors, TCP_MAXSEG kept.
  std::optional<boost::asio::ip::tcp::socket> socket;
};

// Every address tried, in order, up to the first that connected. Owns the connected socket, on
// the same terms as ConnectOutcome.
struct ConnectReport {
  std::vector<ConnectAttempt> attempts;
  std::optional<boost::asio::ip::tcp::socket> socket;  // the last attempt's, when it connected

  [[nodiscard]] bool connected() const { return socket.has_value(); }
};

// The stage status of a list of attempts: fail when none connected; warn when the one that
// connected needed retransmitted SYNs or another address failed; ok otherwise. An empty list
// is fail (nothing to connect to).
StageStatus connect_status(std::span<const ConnectAttempt> attempts);

// One TCP handshake to `remote` (AF_INET or AF_INET6, numeric address). Never throws for
// network or system errors: they are the attempt's failure. Runs on `ex`; the socket it returns
// is bound to that executor.
boost::asio::awaitable<ConnectOutcome> connect_one(boost::asio::any_io_executor ex,
                                                   Endpoint remote, ConnectOptions options);

// connect_one for every address at once (in batches of 16), each with its own result: a name
// whose one address works and another fails must show both (clients that try the failing one
// first fail). The attempts come in the resolver's order, except that the first address that
// connected, whose socket the report owns, is last; other connected sockets are closed. The
// stage takes one timeout per batch.
boost::asio::awaitable<ConnectReport> connect_all(boost::asio::any_io_executor ex,
                                                  std::vector<Endpoint> remotes,
                                                  ConnectOptions options);

}  // namespace connscope::probe
