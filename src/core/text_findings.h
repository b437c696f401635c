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
    "{pid}) listens; top sources: {peers}")
// clang-format on
