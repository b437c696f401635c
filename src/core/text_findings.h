#pragma once
// The server-side findings' texts (inspect, audit, watch and the agent), part of the catalog in
// text.h (same rules: fmt templates, one X(id, English) per message). Every placeholder is an
// evidence key of the finding (docs/json.md): rules::render_finding fills them in from the
// evidence alone, so a finding can be stored as id + evidence and rendered when it is read, in the
// reader's language. Where a finding's wording depends on what is known (an owner, a port), each
// case is a whole sentence of its own: no fragment is glued into another sentence.

// clang-format off
#define CONNSCOPE_FINDING_MESSAGES(X)                                                                           \
  X(sf_accept_queue_full_summary,                                                                               \
    "{address}: accept queue {accept_queue}/{accept_queue_limit}; {listen_overflows_per_s} connections/s dropped") \
  X(sf_accept_queue_full_owner_summary,                                                                         \
    "{address}: accept queue {accept_queue}/{accept_queue_limit} ({command}, pid {pid}); {listen_overflows_per_s} connections/s dropped") \
  X(sf_accept_queue_high_summary, "{address}: accept queue {accept_queue}/{accept_queue_limit}, near its limit")  \
  X(sf_accept_queue_high_owner_summary,                                                                         \
    "{address}: accept queue {accept_queue}/{accept_queue_limit} ({command}, pid {pid}), near its limit")        \
  X(sf_accept_queue_drops_summary,                                                                              \
    "{address}: accept queue {accept_queue}/{accept_queue_limit}; {drops_per_second} connections/s dropped")    \
  X(sf_accept_queue_drops_owner_summary,                                                                        \
    "{address}: accept queue {accept_queue}/{accept_queue_limit} ({command}, pid {pid}); {drops_per_second} connections/s dropped") \
  X(sf_accept_queue_full_fix,                                                                                   \
    "Find what keeps the owning process from accepting (CPU, locks, a blocking call in the accept loop). Raise " \
    "the listen backlog in the application (nginx: listen ... backlog=4096) and the cap: sysctl -w "            \
    "net.core.somaxconn=4096 (and in /etc/sysctl.d/90-connscope.conf: net.core.somaxconn = 4096). "            \
    "Watch it: ss -ltn 'sport = :{port}' (Recv-Q is the queue, Send-Q the limit).")                            \
  X(sf_accept_queue_full_owner_fix,                                                                             \
    "Find what keeps {command} (pid {pid}) from accepting (CPU, locks, a blocking call in the accept loop). "   \
    "Raise the listen backlog in the application (nginx: listen ... backlog=4096) and the cap: sysctl -w "      \
    "net.core.somaxconn=4096 (and in /etc/sysctl.d/90-connscope.conf: net.core.somaxconn = 4096). "            \
    "Watch it: ss -ltn 'sport = :{port}' (Recv-Q is the queue, Send-Q the limit).")                            \
  X(sf_syn_queue_overflow_on_summary,                                                                           \
    "{syn_drops_per_s} SYNs/s dropped: the SYN queue is full, although syncookies are on")                     \
  X(sf_syn_queue_overflow_off_summary,                                                                          \
    "{syn_drops_per_s} SYNs/s dropped: the SYN queue is full and syncookies are off")                          \
  X(sf_syn_queue_overflow_unknown_summary,                                                                      \
    "{syn_drops_per_s} SYNs/s dropped: the SYN queue is full (net.ipv4.tcp_syncookies could not be read)")     \
  X(sf_syn_flood_summary,                                                                                       \
    "{syn_recv} half-open connections (SYN_RECV); {syncookies_sent_per_s} syncookies/s sent")                  \
  X(sf_syn_flood_source_summary,                                                                                \
    "{syn_recv} half-open connections (SYN_RECV), {top_source_syn_recv} of them from {top_source}; "            \
    "{syncookies_sent_per_s} syncookies/s sent")                                                                \
  X(sf_close_wait_summary, "{close_wait} sockets in CLOSE_WAIT; their owner is unknown")                       \
  X(sf_close_wait_port_summary, "{close_wait} sockets in CLOSE_WAIT on port {port}; their owner is unknown")   \
  X(sf_close_wait_owner_summary, "{close_wait} sockets in CLOSE_WAIT owned by {command} (pid {pid})")          \
  X(sf_close_wait_owner_port_summary,                                                                           \
    "{close_wait} sockets in CLOSE_WAIT owned by {command} (pid {pid}) on port {port}")                        \
  X(sf_close_wait_fix,                                                                                          \
    "Fix the code path that ignores EOF (read() returning 0) or errors without closing; restarting the "       \
    "owning process frees them for now. List them: ss -tnp state close-wait.")                                 \
  X(sf_close_wait_owner_fix,                                                                                    \
    "Fix the code path that ignores EOF (read() returning 0) or errors without closing; restarting "           \
    "{command} (pid {pid}) frees them for now. List them: ss -tnp state close-wait.")                          \
  X(sf_time_wait_summary,                                                                                       \
    "{time_wait} sockets in TIME_WAIT toward {destination}: {percent}% of the {local_ports} local ports")      \
  X(sf_orphans_summary,                                                                                         \
    "{orphans} orphaned sockets, {percent}% of net.ipv4.tcp_max_orphans ({tcp_max_orphans})")                  \
  X(sf_retransmits_summary,                                                                                     \
    "{retrans_segs_per_s} segments/s retransmitted, {retrans_percent}% of segments sent")                      \
  X(sf_resets_summary, "{out_rsts_per_s} resets/s sent")                                                        \
  X(sf_nofile_summary,                                                                                          \
    "{command} (pid {pid}) has {open_fds} of {nofile_soft} file descriptors open ({percent}%)")                \
  X(sf_nofile_limit_summary,                                                                                    \
    "{command} (pid {pid}) listens with a nofile soft limit of {nofile_soft}, below {recommended} for a busy server") \
  X(sf_conntrack_summary,                                                                                       \
    "{nf_conntrack_count} of {nf_conntrack_max} conntrack entries in use ({percent}%)")                        \
  X(sf_conntrack_fix,                                                                                           \
    "sysctl -w net.netfilter.nf_conntrack_max={recommended}; to keep it: net.netfilter.nf_conntrack_max = "    \
    "{recommended} in /etc/sysctl.d/90-connscope.conf. Or exempt busy server ports from tracking (nft: a "     \
    "notrack rule in a raw prerouting chain).")                                                                 \
  X(sf_sysctl_fix,                                                                                              \
    "{fix_command}; to keep it: {sysctl_d} in /etc/sysctl.d/90-connscope.conf, then sysctl --system")          \
  X(sf_firewall_drop_summary,                                                                                   \
    "a firewall rule on this host dropped {drops_per_second} packets/s to port {port}, where a service "       \
    "listens; top sources: {peers}")                                                                            \
  X(sf_firewall_drop_owner_summary,                                                                             \
    "a firewall rule on this host dropped {drops_per_second} packets/s to port {port}, where {command} (pid "  \
    "{pid}) listens; top sources: {peers}")                                                                     \
  /* Evidence values that are words: the evidence keeps a token ("none", "any", "icmp:3:3"), the \
     renderer says it in the reader's language. */                                              \
  X(ev_family_any, "IPv4 or IPv6")                                                                       \
  X(ev_servers_none, "no server")                                                                        \
  X(ev_server_resolver, "the resolver")                                                                  \
  X(ev_from_routing_table, "this host's routing table")                                                  \
  X(ev_from_local, "this host")                                                                          \
  X(ev_none, "none")                                                                                     \
  X(ev_unknown, "unknown")                                                                               \
  X(ev_icmp_prohibit_route, "none (a prohibit route)")                                                   \
  X(ev_icmp_known, "{name} (type {type} code {code})")                                                   \
  X(ev_icmp6_known, "{name} (ICMPv6 type {type} code {code})")                                           \
  X(ev_icmp_unknown, "type {type} code {code}")                                                          \
  X(ev_icmp6_unknown, "ICMPv6 type {type} code {code}")                                                  \
  X(ev_icmp_from_trace, "{icmp}; it answered a probe of the trace, not our SYN: the sender rate-limits its ICMP errors") \
  X(ev_icmp_note_rate_limited, " Hop {rate_limited_hop} answered only some probes of the trace: ICMP errors on this path are rate-limited, and a reject whose ICMP error such a limit swallows looks exactly like a drop.") \
  X(ev_who_round_robin, "clients the round-robin of {record} records sends to {address}")                \
  X(ev_who_prefer_ipv6, "clients that prefer IPv6, as getaddrinfo does by default on a host with an IPv6 route") \
  X(ev_who_ipv4_only, "IPv4-only clients, and those configured to prefer IPv4 (gai.conf)")               \
  X(ev_stalled_tls_handshake, "TLS handshake")                                                           \
  X(ev_stalled_reply, "reply")                                                                           \
  X(ev_reply_nothing, "nothing")                                                                         \
  X(ev_first_byte_never, "never")                                                                        \
  X(ev_client_cert_none, "no client certificate")                                                        \
  X(ev_client_cert, "the client certificate {client_cert}")                                              \
  X(ev_tried_tls_http, "a TLS ClientHello or an HTTP request")                                           \
  X(ev_tried_tls, "a TLS ClientHello")                                                                   \
  X(ev_tried_http, "an HTTP request")                                                                    \
  X(ev_tried_none, "anything we sent")                                                                   \
  X(icmp_name_echo_reply, "echo reply")                                                                  \
  X(icmp_name_destination_unreachable, "destination unreachable")                                        \
  X(icmp_name_net_unreachable, "net unreachable")                                                        \
  X(icmp_name_host_unreachable, "host unreachable")                                                      \
  X(icmp_name_protocol_unreachable, "protocol unreachable")                                              \
  X(icmp_name_port_unreachable, "port unreachable")                                                      \
  X(icmp_name_fragmentation_needed, "fragmentation needed")                                              \
  X(icmp_name_source_route_failed, "source route failed")                                                \
  X(icmp_name_destination_network_unknown, "destination network unknown")                                \
  X(icmp_name_destination_host_unknown, "destination host unknown")                                      \
  X(icmp_name_source_host_isolated, "source host isolated")                                              \
  X(icmp_name_network_administratively_prohibited, "network administratively prohibited")                \
  X(icmp_name_host_administratively_prohibited, "host administratively prohibited")                      \
  X(icmp_name_network_unreachable_for, "network unreachable for TOS")                                    \
  X(icmp_name_host_unreachable_for, "host unreachable for TOS")                                          \
  X(icmp_name_administratively_prohibited, "administratively prohibited")                                \
  X(icmp_name_host_precedence_violation, "host precedence violation")                                    \
  X(icmp_name_precedence_cutoff_in_effect, "precedence cutoff in effect")                                \
  X(icmp_name_source_quench, "source quench")                                                            \
  X(icmp_name_redirect, "redirect")                                                                      \
  X(icmp_name_echo_request, "echo request")                                                              \
  X(icmp_name_time_exceeded, "time exceeded")                                                            \
  X(icmp_name_fragment_reassembly_time_exceeded, "fragment reassembly time exceeded")                    \
  X(icmp_name_parameter_problem, "parameter problem")                                                    \
  X(icmp_name_parameter_problem_missing_a_required_option, "parameter problem: missing a required option") \
  X(icmp_name_parameter_problem_bad_length, "parameter problem: bad length")                             \
  X(icmp_name_no_route, "no route")                                                                      \
  X(icmp_name_beyond_scope_of_source_address, "beyond scope of source address")                          \
  X(icmp_name_address_unreachable, "address unreachable")                                                \
  X(icmp_name_source_address_failed_ingress_egress_policy, "source address failed ingress/egress policy") \
  X(icmp_name_reject_route, "reject route")                                                              \
  X(icmp_name_error_in_source_routing_header, "error in source routing header")                          \
  X(icmp_name_packet_too_big, "packet too big")                                                          \
  X(icmp_name_unrecognized_next_header, "unrecognized next header")                                      \
  X(icmp_name_parameter_problem_unrecognized_option, "parameter problem: unrecognized option")
// clang-format on
