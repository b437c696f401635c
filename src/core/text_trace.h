#pragma once
// `connscope trace`'s messages, part of the catalog in text.h (same rules: fmt templates, one
// X(id, English) per message).

// clang-format off
#define CONNSCOPE_TRACE_MESSAGES(X)                                                               \
  X(help_trace, "Find where on the path packets stop: per-hop address, loss and round-trip times") \
  X(help_trace_target, "HOST, HOST:PORT, [IPV6]:PORT or a URL; TCP port 80 when none is given")  \
  X(help_trace_tcp, "TCP SYNs to the real port (default; no root needed)")                        \
  X(help_trace_udp, "UDP datagrams, tracepath style (no root needed; port 33434 by default)")     \
  X(help_trace_icmp, "ICMP echo requests (ping socket where ping_group_range allows, else raw: root)") \
  X(help_trace_port, "Destination port (TCP or UDP)")                                              \
  X(help_trace_v4, "Use IPv4 only")                                                                \
  X(help_trace_v6, "Use IPv6 only")                                                                \
  X(help_trace_max_hops, "Highest TTL / hop limit to probe (1-255); default 30")                   \
  X(help_trace_first_hop, "First TTL to probe; default 1")                                         \
  X(help_trace_probes, "Probes per hop in each cycle (1-10); default 3")                           \
  X(help_trace_cycles, "Repeat N cycles and print an mtr-style report (1-1000); rounds 1s apart")  \
  X(help_trace_interval, "Time between rounds; default 200ms, 1s with --cycles")                   \
  X(help_trace_mtu, "Also find the path MTU with DF probes and the hop where it drops")            \
  X(help_trace_resolve, "Show reverse names (PTR) of the hops")                                    \
  X(help_trace_source, "Send from this local address")                                             \
  X(help_trace_footer,                                                                             \
    "--timeout is how long each probe waits for its answer (default 3s). A round sends one probe\n" \
    "per hop, 10ms apart; routers rate-limit the ICMP errors they send, so use --cycles (1s\n"     \
    "between rounds) for loss figures. Exit status: 0 reached, 1 not reached, 2 usage error,\n"    \
    "3 could not run.")                                                                            \
  X(trace_header_cycles, ", {cycles} cycles")                                                      \
  X(trace_header_port, " port {port}")                                                              \
  X(trace_header_method, " (ICMP through a {method})")                                             \
  X(trace_col_hop, "hop")                                                                          \
  X(trace_col_address, "address")                                                                  \
  X(trace_col_loss, "loss")                                                                        \
  X(trace_col_rtt, "rtt min/avg/max")                                                              \
  X(trace_col_answered, "answered")                                                                \
  X(trace_col_sent, "sent")                                                                        \
  X(trace_col_last, "last")                                                                        \
  X(trace_col_avg, "avg")                                                                          \
  X(trace_col_best, "best")                                                                        \
  X(trace_col_worst, "worst")                                                                      \
  X(trace_col_stdev, "stdev")                                                                      \
  X(trace_col_note, "note")                                                                        \
  X(trace_no_answer_mark, "*")                                                                     \
  X(trace_reply_time_exceeded, "time exceeded")                                                    \
  X(trace_reply_unreachable, "unreachable ({icmp})")                                               \
  X(trace_reply_port_unreachable, "port unreachable")                                              \
  X(trace_reply_syn_ack, "SYN-ACK")                                                                \
  X(trace_reply_rst, "RST")                                                                        \
  X(trace_reply_echo_reply, "echo reply")                                                          \
  X(trace_reply_udp_reply, "UDP reply")                                                            \
  X(trace_reply_local_error, "not sent ({error})")                                                 \
  X(trace_reply_timeout, "no answer")                                                              \
  X(trace_icmp_code, "ICMP {type}/{code}")                                                         \
  X(trace_icmp_code_named, "ICMP {type}/{code} {name}")                                           \
  X(trace_loss_rate_limited, "ICMP rate-limited, not loss")                                        \
  X(trace_loss_path, "loss continues from here")                                                   \
  X(trace_loss_silent, "sends no ICMP errors")                                                     \
  X(trace_hops_silent_after, "  (hops {from}-{to}: no answer either)")                             \
  X(trace_reached_syn_ack, "reached {address} at hop {hop}: port {port} is open (SYN-ACK)")        \
  X(trace_reached_rst, "reached {address} at hop {hop}: port {port} is closed (RST)")              \
  X(trace_reached_port_unreachable_udp,                                                            \
    "reached {address} at hop {hop}: it answered ICMP port unreachable (UDP port {port} closed, as expected)") \
  X(trace_reached_port_unreachable_tcp,                                                            \
    "reached {address} at hop {hop}: port {port} is rejected with ICMP port unreachable (a firewall on the host)") \
  X(trace_reached_echo, "reached {address} at hop {hop}: echo reply")                              \
  X(trace_reached_udp_reply, "reached {address} at hop {hop}: a UDP reply (something listens on port {port})") \
  X(trace_reached_icmp, "reached {address} at hop {hop}: the host itself answered {icmp}")         \
  X(trace_stopped,                                                                                 \
    "not reached: stopped after hop {hop} ({address}); nothing answered from hop {next} on: look at hop {next}, "  \
    "the first silent one (a firewall there, or on hop {hop}'s way to it)")                        \
  X(trace_stopped_none,                                                                            \
    "not reached: no hop answered; the packets die before hop {first} answers (look at this host's firewall, " \
    "its route and its first router)")                                                             \
  X(trace_unreachable, "not reached: hop {hop} ({address}) reports the destination unreachable: {icmp}") \
  X(trace_unreachable_local, "not reached: this host could not send the probes: {error}")         \
  X(trace_note_rate_limited,                                                                       \
    "hop {hop} ({address}): {loss} of its answers missing, but later hops lose less ({later}): that router "  \
    "rate-limits the ICMP errors it sends; the packets went on. Not packet loss.")                 \
  X(trace_note_path_loss,                                                                          \
    "hop {hop} ({address}): {loss} lost, and no later hop loses less: packet loss on the path from here on") \
  X(trace_note_silent,                                                                             \
    "hop {hop}: no answer, but later hops answer: that router sends no ICMP errors (not a break in the path)") \
  X(trace_mtu_drop,                                                                                \
    "path MTU {mtu}: drops at hop {hop} ({address}), which reported next-hop MTU {mtu} (this host's "  \
    "interface: {local}){confirmed}")                                                              \
  X(trace_mtu_drop_unknown_hop,                                                                    \
    "path MTU {mtu}: {address} (not among the hops above) reported next-hop MTU {mtu} (this host's "   \
    "interface: {local}){confirmed}")                                                              \
  X(trace_mtu_whole_path, "path MTU {mtu}: the whole path carries this host's interface MTU{confirmed}") \
  X(trace_mtu_confirmed, "; a {mtu}-byte packet reached the destination")                          \
  X(trace_mtu_unconfirmed,                                                                         \
    "; not confirmed: the destination did not answer a {mtu}-byte UDP probe to port {port}, so this is an upper bound") \
  X(trace_mtu_error, "path MTU unknown: {error}")                                                  \
  X(trace_progress, "trace: round {round}/{rounds}")                                               \
  X(trace_choose_mode, "choose one")                                                               \
  X(trace_icmp_no_port, "ICMP echo has no port: drop the port or use --tcp / --udp")               \
  X(trace_resolve_failed, "cannot resolve: {}")                                                    \
  X(trace_err_ipv4_with_6, "an IPv4 address with -6")                                              \
  X(trace_err_ipv6_with_4, "an IPv6 address with -4")                                              \
  X(trace_err_range, "must be {min} to {max}")

// Plural messages: X(id, count, English singular, English plural); `count` names the placeholder
// whose number picks the form (trn() in text.h).
#define CONNSCOPE_TRACE_PLURALS(X)                                                                \
  X(trace_header, probes,                                                                          \
    "trace to {target}{address}{port}, {mode}, {max_hops} hops max, {probes} probe per hop{cycles}{method}", \
    "trace to {target}{address}{port}, {mode}, {max_hops} hops max, {probes} probes per hop{cycles}{method}")
// clang-format on
