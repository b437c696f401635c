#pragma once
// `connscope load`'s messages, part of the catalog in text.h (same rules: fmt templates, one
// X(id, English) per message).

// clang-format off
#define CONNSCOPE_LOAD_MESSAGES(X)                                                                 \
  X(help_load, "Open many connections to one server and say what became of each: refused, reset, timed out, SYN retransmissions, this host out of ports") \
  X(help_load_target, "HOST:PORT, [IPV6]:PORT or a URL with a port: only a server you run")      \
  X(help_load_rate, "Open loop: connections started per second; each one's latency counts from when it was due") \
  X(help_load_connections, "Closed loop: keep N connections in flight, each replaced as soon as it ends") \
  X(help_load_duration, "How long to start connections; default 10s")                            \
  X(help_load_close, "How each connection ends: fin (default: TIME_WAIT stays on this host) or rst (no TIME_WAIT)") \
  X(help_load_footer,                                                                              \
    "Mode connect: the three-way handshake, then close. --timeout is each connection's deadline\n"  \
    "(default 5s: long enough for a lost SYN's resends, the first after 1s). Point it only at\n"    \
    "servers you run.\n"                                                                           \
    "Exit status: 0 every connection connected at its first SYN, 1 some failed or needed\n"        \
    "retransmitted SYNs, 2 usage error, 3 could not run.")                                         \
  X(load_model_missing, "give --rate N (open loop) or --connections N (closed loop)")            \
  X(load_model_both, "give --rate or --connections, not both")                                     \
  X(load_bad_rate, "not a positive number of connections per second")                             \
  X(load_bad_options, "the duration, the timeout and the connections in flight must be positive") \
  X(load_resolve_failed, "cannot resolve: {error}")                                                \
  X(load_fd_limit_too_low, "no descriptor left for connections: the limit is {limit} and {open} are open") \
  X(load_in_flight_limited,                                                                        \
    "at most {used} connections in flight (the descriptor limit is {limit}, {open} open): a due "  \
    "connection waits for a free one, and the wait counts in its latency")                        \
  X(load_header_open, "load {target}: connect, open loop at {rate}/s for {duration}, timeout {timeout}, close with {close}") \
  X(load_header_closed, "load {target}: connect, closed loop with {connections} in flight for {duration}, timeout {timeout}, close with {close}") \
  X(load_started, "{started} connections started over {span} ({rate}/s); the run ended after {elapsed}, with at most {in_flight} in flight") \
  X(load_interrupted, "interrupted after {elapsed}: {unfinished} connections still in flight are not counted") \
  X(load_late,                                                                                     \
    "the generator fell behind: {late} connections started more than 10 ms after they were due "   \
    "(the latest {lag} late); their wait counts in their latency")                                \
  X(load_col_fate, "fate")                                                                          \
  X(load_col_count, "count")                                                                        \
  X(load_col_share, "share")                                                                        \
  X(load_col_reason, "reason")                                                                      \
  X(load_col_finding, "finding")                                                                    \
  X(load_fate_connected, "connected")                                                               \
  X(load_fate_connected_after_retransmits, "connected after SYN retransmissions")                  \
  X(load_fate_reset, "reset during the handshake")                                                  \
  X(load_fate_refused, "refused (RST)")                                                             \
  X(load_fate_icmp, "ICMP error")                                                                   \
  X(load_fate_timed_out, "timed out (no answer)")                                                   \
  X(load_fate_local_ports, "this host out of local ports")                                          \
  X(load_fate_local_nofile, "out of descriptors")                                                   \
  X(load_fate_local_error, "local error")                                                           \
  X(load_why_connected_after_retransmits,                                                          \
    "SYNs or SYN-ACKs were lost and resent: the server's SYN queue or accept queue was full "      \
    "(its ListenOverflows/ListenDrops count them), or the path drops packets. Each resend costs "  \
    "the client a retransmission timeout: 1 s for the first; Linux 6.x waits 1 s again for the "   \
    "next ones (net.ipv4.tcp_syn_linear_timeouts), older kernels double it each time.")            \
  X(load_why_reset,                                                                                 \
    "the server reset connections it had just completed: tcp_abort_on_overflow with a full accept " \
    "queue, or the application resets on accept.")                                                 \
  X(load_why_refused,                                                                               \
    "a RST answered the SYN: nothing listens on the port (any more), or a firewall rejects with "  \
    "tcp-reset.")                                                                                  \
  X(load_why_icmp, "an ICMP error answered the SYN: a firewall rejects, or the host or network is unreachable.") \
  X(load_why_timed_out,                                                                             \
    "no answer within the timeout: a firewall drops the SYNs, or the server's queues stayed full " \
    "and it dropped every resent SYN.")                                                            \
  X(load_why_local_ports,                                                                           \
    "connect() found no free local port for this destination (EADDRNOTAVAIL): this host's "        \
    "ephemeral ports are in TIME_WAIT or in use. Widen net.ipv4.ip_local_port_range, reuse "       \
    "connections, or let the server close first (TIME_WAIT stays on the side that closes first).") \
  X(load_why_local_nofile, "socket() failed with EMFILE/ENFILE: raise the descriptor limit (ulimit -n) or lower the rate.") \
  X(load_why_local_error, "the connect failed on this host before a SYN left: see the reason (no route, a local firewall).") \
  X(load_why_line, "{fate}: {why}")                                                                 \
  X(load_retransmits_title, "connected after retransmitted SYNs, by how many")                    \
  X(load_retransmits_item, "{n} resent: {count}")                                                   \
  X(load_latency_title, "latency")                                                                  \
  X(load_latency_connect, "connect, from when due")                                                 \
  X(load_latency_handshake, "handshake, from connect()")                                            \
  X(load_timeline_title, "per second")                                                              \
  X(load_col_second, "second")                                                                      \
  X(load_col_started, "started")                                                                    \
  X(load_col_connected, "connected")                                                                \
  X(load_col_retransmitted, "after resends")                                                        \
  X(load_col_failed, "failed")                                                                      \
  X(load_col_in_flight, "in flight")                                                                \
  X(load_none_connected, "no connection connected: no latency to show")                            \
  X(load_progress, "{elapsed}: {rate}/s, {in_flight} in flight, {connected} connected, {failed} failed")
// clang-format on
