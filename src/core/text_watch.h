#pragma once
// `connscope watch`'s messages, part of the catalog in text.h (same rules: fmt templates with
// named placeholders, one X(id, English) each): the kernel's drop and reset reasons in words
// (meaning, fix; from the comments in include/net/dropreason-core.h and include/net/rstreason.h),
// the words for the event kinds, the rate limiter's line, the --summary block and the findings
// that events make certain. Reason texts may quote {port} (the local port) and {peer} (the remote
// address); watch/reasons.cpp passes both.

// clang-format off
#define CONNSCOPE_WATCH_MESSAGES(X)                                                               \
  X(wd_no_socket_m, "no socket wanted it: nothing listens on port {port}, or the connection it belongs to is gone") \
  X(wd_no_socket_f, "Is the service up, and on which address? ss -ltnp 'sport = :{port}' (ss -lunp for UDP); a client still sending to a finished connection stops by itself, and scans cause these too.") \
  X(wd_socket_close_m, "the socket had already been closed (close()) when it arrived")            \
  X(wd_socket_close_f, "Harmless at the end of a connection; many of them mean the application closes while the peer ({peer}) is still sending.") \
  X(wd_socket_filter_m, "a filter attached to the socket (SO_ATTACH_FILTER / SO_ATTACH_BPF) refused it") \
  X(wd_socket_filter_f, "The application or a library in it filters its own socket on port {port}: check its settings; bpftool prog show lists the loaded eBPF programs.") \
  X(wd_socket_rcvbuff_m, "the socket's receive buffer was full: the application does not read fast enough") \
  X(wd_socket_rcvbuff_f, "Make the application on port {port} read faster, or give it a larger buffer (SO_RCVBUF; sysctl net.core.rmem_max for UDP, net.ipv4.tcp_rmem for TCP); Recv-Q in ss -tunm 'sport = :{port}' shows it.") \
  X(wd_socket_backlog_m, "the socket's backlog was full: packets that wait while the application holds the socket overflowed") \
  X(wd_socket_backlog_f, "The application holds the socket on port {port} for long stretches, or the receive buffer is small: raise net.ipv4.tcp_rmem; nstat -az TcpExtTCPBacklogDrop counts these.") \
  X(wd_pkt_too_small_m, "the packet is shorter than its headers say (truncated or malformed)")    \
  X(wd_pkt_too_small_f, "Mostly crafted or broken traffic from {peer}; many of them point to a faulty NIC, driver or middlebox: ip -s link, ethtool -S IFACE.") \
  X(wd_csum_m, "its checksum was wrong: the packet was corrupted on the way")                    \
  X(wd_csum_f, "Look for a bad link, cable or NIC: ip -s link and ethtool -S IFACE (CRC errors); ethtool -K IFACE rx off tx off rules out checksum offload.") \
  X(wd_netfilter_drop_m, "a firewall rule on this host (netfilter: nftables or iptables) dropped it") \
  X(wd_netfilter_drop_f, "List the rules that match the port: nft list ruleset | grep -n {port}; iptables -S | grep {port}; a rule with meta nftrace set 1 and nft monitor trace show which rule drops.") \
  X(wd_otherhost_m, "it was not addressed to this host (seen only because the interface is in promiscuous mode)") \
  X(wd_otherhost_f, "Harmless: a capture (tcpdump) or a bridge put the interface in promiscuous mode (ip link shows PROMISC).") \
  X(wd_ip_rpfilter_m, "reverse-path filtering dropped it: a reply to {peer} would not leave by the interface it came in on") \
  X(wd_ip_rpfilter_f, "With asymmetric routing, use loose mode: sysctl -w net.ipv4.conf.all.rp_filter=2 (and net.ipv4.conf.IFACE.rp_filter); ip route get {peer} shows the way back.") \
  X(wd_xfrm_policy_m, "an IPsec (xfrm) policy check failed: it should have been protected by IPsec, or is not allowed") \
  X(wd_xfrm_policy_f, "ip xfrm policy and ip xfrm state show the policies and tunnels; is the IPsec tunnel to {peer} up?") \
  X(wd_ip_noproto_m, "nothing on this host handles its IP protocol")                                \
  X(wd_ip_noproto_f, "Usually stray traffic (SCTP, GRE to a host without the module); load the protocol's module if {peer} is expected to use it.") \
  X(wd_proto_mem_m, "the protocol's memory limit was reached (tcp_mem, udp_mem): the kernel refused to buffer more") \
  X(wd_proto_mem_f, "Compare the mem figures in /proc/net/sockstat with sysctl net.ipv4.tcp_mem and net.ipv4.udp_mem; find the sockets holding memory: ss -tumn (large Recv-Q/Send-Q).") \
  X(wd_tcp_auth_hdr_m, "TCP-MD5 or TCP-AO options were present twice or set wrongly")               \
  X(wd_tcp_md5_m, "the TCP-MD5 signature (RFC 2385, used by BGP) was missing, unexpected or wrong") \
  X(wd_tcp_ao_m, "the TCP-AO authentication (RFC 5925) was missing, unexpected, used an unknown key or was wrong") \
  X(wd_tcp_auth_f, "This host and {peer} disagree on the key or on whether to sign: compare both sides' configuration (a BGP neighbour's password).") \
  X(wd_tcp_flags_m, "its TCP flags do not fit the connection's state")                               \
  X(wd_tcp_flags_f, "A few are scans or stray packets; many from {peer} point to a middlebox that mangles TCP.") \
  X(wd_tcp_abort_on_data_m, "data arrived for a connection the application had already closed, so the kernel reset it") \
  X(wd_tcp_abort_on_data_f, "The application on port {port} closes while the peer still sends: read until EOF before close(), or shutdown(SHUT_WR) first and drain.") \
  X(wd_tcp_zerowindow_m, "zero receive window: the application does not read and its buffer is full") \
  X(wd_tcp_zerowindow_f, "The application on port {port} reads too slowly or is stuck; Recv-Q in ss -tnm 'sport = :{port}' shows it; raise net.ipv4.tcp_rmem if it reads in bursts.") \
  X(wd_tcp_old_data_m, "data that had already arrived came again (a spurious retransmission: an ACK was late or lost)") \
  X(wd_dup_f, "Harmless in small numbers; many point to loss, delay or reordering on the path to {peer}.") \
  X(wd_tcp_overwindow_m, "its data lies beyond the receive window this host advertised")            \
  X(wd_tcp_overwindow_f, "{peer} ignores the window, or a middlebox rewrites window scaling: compare net.ipv4.tcp_window_scaling on both ends and look at the SYNs with tcpdump -v host {peer}.") \
  X(wd_tcp_ofomerge_m, "out-of-order data that was already queued came again")                       \
  X(wd_tcp_paws_m, "the timestamp check (PAWS) failed: it carries an older TCP timestamp than the connection has seen, so it is taken for an old duplicate") \
  X(wd_tcp_paws_ack_m, "the timestamp check (PAWS) failed on an old ACK")                            \
  X(wd_tcp_tw_paws_m, "the timestamp check (PAWS) failed against a connection in TIME_WAIT: {peer} reused the ports with an older timestamp") \
  X(wd_tcp_tsecr_m, "the timestamp it echoes (TSecr) is not one this host sent")                      \
  X(wd_tcp_paws_f, "Typical of many clients behind one NAT address with different clocks, or of a peer that rebooted; the client retries. Keep net.ipv4.tcp_timestamps the same on both ends; make clients reuse connections.") \
  X(wd_tcp_tsecr_f, "A middlebox rewriting TCP timestamps, or a broken stack at {peer}: tcpdump -v host {peer} shows the TS val/ecr.") \
  X(wd_tcp_listen_overflow_m, "the listener's accept queue was full: the handshake could not complete") \
  X(wd_accept_f, "The application on port {port} does not call accept() fast enough: find what blocks it (CPU, locks, a slow dependency); raise its listen backlog and net.core.somaxconn; ss -ltn 'sport = :{port}' shows the queue (Recv-Q) and its limit (Send-Q).") \
  X(wd_tcp_old_sequence_m, "its sequence number is old: a duplicate of data already received")     \
  X(wd_tcp_invalid_sequence_m, "its sequence number lies outside the receive window")               \
  X(wd_tcp_invalid_ack_m, "it acknowledges data outside what this host has sent and not yet had acknowledged") \
  X(wd_desync_f, "A few are stray segments of an earlier connection; many from {peer} mean the two ends lost sync (a restart, a middlebox rewriting sequence numbers) or someone injects packets.") \
  X(wd_tcp_reset_m, "a reset (RST) that did not fit the connection (wrong sequence) was ignored")    \
  X(wd_tcp_reset_f, "The kernel ignores blind resets (RFC 5961); many of them mean someone injects resets, or a middlebox sends stale ones.") \
  X(wd_tcp_invalid_syn_m, "a SYN arrived on a connection that is already open")                      \
  X(wd_tcp_invalid_syn_f, "Usually {peer} restarted and reconnects from the same port; the kernel answers with a challenge ACK and the peer resets its stale side.") \
  X(wd_queue_purge_m, "it was still queued on a socket when the socket was torn down (closed or reset) and its queues were emptied") \
  X(wd_tcp_close_m, "the socket was already in CLOSE state")                                           \
  X(wd_tcp_close_f, "Packets of a connection that just ended; harmless in small numbers.")            \
  X(wd_tcp_fastopen_m, "a TCP Fast Open request socket dropped it")                                   \
  X(wd_tcp_fastopen_f, "Fast Open data the listener did not take; check net.ipv4.tcp_fastopen and the listener's TCP_FASTOPEN queue length.") \
  X(wd_tcp_old_ack_m, "an old ACK (for data already acknowledged) was ignored")                      \
  X(wd_tcp_too_old_ack_m, "an ACK older than the window was ignored")                                 \
  X(wd_tcp_ack_unsent_m, "it acknowledges data this host never sent")                                 \
  X(wd_tcp_ack_unsent_f, "A confused or malicious peer, or a middlebox that rewrites sequence numbers (some firewalls randomise them) between here and {peer}.") \
  X(wd_tcp_ofo_prune_m, "out-of-order data was thrown away to free memory: the receive buffer was full") \
  X(wd_tcp_ofo_drop_m, "out-of-order data could not be queued: the receive buffer was full or the data had already arrived") \
  X(wd_tcp_ofo_f, "Loss on the path to {peer} fills the out-of-order queue; raise net.ipv4.tcp_rmem; nstat -az TcpExtOfoPruned TcpExtTCPOFODrop counts these.") \
  X(wd_ip_outnoroutes_m, "there is no route for it: the route lookup for its destination failed")                      \
  X(wd_ip_outnoroutes_f, "ip route get DESTINATION shows the missing route; add it, or a default route.")   \
  X(wd_bpf_cgroup_egress_m, "a cgroup eBPF program blocked it on the way out (systemd IPAddressDeny=, a container network policy)") \
  X(wd_bpf_cgroup_egress_f, "bpftool cgroup tree lists the programs; check the unit's IPAddressAllow=/IPAddressDeny= (systemctl show UNIT) or the container's network policy.") \
  X(wd_ipv6disabled_m, "IPv6 is disabled on the interface")                                            \
  X(wd_ipv6disabled_f, "sysctl net.ipv6.conf.all.disable_ipv6 and net.ipv6.conf.IFACE.disable_ipv6; enable it or use IPv4.") \
  X(wd_neigh_m, "the next hop's link-layer address could not be resolved (ARP / neighbour discovery failed)") \
  X(wd_neigh_queuefull_m, "too many packets were waiting for the next hop's ARP / neighbour discovery answer") \
  X(wd_neigh_f, "ip neigh show lists FAILED and INCOMPLETE entries: is the gateway (or the destination, on the local network) up, the cable and VLAN right? Under bursts, raise net.ipv4.neigh.default.unres_qlen_bytes.") \
  X(wd_qdisc_m, "the interface's queue (qdisc) was full when sending")                                 \
  X(wd_qdisc_f, "The link is saturated or the queue is short: tc -s qdisc show dev IFACE; raise the queue (ip link set IFACE txqueuelen N) or use fq_codel.") \
  X(wd_cpu_backlog_m, "the per-CPU receive backlog was full: packets arrive faster than a CPU handles them") \
  X(wd_cpu_backlog_f, "Raise net.core.netdev_max_backlog (e.g. 16384) and spread the load (RSS, RPS); the second column of /proc/net/softnet_stat counts these.") \
  X(wd_xdp_m, "an XDP program on the interface dropped it")                                             \
  X(wd_xdp_f, "ip link show and bpftool net show list the XDP programs; check its rules for port {port} and {peer}.") \
  X(wd_tc_ingress_m, "a tc filter on the way in (ingress) dropped it")                                  \
  X(wd_tc_egress_m, "a tc filter on the way out (egress) dropped it")                                  \
  X(wd_tc_f, "tc filter show dev IFACE ingress (or egress) and bpftool net show list the filters; check the ones that match port {port}.") \
  X(wd_nomem_m, "the kernel could not allocate memory for it")                                          \
  X(wd_nomem_f, "The host is short of memory: free -m, /proc/buddyinfo; sysctl vm.min_free_kbytes.")   \
  X(wd_full_ring_m, "a ring buffer (a packet socket's, a tun device's) was full")                      \
  X(wd_full_ring_f, "The reader of that ring (a capture tool, a VPN daemon) is too slow; find which process owns the device or socket.") \
  X(wd_ip_inaddrerrors_m, "its destination is not a valid address for this host (host unreachable)")   \
  X(wd_ip_inaddrerrors_f, "The sender routes to an address this host does not have: ip addr; check the sender's routes and ARP.") \
  X(wd_ip_innoroutes_m, "there is no route to forward it (network unreachable)")                        \
  X(wd_ip_innoroutes_f, "ip route show; check net.ipv4.ip_forward and the routes to its destination.")  \
  X(wd_ip_local_source_m, "it came from outside with one of this host's own addresses as its source")   \
  X(wd_ip_invalid_source_m, "its source address is invalid (multicast, broadcast or zero)")            \
  X(wd_ip_source_f, "A loop in the network or spoofing: tcpdump -eni any src {peer} shows which interface and MAC address it comes from.") \
  X(wd_pkt_too_big_m, "it was larger than the MTU and could not be sent or fragmented")                \
  X(wd_pkt_too_big_f, "Compare the MTUs on the path (ip link; connscope trace --mtu DESTINATION); let ICMP 'fragmentation needed' (ICMPv6 'packet too big') through the firewalls.") \
  X(wd_tcp_minttl_m, "its TTL (hop limit) was below the minimum the socket requires (IP_MINTTL, GTSM)") \
  X(wd_tcp_minttl_f, "{peer} is more hops away than the socket allows; check the application's minimum-TTL setting (BGP ttl-security).") \
  X(wd_security_hook_m, "a security module (SELinux, AppArmor, Smack) refused it")                      \
  X(wd_security_hook_f, "Read the denials: ausearch -m avc -ts recent, or journalctl -k | grep -i denied.") \
  X(wr_no_socket_m, "nothing listens on port {port}, or the connection is gone") \
  X(wr_no_socket_f, "ss -ltnp 'sport = :{port}' shows whether and where it listens; start the service or point clients elsewhere. Scans cause these too.") \
  X(wr_invalid_ack_m, "{peer} acknowledged data outside what this host sent: the two ends disagree about the connection") \
  X(wr_desync_f, "A stale connection after a restart, or a middlebox that rewrites sequence numbers; if it repeats, tcpdump -ni any host {peer} shows both sides.") \
  X(wr_paws_m, "a segment with an old TCP timestamp (PAWS) arrived during the handshake, so it was reset") \
  X(wr_too_old_ack_m, "an ACK far older than the window arrived")                                       \
  X(wr_ack_unsent_m, "{peer} acknowledged data this host never sent")                                   \
  X(wr_flags_m, "a segment whose flags do not fit the connection's state arrived")                       \
  X(wr_old_ack_m, "an old ACK arrived where the kernel must answer with a reset")                        \
  X(wr_abort_on_data_m, "data arrived after the application closed the socket, so the kernel reset the connection") \
  X(wr_abort_data_f, "The application on port {port} closes with data in flight: read until EOF before close(), or shutdown(SHUT_WR) and drain; nstat -az TcpExtTCPAbortOnData TcpExtTCPAbortOnClose counts these.") \
  X(wr_timewait_m, "a segment arrived for a connection in TIME_WAIT that it does not fit")                \
  X(wr_timewait_f, "{peer} reuses its port before TIME_WAIT ended, or sends late segments; usually harmless.") \
  X(wr_invalid_syn_m, "a SYN arrived inside an open connection's window (RFC 9293: answer with a reset)") \
  X(wr_invalid_syn_f, "Usually {peer} restarted and reconnects from the same port; it connects again after the reset.") \
  X(wr_abort_on_close_m, "the application closed the socket with received data still unread, so the kernel reset the connection instead of closing it") \
  X(wr_abort_on_linger_m, "an abortive close: the application closed with SO_LINGER 0, or FIN_WAIT2 timed out") \
  X(wr_abort_on_linger_f, "If it is not meant, remove SO_LINGER 0 from the application; FIN_WAIT2's wait is net.ipv4.tcp_fin_timeout.") \
  X(wr_abort_on_memory_m, "TCP memory or orphaned sockets ran out (tcp_mem, tcp_max_orphans), so the kernel reset the connection") \
  X(wr_abort_on_memory_f, "cat /proc/net/sockstat (orphan, mem); raise net.ipv4.tcp_max_orphans or net.ipv4.tcp_mem if memory allows, and look for peers that do not acknowledge.") \
  X(wr_tcp_state_m, "the connection was aborted in a state where TCP must reset (RFC 9293), e.g. a close before the handshake or the data were done") \
  X(wr_tcp_state_f, "Check how the application on port {port} ends its connections (close() with data pending, connect(AF_UNSPEC)).") \
  X(wr_keepalive_m, "{peer} answered none of the keepalive probes: the connection was declared dead") \
  X(wr_keepalive_f, "{peer} vanished (crashed, unplugged) or a NAT/firewall forgot the idle connection: keep net.ipv4.tcp_keepalive_time below the middlebox's idle timeout; tcp_keepalive_intvl and tcp_keepalive_probes set the rest.") \
  X(wr_disconnect_data_m, "the application disconnected the socket while data was still unread or unsent") \
  X(wr_error_m, "an unexpected error inside the kernel's TCP")                                             \
  X(wr_error_f, "Rare; look in dmesg for TCP warnings around this time.")                                  \
  X(wr_none_m, "no reason given (Linux 6.10 and later name one)") \
  X(wr_none_f, "The resets this host starts itself are named from Linux 6.12. Common causes: nothing listens on port {port}, the application closed with unread data or SO_LINGER 0, or the accept queue overflowed with net.ipv4.tcp_abort_on_overflow=1.") \
  X(we_reset_received_m, "{peer} aborted the connection (RST)")                                            \
  X(we_reset_received_f, "The peer's application or a firewall between ended it; its logs say why. A reset right after connecting means nothing listens there.") \
  X(we_retransmit_m, "a segment was sent again: {peer} did not acknowledge it in time (loss or delay on the path)") \
  X(we_retransmit_f, "A few are normal; many to one peer point to loss on its path: connscope trace {peer}; ss -ti dst {peer} shows retrans per connection.") \
  X(we_synack_retransmit_m, "the SYN-ACK was sent again: the client's final ACK did not arrive")           \
  X(we_synack_retransmit_f, "Loss toward {peer}, or a SYN flood of spoofed sources (many SYN-ACK retransmits to many peers): see net.ipv4.tcp_synack_retries.") \
  X(we_accept_overflow_m, "accept queue full ({backlog}/{max_backlog}): the application does not call accept() fast enough; {count} SYNs or handshake ACKs dropped") \
  X(we_syn_queue_drop_m, "SYN queue full and syncookies off: {count} SYNs dropped")            \
  X(we_syn_queue_drop_f, "sysctl -w net.ipv4.tcp_syncookies=1; raise net.ipv4.tcp_max_syn_backlog and the listen backlog of port {port}; many sources at once are a SYN flood.") \
  X(watch_line_fix, "    fix: {fix}")                                                                       \
  X(watch_line_meaning, "    why: {meaning}")                                                               \
  X(watch_rate_limited, "… {count} more events in the last second ({groups})")                             \
  X(watch_summary_title, "connscope watch — last {window}: {events} events, {missed} missed; since start ({total_time}): {total_events} events, {total_missed} missed") \
  X(watch_summary_transitions, "State transitions")                                                      \
  X(watch_summary_drops, "Drops by reason and local port")                                                \
  X(watch_summary_resets_sent, "Resets sent, by local port")                                              \
  X(watch_summary_resets_received, "Resets received, by local port")                                      \
  X(watch_summary_retransmits, "Retransmits, by local port")                                              \
  X(watch_summary_peers, "Top peers, by events")                                                          \
  X(watch_summary_overflows, "Listener queue overflows")                                                  \
  X(watch_summary_col_window, "last {window}")                                                            \
  X(watch_summary_col_total, "total")                                                                     \
  X(watch_summary_overflow_row, "{listener} (queue {backlog}/{max_backlog})")                              \
  X(watch_summary_more, "(+{count} more)")                                                                 \
  X(watch_summary_empty, "no events yet")                                                                 \
  X(f_firewall_drop_cause,                                                                                 \
    "The kernel freed these packets with the drop reason NETFILTER_DROP: an nftables or iptables rule (a "  \
    "drop policy, a rate limit, a blocklist, a container's or firewalld's rules) drops traffic to a port "  \
    "a service listens on, so its clients see timeouts, not refusals.")                                    \
  X(f_firewall_drop_fix,                                                                                   \
    "Find the rule: nft list ruleset | grep -n {port}; iptables -S | grep {port} (and ip6tables -S); "      \
    "nft monitor trace with a rule that sets meta nftrace for tcp dport {port} names the rule that drops. " \
    "If the drop is intended, nothing is wrong; else allow the port (nft add rule inet filter input tcp "   \
    "dport {port} accept).")                                                                               \
  X(f_event_no_peers, "none recorded")                                                         \
  X(help_watch, "Stream the kernel's own events on connections: state changes, resets, retransmissions, drops with their reason, queue overflows (eBPF; root or CAP_BPF+CAP_PERFMON)") \
  X(help_watch_port, "Only events whose local or remote port is PORT")                           \
  X(help_watch_pid, "Only events of this process's sockets")                                     \
  X(help_watch_peer, "Only events with this address at either end")                             \
  X(help_watch_events, "The kinds to show, comma-separated: state, reset, retransmit, drop, overflow (default: all)") \
  X(help_watch_summary, "A table refreshed every second instead of one line per event")         \
  X(help_watch_duration, "Stop after this long (default: until Ctrl-C)")                       \
  X(help_watch_rate, "At most N lines a second on a terminal; the rest are counted (default 50; 0: no limit)") \
  X(watch_kind_off, "{kinds} off: {why}")                                                       \
  X(watch_lost, "{count} events lost: the ring buffer was full")                                \
  X(watch_missed, "the kernel skipped {count} calls of the programs (an interrupt came inside one): up to {count} events are missing") \
  X(watch_started, "watching {what} events in this network namespace; Ctrl-C to stop")         \
  X(watch_not_address, "not an IP address")
// clang-format on
