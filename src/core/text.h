#pragma once
// The text catalog: every sentence a person reads goes through here, so that another language
// (Simplified Chinese is next) is a new column, not a change at every call site.
// Templates use fmt syntax; every language must use the same placeholders.

#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace connscope {

enum class Lang { en };

// X(id, English template)
#define CONNSCOPE_MESSAGES(X)                                                                    \
  X(usage_error, "connscope: {}")                                                                \
  X(run_error, "connscope: {}")                                                                  \
  X(hint_help, "Run 'connscope {} --help' for usage.")                                           \
  X(unknown_lang, "not a supported language (supported: en)")                                    \
  X(serve_listening, "serving {mode} on {addr} (backlog {backlog}{extra})")                       \
  X(serve_stop_hint, "press Ctrl-C to stop (or send SIGTERM); -v prints one line per connection") \
  X(serve_demo_intro,                                                                            \
    "connscope serve demo: one endpoint per behaviour, on loopback only. Try them with\n"        \
    "  nc 127.0.0.1 PORT, curl http://127.0.0.1:PORT/, and watch with ss -tn.")                  \
  X(serve_demo_line, "  {addr:<22} {mode:<20} {what}")                                           \
  X(serve_conn_open, "{time} {listener} accept {peer} #{id}")                                    \
  X(serve_conn_close,                                                                            \
    "{time} {listener} close  {peer} #{id} after {duration}: in {rx} B, out {tx} B, {how}")      \
  X(serve_accept_backoff,                                                                        \
    "{time} {listener} cannot accept: {reason}; open fds {open} of limit {limit}; "              \
    "retrying in {backoff}")                                                                     \
  X(serve_summary,                                                                               \
    "connscope serve: {accepted} connections accepted, {active} open at exit, in {rx} B, "       \
    "out {tx} B, {resets} reset by peer, {backoffs} accept back-offs (fd limit), ran {uptime}")  \
  X(serve_port_in_use_owner, "{} is already in use by pid {} ({})")                              \
  X(serve_port_in_use, "{} is already in use")                                                   \
  X(serve_need_root_port, "{}: ports below 1024 need root or CAP_NET_BIND_SERVICE")              \
  X(serve_fd_limit, "file descriptor limit raised from {} to {}")                              \
  X(serve_tls_self_signed, ", TLS with a self-signed certificate")                               \
  X(serve_tls_files, ", TLS with {}")                                                            \
  X(close_peer_closed, "closed by the peer (FIN)")                                               \
  X(close_peer_reset, "reset by the peer (RST)")                                                 \
  X(close_server_closed, "closed by this server (FIN)")                                          \
  X(close_server_reset, "reset by this server (RST)")                                            \
  X(close_server_stop, "closed because the server stopped")                                      \
  X(close_tls_failed, "TLS handshake failed")                                                    \
  X(close_error, "socket error")                                                                 \
  X(mode_echo, "echoes every byte back")                                                         \
  X(mode_discard, "reads and drops everything")                                                  \
  X(mode_http, "HTTP/1.1: every request gets {} and a short body")                               \
  X(mode_banner, "sends the greeting \"{}\", then echoes")                                       \
  X(mode_never_accept, "never calls accept(): the accept queue fills, clients hang")             \
  X(mode_reset_after_accept, "accepts, then resets (RST): reads fail with ECONNRESET")           \
  X(mode_close_after_accept, "accepts, then closes (FIN) at once")                               \
  X(mode_slow_first_byte, "HTTP, but every response starts after {}")                            \
  X(mode_drip, "sends one byte every {}, forever")                                               \
  X(mode_garbage, "sends random bytes on connect and after every read")                          \
  X(mode_no_close, "never closes after the client's FIN: CLOSE_WAIT piles up here")             \
  X(help_app, "connscope: explains server connections, from the client and the server side")    \
  X(help_json, "Machine-readable JSON output (see docs/json.md)")                                \
  X(help_no_color, "No colour (also when NO_COLOR is set or stdout is not a terminal)")          \
  X(help_timeout, "Deadline per operation, e.g. 500ms, 3s, 1m; default 3s")                     \
  X(help_lang, "Language of messages (en); default from LANG")                                   \
  X(help_verbose, "More detail; repeat for more")                                                \
  X(help_serve, "Run a known-good or deliberately misbehaving TCP/TLS server")                   \
  X(help_serve_footer,                                                                           \
    "Modes: echo, discard, http, banner[=TEXT], never-accept, reset-after-accept,\n"             \
    "close-after-accept, slow-first-byte[=DURATION], drip[=INTERVAL], garbage, no-close.\n"      \
    "Without --listen or --port it listens on 127.0.0.1:8080. Stop with Ctrl-C or SIGTERM;\n"    \
    "a summary is printed on exit.")                                                             \
  X(help_serve_listen, "Listen on ADDR:PORT ([V6ADDR]:PORT, :PORT); repeatable; port 0 picks one") \
  X(help_serve_port, "Listen on PORT on every address (0.0.0.0 and [::])")                       \
  X(help_serve_mode, "Behaviour (see below); default echo")                                      \
  X(help_serve_backlog, "listen() backlog; default and maximum: net.core.somaxconn")          \
  X(help_serve_reuseport, "Set SO_REUSEPORT on the listeners")                                   \
  X(help_serve_fastopen, "Enable TCP Fast Open with this queue length")                          \
  X(help_serve_keepalive, "TCP keepalive on accepted connections")                               \
  X(help_serve_tls_cert, "TLS certificate chain (PEM)")                                          \
  X(help_serve_tls_key, "TLS private key (PEM)")                                                 \
  X(help_serve_tls_self_signed, "TLS with a certificate generated in memory")                    \
  X(help_serve_http_status, "Status for http and slow-first-byte; default 200")                  \
  X(help_serve_banner, "Greeting for banner and drip")                                           \
  X(help_serve_delay, "slow-first-byte: wait before each response; default 2s")                  \
  X(help_serve_interval, "drip: time between bytes; default 1s")                                 \
  X(help_serve_demo, "One loopback endpoint per mode, on consecutive ports")                     \
  X(help_serve_demo_port, "First port of --demo; default 9601")                                 \
  X(help_audit, "Judge this kernel's connection settings for a busy server")                     \
  X(help_audit_no_owners, "Skip the /proc scan for listeners' processes and their nofile limits") \
  X(help_audit_footer,                                                                           \
    "Exit status: 0 all settings meet the recommendation, 1 something is below it, 3 could not\n" \
    "run. Fixes are printed as sysctl -w commands and /etc/sysctl.d/90-connscope.conf lines.")    \
  X(audit_col_setting, "setting")                                                                \
  X(audit_col_current, "current")                                                                \
  X(audit_col_recommended, "recommended")                                                        \
  X(audit_col_status, "status")                                                                  \
  X(audit_status_ok, "ok")                                                                       \
  X(audit_status_below, "below")                                                                 \
  X(audit_status_info, "info")                                                                   \
  X(audit_status_unavailable, "n/a")                                                             \
  X(audit_unavailable, "not available on this kernel")                                           \
  X(audit_below_heading, "Below recommendation:")                                                \
  X(audit_info_heading, "Worth considering (a judgement, not an error):")                        \
  X(audit_item_line, "  {name}: {value}, recommended {recommended}")                           \
  X(audit_why_line, "    why: {}")                                                               \
  X(audit_fix_line, "    fix: {command}")                                                        \
  X(audit_persist_line, "    persist: {line}  (in {file}, then sysctl --system)")                \
  X(audit_listeners_heading,                                                                     \
    "Listeners whose own listen() backlog, not net.core.somaxconn ({somaxconn}), is the accept-queue limit:") \
  X(audit_listener_line, "  {addr:<28} limit {limit:<6}{owner}")                                 \
  X(audit_listener_note,                                                                         \
    "  Raising somaxconn does not help these: raise the backlog in the application (nginx: "     \
    "listen ... backlog=4096); a listener opened before somaxconn was raised keeps its old cap "  \
    "until it calls listen() again (restart it).")                                                \
  X(audit_findings_heading, "Findings:")                                                         \
  X(audit_finding_line, "  [{severity}] {id}: {summary}")                                        \
  X(audit_summary,                                                                               \
    "settings: {below} below recommendation, {info} worth considering, {ok} ok, {unavailable} not "  \
    "available; other findings: {findings}")                                                      \
  X(audit_no_owners, "owners not scanned (--no-owners): listeners' processes and nofile limits are not judged") \
  X(audit_need_root,                                                                             \
    "{count} processes could not be read: their listeners' owners and nofile limits need root")   \
  X(audit_owner_unknown, " (owner unknown)")                                                     \
  X(why_somaxconn,                                                                               \
    "Caps the backlog every listen() asks for: a listener's accept queue holds min(backlog, "     \
    "somaxconn) connections that finished the handshake. When it is full the kernel drops the "   \
    "handshake's last ACK and clients hang and retry instead of getting an error. Read at "       \
    "listen() time, so listeners opened before a change keep the old cap. 4096 is the default "   \
    "since Linux 5.4 (128 before).")                                                              \
  X(why_max_syn_backlog,                                                                         \
    "Half-open connections (SYN_RECV) kept per listener while syncookies are off: SYNs from "     \
    "peers not seen before are dropped once a SYN queue is three quarters of this. A listener's " \
    "SYN queue is also capped by its own listen() backlog; past that, syncookies take over when " \
    "they are on.")                                                                               \
  X(why_syncookies,                                                                              \
    "1 answers with a syncookie only when a listener's SYN queue overflows, so a SYN flood cannot " \
    "lock real clients out; 0 drops new SYNs when the queue is full.")                            \
  X(why_syncookies_always,                                                                       \
    "2 sends a syncookie for every SYN, bypassing the SYN queue even without a flood: a test "    \
    "setting; 1 uses cookies only when the queue overflows.")                                     \
  X(why_synack_retries,                                                                          \
    "How often this server resends the SYN-ACK of a half-open connection (SYN_RECV) before "      \
    "giving up: 5 keeps each one about 63 s (1+2+4+8+16+32 s), 2 frees the slot after 7 s. This, " \
    "not tcp_syn_retries, is the one that matters under a SYN flood; a client whose SYN-ACK was " \
    "lost retries its SYN anyway.")                                                               \
  X(why_syn_retries,                                                                             \
    "How often this host resends the SYN of its own outgoing connect() (to databases, upstreams) " \
    "before failing: 6 waits about 127 s, 3 fails after 15 s. It does not affect incoming "       \
    "connections (that is tcp_synack_retries); a connect timeout in the application wins.")       \
  X(why_abort_on_overflow,                                                                       \
    "1 answers with RST when a listener's accept queue is full, so clients get 'connection "      \
    "reset' during a burst instead of retrying and getting in a moment later. 0 drops the "       \
    "handshake's last ACK and the client retransmits: right for almost every server.")            \
  X(why_fastopen,                                                                                \
    "A bit mask: 1 lets this host send data in the SYN of outgoing connections, 2 lets listeners " \
    "that ask for it (setsockopt TCP_FASTOPEN) take data in the SYN, saving a round trip for "    \
    "returning clients. The application must still opt in, and some middleboxes drop SYNs that " \
    "carry data.")                                                                                \
  X(why_keepalive_time,                                                                          \
    "Idle seconds before the first keepalive probe on sockets with SO_KEEPALIVE (TCP_KEEPIDLE "   \
    "overrides it per socket). With 7200 (2 h) a client that vanished (power loss, a NAT that "    \
    "forgot the flow) holds its connection and descriptor for over two hours; many NATs and "     \
    "firewalls drop idle flows after 5 to 30 minutes.")                                           \
  X(why_keepalive_intvl,                                                                         \
    "Seconds between unanswered keepalive probes. A dead peer is found after keepalive_time + "   \
    "intvl x probes: 7200 + 75 x 9 = 7875 s with the defaults, 600 + 30 x 5 = 750 s as recommended.") \
  X(why_keepalive_probes,                                                                        \
    "Unanswered keepalive probes before the connection is reset; a dead peer is found after "     \
    "keepalive_time + intvl x probes.")                                                           \
  X(why_fin_timeout,                                                                             \
    "How long a connection this host closed stays in FIN_WAIT_2 when its process is gone and the " \
    "peer never closes. It does not change TIME_WAIT, which Linux keeps for a fixed 60 s.")       \
  X(why_tw_reuse,                                                                                \
    "1 lets a new outgoing connection reuse a local port still in TIME_WAIT when TCP timestamps "  \
    "show it is safe. It helps outgoing connections only (proxies, clients of databases and "      \
    "upstreams); incoming connections' TIME_WAIT costs no port. 2, the default on recent "        \
    "kernels, allows it for loopback only. tcp_tw_recycle no longer exists (removed in Linux 4.12).") \
  X(why_tw_recycle,                                                                              \
    "Drops packets from clients behind NAT whose timestamps are not in order; removed in Linux "  \
    "4.12 for that reason. Keep it 0.")                                                           \
  X(why_port_range,                                                                              \
    "Local ports for outgoing connections. Each connection to one destination address and port "  \
    "needs its own, and a port stays in TIME_WAIT for 60 s after this host closes first: "        \
    "{ports} ports allow about {per_s} new connections per second to one destination before "     \
    "connect() fails with EADDRNOTAVAIL. Keep listening ports out of the range "                  \
    "(net.ipv4.ip_local_reserved_ports).")                                                        \
  X(why_max_tw_buckets,                                                                          \
    "The most TIME_WAIT sockets the host keeps; past it the kernel destroys new ones at once "     \
    "('time wait bucket table overflow'), so late segments of an old connection can be taken for " \
    "a new one. Lowering it is no fix for TIME_WAIT: reuse connections, and tcp_tw_reuse for "    \
    "outgoing ones.")                                                                             \
  X(why_max_orphans,                                                                             \
    "The most sockets closed by their process but still finishing the close (FIN_WAIT_1, "        \
    "LAST_ACK, CLOSING); past it the kernel resets them and logs 'too many orphaned sockets'. "    \
    "Each can hold up to 64 KB of unsent data.")                                                  \
  X(why_rmem,                                                                                    \
    "min, default and max receive buffer of a TCP socket in bytes; the kernel grows each "        \
    "connection's buffer up to the max. A connection cannot receive faster than max / round-trip " \
    "time (4 MB over 100 ms: 40 MB/s). net.core.rmem_max limits only applications that set "      \
    "SO_RCVBUF themselves.")                                                                      \
  X(why_wmem,                                                                                    \
    "min, default and max send buffer of a TCP socket in bytes; the kernel grows each "           \
    "connection's buffer up to the max. A connection cannot send faster than max / round-trip "   \
    "time (4 MB over 100 ms: 40 MB/s). net.core.wmem_max limits only applications that set "      \
    "SO_SNDBUF themselves.")                                                                      \
  X(why_netdev_max_backlog,                                                                      \
    "Packets queued per CPU between the network driver and the protocol stack; past it packets "  \
    "are dropped before TCP sees them (the second column of /proc/net/softnet_stat counts them). " \
    "1000, the default, is small for bursts at 10 Gbit/s.")                                       \
  X(why_file_max,                                                                                \
    "The most open files in the whole system; every socket is one. When it is reached, accept() " \
    "and socket() fail with ENFILE in every process.")                                            \
  X(why_nr_open,                                                                                 \
    "The highest value a process's nofile limit (ulimit -n, systemd LimitNOFILE) can be raised to.") \
  X(why_conntrack_max,                                                                           \
    "The most connections netfilter tracks (NAT, stateful firewall rules); {count} are tracked " \
    "now ({percent}%). When the table is full, packets of new connections are dropped "           \
    "('nf_conntrack: table full, dropping packet' in dmesg) and clients time out.")               \
  X(f_sysctl_summary, "{name} is {value}; recommended for a busy server: {recommended}")         \
  X(f_sysctl_fix, "{command}; to keep it: {line} in {file}, then sysctl --system")               \
  X(f_conntrack_summary, "{count} of {max} conntrack entries in use ({percent}%)")               \
  X(f_conntrack_cause,                                                                           \
    "Every tracked connection holds an entry until it ends or times out (ESTABLISHED: 5 days by " \
    "default); when the table is full the kernel drops packets of new connections and clients "   \
    "see timeouts, not errors.")                                                                  \
  X(f_conntrack_fix,                                                                             \
    "sysctl -w net.netfilter.nf_conntrack_max={max}; to keep it: net.netfilter.nf_conntrack_max " \
    "= {max} in {file}. Or exempt busy server ports from tracking (nft: a notrack rule in a raw " \
    "prerouting chain).")                                                                         \
  X(f_nofile_limit_summary,                                                                      \
    "{who} listens with a nofile soft limit of {limit}, below {recommended} for a busy server")   \
  X(f_nofile_limit_cause,                                                                        \
    "Every connection is a file descriptor. At the soft limit accept() fails with EMFILE: new "   \
    "connections wait in the accept queue and then overflow it. The usual default, 1024, is a "   \
    "select() relic; fs.nr_open caps how far it can be raised.")                                  \
  X(f_accept_queue_full_summary,                                                                  \
    "{addr}: accept queue {queue}/{limit}{owner}; {overflows} connections/s dropped")             \
  X(f_accept_queue_high_summary, "{addr}: accept queue {queue}/{limit}{owner}, near its limit")   \
  X(f_accept_queue_full_cause,                                                                    \
    "The application is not calling accept() as fast as connections complete (a blocked event "   \
    "loop, too few workers, a slow dependency), or its backlog is too small for bursts. When the " \
    "queue is full the kernel drops the handshake's last ACK and clients see a hang, not an error.") \
  X(f_accept_queue_full_fix,                                                                      \
    "Find what keeps {who} from accepting (CPU, locks, a blocking call in the accept loop). Raise " \
    "the listen backlog in the application (nginx: listen ... backlog=4096) and the cap: sysctl -w " \
    "net.core.somaxconn=4096 (and in /etc/sysctl.d/90-connscope.conf: net.core.somaxconn = 4096). " \
    "Watch it: ss -ltn 'sport = :{port}' (Recv-Q is the queue, Send-Q the limit).")              \
  X(f_syn_queue_overflow_summary, "{drops} SYNs/s dropped: the SYN queue is full and syncookies are {cookies}") \
  X(f_syn_queue_overflow_cause,                                                                   \
    "Half-open connections (SYN_RECV) filled the SYN queue, and without syncookies the kernel "    \
    "drops new SYNs; clients retry after 1 s, 3 s, 7 s.")                                           \
  X(f_syn_queue_overflow_fix,                                                                     \
    "sysctl -w net.ipv4.tcp_syncookies=1; raise net.ipv4.tcp_max_syn_backlog and the listen "      \
    "backlog; if the SYN_RECV sockets come from a few sources, it is a flood (see listen.syn_flood).") \
  X(f_syn_flood_summary,                                                                          \
    "{syn_recv} half-open connections (SYN_RECV){source}; {cookies} syncookies/s sent")            \
  X(f_syn_flood_cause,                                                                            \
    "More SYNs arrive than complete their handshake: a SYN flood (spoofed or from a few hosts), "  \
    "or clients whose final ACK is lost. The kernel answers each with a SYN-ACK and retries it "   \
    "net.ipv4.tcp_synack_retries times (not tcp_syn_retries, which is for outgoing connections).") \
  X(f_syn_flood_fix,                                                                              \
    "Keep net.ipv4.tcp_syncookies=1 so the queue cannot fill. Lower net.ipv4.tcp_synack_retries "  \
    "to 2 to free half-open slots sooner. Rate-limit or block the top sources at the firewall "    \
    "(nft add rule inet filter input ip saddr ADDR tcp flags syn limit rate 10/second accept).")   \
  X(f_close_wait_summary, "{count} sockets in CLOSE_WAIT owned by {who}{port}")                   \
  X(f_close_wait_cause,                                                                           \
    "The peer closed (sent FIN) and the application never called close(): a leak on an error or " \
    "EOF path. The sockets and their descriptors stay until the process exits.")                  \
  X(f_close_wait_fix,                                                                             \
    "Fix the code path that ignores EOF (read() returning 0) or errors without closing; "          \
    "restarting {who} frees them for now. List them: ss -tnp state close-wait.")                   \
  X(f_time_wait_summary,                                                                          \
    "{count} sockets in TIME_WAIT toward {dest}: {percent}% of the {ports} local ports")          \
  X(f_time_wait_cause,                                                                            \
    "Each connection this host closes first to one destination holds its local port for 60 s "   \
    "(fixed in Linux; tcp_fin_timeout governs FIN_WAIT2, not TIME_WAIT). Short connections "       \
    "to one address and port run out of ports: connect() fails with EADDRNOTAVAIL.")              \
  X(f_time_wait_fix,                                                                              \
    "Reuse connections (HTTP keep-alive, connection pools). sysctl -w net.ipv4.tcp_tw_reuse=1 "    \
    "lets outgoing connections reuse TIME_WAIT ports (it does nothing for incoming ones; "         \
    "tcp_tw_recycle no longer exists). Widen net.ipv4.ip_local_port_range (e.g. 1024 65535).")    \
  X(f_orphans_summary, "{orphans} orphaned sockets, {percent}% of net.ipv4.tcp_max_orphans ({max})") \
  X(f_orphans_cause,                                                                              \
    "Sockets the application closed but whose FIN or data the peer has not acknowledged; past "    \
    "tcp_max_orphans the kernel resets them and logs 'too many orphaned sockets'.")               \
  X(f_orphans_fix,                                                                                \
    "Look for slow or vanished peers (ss -tn state fin-wait-1 state last-ack). Lower "             \
    "net.ipv4.tcp_orphan_retries to give up sooner; raise net.ipv4.tcp_max_orphans if memory "     \
    "allows (each orphan can hold up to 64 KB).")                                                  \
  X(f_retransmits_summary, "{rate} segments/s retransmitted, {percent}% of segments sent")        \
  X(f_retransmits_cause,                                                                          \
    "Packets are lost or delayed on the path or at an interface: congestion, a bad link, full "    \
    "queues, or a peer that stopped answering.")                                                   \
  X(f_retransmits_fix,                                                                            \
    "Find where: ip -s link (interface drops and errors), ss -ti (per-connection retrans), and "   \
    "trace the path to the affected peers.")                                                       \
  X(f_resets_summary, "{rate} resets/s sent")                                                      \
  X(f_resets_cause,                                                                               \
    "This host answers with RST: connections to ports where nothing listens (scans, stale "       \
    "clients), applications aborting connections (SO_LINGER 0), or tcp_abort_on_overflow with a " \
    "full accept queue.")                                                                          \
  X(f_resets_fix,                                                                                 \
    "See which ports are hit: tcpdump -ni any 'tcp[tcpflags] & tcp-rst != 0'; check "             \
    "net.ipv4.tcp_abort_on_overflow (0 is right for most servers).")                              \
  X(f_nofile_summary, "{who} has {open} of {limit} file descriptors open ({percent}%)")           \
  X(f_nofile_cause,                                                                               \
    "At the limit accept() fails with EMFILE: new connections wait in the accept queue and then "  \
    "overflow it, while the process may spin on the error.")                                      \
  X(f_nofile_fix,                                                                                 \
    "Raise the limit (systemd: LimitNOFILE=65535 in the unit; shell: ulimit -n 65535) and look "  \
    "for descriptor leaks (ls /proc/{pid}/fd | wc -l over time).")                                \
  X(f_owner_suffix, " ({command}, pid {pid})")                                                     \
  X(f_unknown_owner, "the owning process")                                                      \
  X(inspect_note_owners_need_root,                                                                \
    "owners of sockets in {} processes of other users are unknown: run as root (or with "         \
    "CAP_SYS_PTRACE) to name them")                                                                \
  X(inspect_note_no_owners, "owners not looked up (--no-owners)")                                 \
  X(inspect_states_title, "TCP states")                                                            \
  X(inspect_listeners_title,                                                                      \
    "Listeners (QUEUE = connections waiting for accept() / the backlog limit; ss shows them as "  \
    "Recv-Q / Send-Q of LISTEN sockets)")                                                          \
  X(inspect_udp_title, "UDP listeners (bound, not connected; RECV-Q = bytes waiting to be read)") \
  X(inspect_ports_title, "Per port (incoming: the local port; outgoing: the remote port)")        \
  X(inspect_processes_title, "Per process")                                                        \
  X(inspect_peers_title, "Top peers")                                                              \
  X(inspect_recvq_title, "Top sockets by Recv-Q (the application is not reading)")                \
  X(inspect_sendq_title, "Top sockets by Send-Q (the peer or the network is slow)")               \
  X(inspect_counters_title, "Kernel counters, per second over {}")                                \
  X(inspect_counters_totals_title, "Kernel counters, totals since boot (--interval 0)")          \
  X(inspect_findings_title, "Findings")                                                            \
  X(inspect_no_findings, "no problems found")                                                      \
  X(inspect_sockets_title, "Sockets")                                                              \
  X(inspect_went_backwards, "went backwards (counter reset)")                                     \
  X(inspect_missing, "not on this kernel")                                                         \
  X(help_inspect, "Show what the sockets are doing: states, listeners and queues, owners, counters, findings") \
  X(help_inspect_port, "Only sockets with this local port")                                       \
  X(help_inspect_state, "Only these states (comma-separated, ss names: established, time-wait, ...)") \
  X(help_inspect_pid, "Only sockets owned by this process")                                       \
  X(help_inspect_listen, "Listeners only (walks just the kernel's listening hash: cheap)")        \
  X(help_inspect_all, "List every matching socket, as ss does")                                   \
  X(help_inspect_no_owners, "Do not scan /proc for socket owners")                                 \
  X(help_inspect_interval, "Time between the two samples for rates; 0: totals only; default 1s") \
  X(help_inspect_record, "Save the raw netlink and /proc inputs into DIR")                         \
  X(help_inspect_replay, "Run from inputs saved with --record")

enum class Msg {
#define CONNSCOPE_MSG_ENUM(id, en) id,
  CONNSCOPE_MESSAGES(CONNSCOPE_MSG_ENUM)
#undef CONNSCOPE_MSG_ENUM
};

// The template for `id` in `lang`.
std::string_view text_template(Lang lang, Msg id);

// Parses "en", "en_US.UTF-8", "C" into a language; nullopt-like false when unsupported.
bool parse_lang(std::string_view name, Lang& out);

template <class... Args>
std::string tr(Lang lang, Msg id, Args&&... args) {
  return fmt::format(fmt::runtime(text_template(lang, id)), std::forward<Args>(args)...);
}

}  // namespace connscope
