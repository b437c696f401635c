#pragma once
// `connscope trace`: where on the path packets stop, without root in TCP and UDP mode, and the
// path MTU (DESIGN.md's trace; issue 5). The doctor calls it when connect is filtered or
// ICMP-unreachable and reports the last hop that answered.
//
// How each mode learns which router a probe died at:
// - tcp (default): one nonblocking TCP socket per probe with IP_TTL / IPV6_UNICAST_HOPS and
//   IP_RECVERR / IPV6_RECVERR set before connect(). A router's ICMP time-exceeded ends the
//   connect (EHOSTUNREACH) and is queued on the socket's error queue with the router as the
//   offender (Linux >= 5.8 queues ICMP errors for sockets in SYN_SENT); a SYN-ACK (connected),
//   a RST (ECONNREFUSED with nothing queued) or an ICMP error from the destination itself is the
//   destination answering. Connected probes are closed at once with SO_LINGER 0 (a RST: no
//   TIME_WAIT here, no connection left open there).
// - udp: tracepath style: one UDP socket per probe with TTL and IP_RECVERR; time-exceeded names
//   the hop, port-unreachable from the destination means it was reached. A UDP service that
//   listens on the port answers nothing: such a destination looks silent.
// - icmp: echo requests with TTL on one ICMP socket: a ping socket where
//   net.ipv4.ping_group_range allows (errors on its error queue), else a raw socket
//   (CAP_NET_RAW); neither: the trace cannot run (TraceVerdict::error with the reason).
//
// Pacing: a round sends one probe per TTL, `send_gap` apart (so the destination's answer to a
// low TTL usually arrives before higher TTLs are sent, and they are not); rounds start
// `interval` after the previous round's last probe. Linux routers rate-limit the ICMP errors
// they send to one host (net.ipv4.icmp_ratelimit: 1 per second after a burst of 6), so rounds
// much faster than one per second make distant routers look lossy; the CLI uses 1 s between
// rounds with --cycles. Once the destination has answered at hop D, later rounds stop at D.
// Every probe waits at most `probe_timeout`; the whole trace never runs past `deadline`.
//
// Path MTU (options.path_mtu): UDP probes with IP_MTU_DISCOVER = IP_PMTUDISC_PROBE (DF set, the
// cached path MTU ignored) to the UDP port `mtu_port`, starting at the route's MTU (IP_MTU of
// the connected socket); a frag-needed / packet-too-big carries the next-hop MTU (ee_info) and
// the reporting router (offender); the probe is resent at that size until the destination
// answers (ICMP port-unreachable: the size got through).

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "probe/trace_result.h"

namespace connscope::probe {

// ---- the tracer ----

// Runs the trace from the calling thread's network namespace (sockets are opened on `ex`'s
// thread as the coroutine runs). Never throws for network or system errors: the verdict is
// error with the reason. Options are validated (ranges above; a numeric destination; tcp needs
// a port); invalid ones are verdict error too.
boost::asio::awaitable<TraceResult> trace(boost::asio::any_io_executor ex, TraceOptions options);

}  // namespace connscope::probe
