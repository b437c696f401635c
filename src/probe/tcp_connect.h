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

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "probe/tcp_connect_result.h"

namespace connscope::probe {

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
