#pragma once
// The text catalog: every sentence a person reads goes through here. The X-lists below (and the
// text_<command>.h lists they include) are the one source of the message ids and of the English;
// po/connscope.pot is generated from them (tools/i18n), translations live in po/<lang>.po, are
// compiled to .mo at build time and looked up at run time by id (msgctxt) and English (msgid).
// Templates use fmt syntax; a translation must use the same placeholders, which the build checks
// (tools/i18n: po_tool check), never the run time.

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace connscope {

// The languages connscope speaks. Adding one: a value here, its names in lang_from_name, a
// po/<lang>.po (compiled by CMake) and its column in the tests.
enum class Lang { en, zh_CN };

// X(id, English template). A command's own messages may live in a header of their own
// (text_<command>.h, one X-list macro each), so that two commands grow without touching the same
// lines. Plural messages are in the *_PLURALS lists: X(id, count, English singular, English
// plural), where `count` names the placeholder whose number picks the form.
#include "core/text_trace.h"
#include "core/text_probe.h"
#include "core/text_agent.h"
#include "core/text_doctor.h"
#include "core/text_doctor_lines.h"
#include "core/text_input.h"
#include "core/text_watch.h"
#include "core/text_dashboard.h"
#include "core/text_load.h"
#include "core/text_errors.h"
#include "core/text_findings.h"
#include "core/text_audit.h"
#include "core/text_serve.h"
#include "core/text_icmp.h"

#define CONNSCOPE_MESSAGES(X)                                                                    \
  X(usage_error, "connscope: {}")                                                                \
  X(run_error, "connscope: {}")                                                                  \
  X(hint_help, "Run 'connscope {} --help' for usage.")                                           \
  X(unknown_lang, "not a supported language (supported: en, zh-CN)")                             \
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
  X(help_lang, "Language of messages: en or zh-CN; default from LC_ALL, LC_MESSAGES or LANG")    \
  X(help_help, "Print this help message and exit")                                               \
  X(help_version, "Display program version information and exit")                                \
  X(help_label_usage, "Usage")                                                                   \
  X(help_label_options, "OPTIONS")                                                               \
  X(help_label_subcommand, "SUBCOMMAND")                                                         \
  X(help_label_positionals, "Positionals")                                                       \
  X(help_label_required, "REQUIRED")                                                             \
  X(help_group_options, "Options")                                                               \
  X(help_group_subcommands, "Subcommands")                                                       \
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
  X(help_serve_http_location, "http: send this Location header (with --http-status 301, a redirect)") \
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
  X(f_conntrack_cause,                                                                           \
    "Every tracked connection holds an entry until it ends or times out (ESTABLISHED: 5 days by " \
    "default); when the table is full the kernel drops packets of new connections and clients "   \
    "see timeouts, not errors.")                                                                  \
  X(f_nofile_limit_cause,                                                                        \
    "Every connection is a file descriptor. At the soft limit accept() fails with EMFILE: new "   \
    "connections wait in the accept queue and then overflow it. The usual default, 1024, is a "   \
    "select() relic; fs.nr_open caps how far it can be raised.")                                  \
  X(f_accept_queue_full_cause,                                                                    \
    "The application is not calling accept() as fast as connections complete (a blocked event "   \
    "loop, too few workers, a slow dependency), or its backlog is too small for bursts. When the " \
    "queue is full the kernel drops the handshake's last ACK and clients see a hang, not an error.") \
  X(f_syn_queue_overflow_cause,                                                                   \
    "Half-open connections (SYN_RECV) filled the SYN queue, and without syncookies the kernel "    \
    "drops new SYNs; clients retry after 1 s, 3 s, 7 s.")                                           \
  X(f_syn_queue_overflow_fix,                                                                     \
    "sysctl -w net.ipv4.tcp_syncookies=1; raise net.ipv4.tcp_max_syn_backlog and the listen "      \
    "backlog; if the SYN_RECV sockets come from a few sources, it is a flood (see listen.syn_flood).") \
  X(f_syn_flood_cause,                                                                            \
    "More SYNs arrive than complete their handshake: a SYN flood (spoofed or from a few hosts), "  \
    "or clients whose final ACK is lost. The kernel answers each with a SYN-ACK and retries it "   \
    "net.ipv4.tcp_synack_retries times (not tcp_syn_retries, which is for outgoing connections).") \
  X(f_syn_flood_fix,                                                                              \
    "Keep net.ipv4.tcp_syncookies=1 so the queue cannot fill. Lower net.ipv4.tcp_synack_retries "  \
    "to 2 to free half-open slots sooner. Rate-limit or block the top sources at the firewall "    \
    "(nft add rule inet filter input ip saddr ADDR tcp flags syn limit rate 10/second accept).")   \
  X(f_close_wait_cause,                                                                           \
    "The peer closed (sent FIN) and the application never called close(): a leak on an error or " \
    "EOF path. The sockets and their descriptors stay until the process exits.")                  \
  X(f_time_wait_cause,                                                                            \
    "Each connection this host closes first to one destination holds its local port for 60 s "   \
    "(fixed in Linux; tcp_fin_timeout governs FIN_WAIT2, not TIME_WAIT). Short connections "       \
    "to one address and port run out of ports: connect() fails with EADDRNOTAVAIL.")              \
  X(f_time_wait_fix,                                                                              \
    "Reuse connections (HTTP keep-alive, connection pools). sysctl -w net.ipv4.tcp_tw_reuse=1 "    \
    "lets outgoing connections reuse TIME_WAIT ports (it does nothing for incoming ones; "         \
    "tcp_tw_recycle no longer exists). Widen net.ipv4.ip_local_port_range (e.g. 1024 65535).")    \
  X(f_orphans_cause,                                                                              \
    "Sockets the application closed but whose FIN or data the peer has not acknowledged; past "    \
    "tcp_max_orphans the kernel resets them and logs 'too many orphaned sockets'.")               \
  X(f_orphans_fix,                                                                                \
    "Look for slow or vanished peers (ss -tn state fin-wait-1 state last-ack). Lower "             \
    "net.ipv4.tcp_orphan_retries to give up sooner; raise net.ipv4.tcp_max_orphans if memory "     \
    "allows (each orphan can hold up to 64 KB).")                                                  \
  X(f_retransmits_cause,                                                                          \
    "Packets are lost or delayed on the path or at an interface: congestion, a bad link, full "    \
    "queues, or a peer that stopped answering.")                                                   \
  X(f_retransmits_fix,                                                                            \
    "Find where: ip -s link (interface drops and errors), ss -ti (per-connection retrans), and "   \
    "trace the path to the affected peers.")                                                       \
  X(f_resets_cause,                                                                               \
    "This host answers with RST: connections to ports where nothing listens (scans, stale "       \
    "clients), applications aborting connections (SO_LINGER 0), or tcp_abort_on_overflow with a " \
    "full accept queue.")                                                                          \
  X(f_resets_fix,                                                                                 \
    "See which ports are hit: tcpdump -ni any 'tcp[tcpflags] & tcp-rst != 0'; check "             \
    "net.ipv4.tcp_abort_on_overflow (0 is right for most servers).")                              \
  X(f_nofile_cause,                                                                               \
    "At the limit accept() fails with EMFILE: new connections wait in the accept queue and then "  \
    "overflow it, while the process may spin on the error.")                                      \
  X(f_nofile_fix,                                                                                 \
    "Raise the limit (systemd: LimitNOFILE=65535 in the unit; shell: ulimit -n 65535) and look "  \
    "for descriptor leaks (ls /proc/{pid}/fd | wc -l over time).")                                \
  X(f_owner_suffix, " ({command}, pid {pid})")                                                     \
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
  X(inspect_col_total, "total")                                                                    \
  X(inspect_col_address, "ADDRESS")                                                                \
  X(inspect_col_queue, "QUEUE")                                                                    \
  X(inspect_col_process, "PROCESS")                                                                \
  X(inspect_col_port, "PORT")                                                                      \
  X(inspect_col_state, "STATE")                                                                    \
  X(inspect_col_local, "LOCAL")                                                                    \
  X(inspect_col_peer, "PEER")                                                                      \
  X(inspect_peer_syn_recv, "SYN_RECV from")                                                        \
  X(inspect_peer_established, "ESTABLISHED with")                                                  \
  X(inspect_peer_time_wait, "TIME_WAIT to")                                                        \
  X(inspect_note_line, "note: {}")                                                                 \
  /* A finding as the human output of every command prints it (cli/findings_text.h). */          \
  X(finding_severity_critical, "critical")                                                         \
  X(finding_severity_warning, "warning")                                                           \
  X(finding_severity_info, "info")                                                                 \
  X(finding_why, "why: {}")                                                                        \
  X(finding_fix, "fix: {}")                                                                        \
  X(help_inspect, "Show what the sockets are doing: states, listeners and queues, owners, counters, findings") \
  X(help_inspect_port, "Only sockets with this local port")                                       \
  X(help_inspect_state, "Only these states (comma-separated, ss names: established, time-wait, ...)") \
  X(help_inspect_pid, "Only sockets owned by this process")                                       \
  X(help_inspect_listen, "Listeners only (walks just the kernel's listening hash: cheap)")        \
  X(help_inspect_all, "List every matching socket, as ss does")                                   \
  X(help_inspect_no_owners, "Do not scan /proc for socket owners")                                 \
  X(help_inspect_interval, "Time between the two samples for rates; 0: totals only; default 1s") \
  X(help_inspect_record, "Save the raw netlink and /proc inputs into DIR")                         \
  X(help_inspect_replay, "Run from inputs saved with --record")                                 \
  /* client findings (doctor): named arguments are the finding's evidence keys */               \
  X(c_dns_nxdomain_summary, "{server} says {name} does not exist (NXDOMAIN)")                     \
  X(c_dns_nxdomain_cause,                                                                         \
    "The name is not in DNS: a typo, a record never created or since deleted, or a search "       \
    "domain that does not apply. NXDOMAIN is the authority's definite no: retrying will not "     \
    "help.")                                                                                      \
  X(c_dns_nxdomain_fix,                                                                           \
    "Check the spelling. Ask the server directly: dig {name} @{server_address}; follow the "     \
    "delegation from the root: dig +trace {name}. If the record should exist, create it in "      \
    "the zone.")                                                                                  \
  X(c_dns_servfail_summary, "{server} could not resolve {name} (SERVFAIL)")                       \
  X(c_dns_servfail_cause,                                                                         \
    "The resolver failed to get an answer from the zone's servers: they are down or lame, the "  \
    "delegation is broken, or DNSSEC validation failed.")                                         \
  X(c_dns_servfail_fix,                                                                           \
    "dig +trace {name} shows the broken step; dig +cd {name} @{server_address} answering means "  \
    "DNSSEC is the cause; --resolver IP asks another server.")                                    \
  X(c_dns_refused_summary, "{server} refused to answer for {name} (REFUSED)")                     \
  X(c_dns_refused_cause,                                                                          \
    "The server does not serve this client (an access list) or does not do recursion and is "    \
    "not authoritative for the name.")                                                            \
  X(c_dns_refused_fix,                                                                            \
    "Use a resolver that serves this host (/etc/resolv.conf, or --resolver IP), or allow this "  \
    "client on the server (BIND: allow-recursion; dnsmasq: listen-address, interface).")          \
  X(c_dns_timeout_summary, "no DNS answer for {name} within {timeout} (asked {servers})")         \
  X(c_dns_timeout_cause,                                                                          \
    "The DNS server did not answer: it is down or unreachable, or a firewall drops DNS (UDP and " \
    "TCP port 53) on the way.")                                                                   \
  X(c_dns_timeout_fix,                                                                            \
    "Check the servers in /etc/resolv.conf; test one: dig {name} @{server_address}; allow UDP "   \
    "and TCP port 53 to it; --resolver IP asks another server.")                                  \
  X(c_dns_no_address_summary, "{name} exists but has no {family} address")                        \
  X(c_dns_no_address_cause,                                                                       \
    "The name has records, but none of the asked family: only an A record when IPv6 (-6) was "   \
    "asked for, only AAAA for IPv4, or no address records at all.")                              \
  X(c_dns_no_address_fix,                                                                         \
    "Ask for the other family (-4 or -6), or add the missing record (AAAA for IPv6, A for "       \
    "IPv4); dig {name} A and dig {name} AAAA show what there is.")                                \
  X(c_dns_unreachable_summary, "the DNS server {server} cannot be reached")                        \
  X(c_dns_unreachable_cause,                                                                      \
    "Nothing answers DNS at that address: its host said no process listens on port 53 (ICMP "     \
    "port unreachable), or the socket could not be opened.")                                     \
  X(c_dns_unreachable_fix,                                                                        \
    "Check the resolver address in /etc/resolv.conf (or --resolver); on that server, is the DNS " \
    "service running (ss -lunp 'sport = :53')?")                                                  \
  X(c_dns_bad_answer_summary, "{server} sent an answer for {name} that cannot be used ({detail})") \
  X(c_dns_bad_answer_cause,                                                                       \
    "The server answered FORMERR or NOTIMP, or with a malformed message: a broken DNS server or " \
    "a middlebox that rewrites DNS.")                                                             \
  X(c_dns_bad_answer_fix, "Try another resolver (--resolver IP); dig {name} @{server_address} shows the raw answer.") \
  X(c_net_no_route_summary, "no route to {address} from this host ({route})")                               \
  X(c_net_no_route_cause,                                                                         \
    "The kernel's routing table has no usable entry for this address (no default route, an "     \
    "interface that is down, or an unreachable or prohibit route), so the SYN never leaves this " \
    "host.")                                                                                      \
  X(c_net_no_route_fix,                                                                           \
    "ip route get {address} shows the decision; add a route or a default gateway (ip route add "  \
    "default via GATEWAY), or bring the interface up (ip link set IFACE up).")                   \
  X(c_tcp_refused_summary, "{endpoint} refused (RST from the host): nothing listens on port {port}") \
  X(c_tcp_refused_cause,                                                                          \
    "The host is up and answered the SYN with a reset: no socket listens on that port and "      \
    "address (the service is stopped, listens on another port, or only on 127.0.0.1), or a "     \
    "firewall rejects with a TCP reset.")                                                         \
  X(c_tcp_refused_fix,                                                                            \
    "On the server: ss -ltnp 'sport = :{port}' (is anything listening, on which address?) or "    \
    "connscope inspect --listen; start the service or fix its listen address.")                  \
  X(c_tcp_rejected_icmp_summary, "{endpoint} rejected by {from} (ICMP {icmp})")                    \
  X(c_tcp_rejected_icmp_cause,                                                                    \
    "A firewall on {from} rejects the connection with an ICMP error instead of forwarding it "    \
    "(nft: reject with icmp port-unreachable; iptables: -j REJECT); or, sent by the host itself, " \
    "nothing listens and a rule answers for TCP the way the kernel answers for UDP.")            \
  X(c_tcp_rejected_icmp_fix,                                                                      \
    "Find the rule on {from}: nft list ruleset | grep -n reject (iptables -S | grep REJECT); "    \
    "allow TCP port {port} from this host.")                                                      \
  X(c_net_admin_prohibited_summary, "{endpoint} administratively prohibited by {from} (ICMP {icmp})") \
  X(c_net_admin_prohibited_cause,                                                                 \
    "A firewall on {from} (a router, a security group or the host itself) refuses this traffic " \
    "and says so: communication administratively prohibited.")                                  \
  X(c_net_admin_prohibited_fix,                                                                   \
    "Allow TCP port {port} from this source on {from} (nft: the rule ending in reject with icmp " \
    "admin-prohibited; iptables: REJECT --reject-with icmp-admin-prohibited).")                  \
  X(c_net_host_unreachable_summary, "{address} is unreachable: {from} says ICMP {icmp}")           \
  X(c_net_host_unreachable_cause,                                                                 \
    "A router ({from}) cannot deliver to the host: it is down or not on its network (no "          \
    "neighbour answer), or the router has no route to that network.")                            \
  X(c_net_host_unreachable_fix,                                                                   \
    "Check that the host is up and on its network; on {from}: ip neigh show {address} and ip "    \
    "route get {address}; connscope trace {endpoint} shows where the path ends.")                 \
  X(c_tcp_filtered_cause,                                                                         \
    "Something silently drops the SYN or the SYN-ACK: a firewall or security group with a drop "  \
    "rule, or a host that is down behind a router that sends no ICMP errors. A server whose "     \
    "accept queue is full, or whose SYN queue is full without syncookies, drops SYNs silently "   \
    "too (connscope inspect --port {port} on the server shows it).{icmp_note}")                   \
  X(c_tcp_filtered_fix,                                                                           \
    "Check the firewalls on the path and on the server (nft list ruleset; cloud security "        \
    "groups); on the server, tcpdump -ni any 'tcp port {port}' shows whether SYNs arrive; "       \
    "connscope trace {endpoint} finds the last hop that answers.")                                \
  X(c_tcp_local_port_exhaustion_summary, "no free local port to connect to {endpoint} (EADDRNOTAVAIL)") \
  X(c_tcp_local_port_exhaustion_cause,                                                            \
    "Every port of net.ipv4.ip_local_port_range is taken toward this destination, usually by "    \
    "TIME_WAIT: a connection this host closed first keeps its port for 60 s.")                   \
  X(c_tcp_local_port_exhaustion_fix,                                                              \
    "connscope inspect shows TIME_WAIT per destination; reuse connections (keep-alive, pools); "  \
    "widen the range: sysctl -w net.ipv4.ip_local_port_range=\"10240 65535\"; "                   \
    "net.ipv4.tcp_tw_reuse=1 lets new outgoing connections take over TIME_WAIT ports.")          \
  X(c_tcp_slow_handshake_cause,                                                                   \
    "A SYN or its SYN-ACK was lost and the kernel resent the SYN when its 1 s timer fired: loss " \
    "on the path, or a server whose SYN or accept queue was full for a moment.")                 \
  X(c_tcp_slow_handshake_fix,                                                                     \
    "Measure the loss: connscope doctor --repeat 20 {target}; on the server: connscope inspect "  \
    "--port {port} (ListenOverflows, SYN_RECV); on the path: connscope trace {endpoint}.")       \
  X(c_tcp_handshake_loss_summary,                                                                 \
    "{failed} of {attempts} handshakes to {endpoint} failed and {retransmitted} needed resent "   \
    "SYNs ({loss}% of SYNs lost)")                                                                \
  X(c_tcp_handshake_loss_cause,                                                                   \
    "SYNs or SYN-ACKs are lost now and then: loss on the path, or a server whose SYN or accept "  \
    "queue overflows in bursts (each costs the client a 1 s retransmission).")                   \
  X(c_tcp_handshake_loss_fix,                                                                     \
    "On the server: connscope inspect --port {port} (ListenOverflows, ListenDrops, SYN_RECV); "   \
    "on the path: connscope trace --cycles 20 {endpoint}.")                                       \
  X(c_tcp_reset_after_accept_summary, "{endpoint} accepted the connection, then reset it")        \
  X(c_tcp_reset_after_accept_cause,                                                               \
    "The handshake completed, then the server's side sent RST: the application rejects this "    \
    "client (an allow list, a connection limit), crashed, or closed with unread data; a full "    \
    "accept queue with net.ipv4.tcp_abort_on_overflow=1 resets too.")                            \
  X(c_tcp_reset_after_accept_fix,                                                                 \
    "Check the server's logs at this time; on the server: connscope inspect --port {port} "       \
    "(accept queue, ListenOverflows) and sysctl net.ipv4.tcp_abort_on_overflow (0 is right).")  \
  X(c_tcp_closed_after_accept_summary, "{endpoint} accepted the connection, then closed it without a word") \
  X(c_tcp_closed_after_accept_cause,                                                              \
    "The application closed (FIN) before answering: a connection limit, a deny list "             \
    "(tcpwrappers, fail2ban), or it expects another protocol first (for example TLS on this "     \
    "port).")                                                                                     \
  X(c_tcp_closed_after_accept_fix,                                                                \
    "Check the server's logs; try the other protocol (--tls or --no-tls); on the server: "        \
    "connscope inspect --port {port}.")                                                           \
  X(c_tls_not_tls_summary, "{endpoint} does not speak TLS: it answered with {reply}")             \
  X(c_tls_not_tls_cause,                                                                          \
    "The port serves plain text or another protocol, so no TLS handshake can start: the wrong "   \
    "port or scheme (https:// on a plain HTTP port), or TLS is terminated somewhere else.")     \
  X(c_tls_not_tls_fix,                                                                            \
    "Use the scheme the port serves (--no-tls, or http://), or enable TLS on this port in the "   \
    "server.")                                                                                    \
  X(c_tls_alert_summary, "the server ended the TLS handshake with alert {alert}")                 \
  X(c_tls_alert_cause,                                                                            \
    "The server refused the handshake: no protocol version or cipher in common "                  \
    "(handshake_failure, protocol_version), a name it does not serve (unrecognized_name), or a "  \
    "client certificate it requires (certificate_required).")                                     \
  X(c_tls_alert_fix,                                                                              \
    "See what it accepts: openssl s_client -connect {endpoint} -servername {sni} (add -tls1_2 or " \
    "-tls1_3); check the server's protocols, ciphers and server names.")                         \
  X(c_tls_cert_expired_summary, "the certificate for {subject} expired on {not_after}")           \
  X(c_tls_cert_expired_cause,                                                                     \
    "The certificate's validity ended: it was not renewed, or the renewed one was not deployed "  \
    "or the server not reloaded.")                                                                \
  X(c_tls_cert_expired_fix,                                                                       \
    "Renew it (certbot renew) and reload the server (nginx -s reload); check: openssl s_client "  \
    "-connect {endpoint} -servername {sni} </dev/null | openssl x509 -noout -dates.")           \
  X(c_tls_cert_not_yet_valid_summary, "the certificate for {subject} is not valid before {not_before}") \
  X(c_tls_cert_not_yet_valid_cause,                                                               \
    "The certificate starts in the future: this host's clock is behind, or it was issued with "   \
    "wrong dates.")                                                                               \
  X(c_tls_cert_not_yet_valid_fix, "Check this host's clock (timedatectl; chrony or NTP), then the certificate's dates.") \
  X(c_tls_cert_hostname_mismatch_summary, "the certificate is for {names}, not {sni}")           \
  X(c_tls_cert_hostname_mismatch_cause,                                                           \
    "The server presented a certificate for other names: the wrong virtual host or default "      \
    "certificate (SNI not matched), or a name or address the certificate does not list.")        \
  X(c_tls_cert_hostname_mismatch_fix,                                                             \
    "Connect with a name the certificate lists, or issue one whose subjectAltName includes "      \
    "{sni}; check the server's server_name / SNI configuration.")                                \
  X(c_tls_cert_untrusted_summary, "the certificate chain is not trusted here ({verify})")         \
  X(c_tls_cert_untrusted_cause,                                                                   \
    "The certificate is self-signed or signed by a private CA this host does not trust.")        \
  X(c_tls_cert_untrusted_fix,                                                                     \
    "Trust the CA for this check (--ca-file CA.pem) or system-wide (/usr/local/share/"            \
    "ca-certificates, then update-ca-certificates); public services need a publicly trusted "    \
    "certificate.")                                                                               \
  X(c_tls_chain_incomplete_summary, "the server sent its certificate without the intermediate ({verify})") \
  X(c_tls_chain_incomplete_cause,                                                                 \
    "The server's certificate file lacks the intermediate CA certificate: clients that have it "  \
    "cached work, the others fail.")                                                              \
  X(c_tls_chain_incomplete_fix,                                                                   \
    "Serve the full chain (nginx: ssl_certificate fullchain.pem; Apache 2.4.8+: the chain in "    \
    "SSLCertificateFile).")                                                                       \
  X(c_tls_old_protocol_summary, "the server negotiated {version}")                                \
  X(c_tls_old_protocol_cause,                                                                     \
    "TLS 1.0 and 1.1 are deprecated (RFC 8996): weak, and refused by current clients.")          \
  X(c_tls_old_protocol_fix, "Enable TLS 1.2 and 1.3 (nginx: ssl_protocols TLSv1.2 TLSv1.3;).")  \
  X(c_tls_cert_expiring_soon_summary, "the certificate for {subject} expires in {days} days ({not_after})") \
  X(c_tls_cert_expiring_soon_cause, "Certificates must be renewed before they expire; automated renewal may have stopped.") \
  X(c_tls_cert_expiring_soon_fix, "Renew it now (certbot renew --dry-run shows whether automation works) and reload the server.") \
  X(c_app_no_response_summary, "connected to {endpoint}, but nothing came back within {timeout}")  \
  X(c_app_no_response_cause,                                                                      \
    "The kernel completed the handshake but no application answered. A full accept queue on the " \
    "server looks exactly like this: the kernel queues the connection and nobody calls accept(). " \
    "So does a hung or overloaded server.")                                                       \
  X(c_app_no_response_fix,                                                                        \
    "On the server: connscope inspect --port {port} (is the accept queue full, ListenOverflows "  \
    "rising?); then the application's health (threads, event loop, CPU, logs).")                \
  X(c_app_http_5xx_summary, "HTTP {status} {reason} from {endpoint}")                             \
  X(c_app_http_5xx_cause,                                                                         \
    "The server, or a proxy in front of it, failed to handle the request: 500 an application "    \
    "error, 502 and 504 the proxy's upstream is down or slow, 503 overloaded or in maintenance.") \
  X(c_app_http_5xx_fix, "Read the application's and the proxy's error logs; for 502 and 504 check the upstream the proxy forwards to.") \
  X(c_app_http_4xx_summary, "HTTP {status} {reason} for {path}")                                  \
  X(c_app_http_4xx_cause,                                                                         \
    "The server refused this request: 404 no such path, 401 and 403 authentication or "          \
    "permission, 400 a malformed request, 429 rate limiting.")                                    \
  X(c_app_http_4xx_fix, "Check the path (--http-path) and the name the server expects (Host: {host}); its access log shows the request.") \
  X(c_app_slow_first_byte_summary, "the first byte of the reply came after {first_byte}")        \
  X(c_app_slow_first_byte_cause,                                                                  \
    "The connection was quick, the application was slow to answer: a slow handler, database or "  \
    "upstream, a cold cache, or overload.")                                                       \
  X(c_app_slow_first_byte_fix, "Profile the handler and what it waits on; compare with the connect time to rule out the network.") \
  X(c_app_unexpected_reply_summary, "{endpoint} answered with {reply}, which is not {protocol}") \
  X(c_app_unexpected_reply_cause,                                                                 \
    "Another service listens on this port than the one expected, or the protocol was guessed "   \
    "wrong from the port.")                                                                       \
  X(c_app_unexpected_reply_fix,                                                                   \
    "Name the protocol (--proto, or the URL scheme); on the server, ss -ltnp 'sport = :{port}' "  \
    "shows which program listens.")                                                               \
  X(c_app_error_reply_summary, "{endpoint} answered in {protocol} with an error: {reply}")        \
  X(c_app_error_reply_cause,                                                                      \
    "The service speaks its protocol but refuses: an access list (MySQL: host not allowed; "      \
    "PostgreSQL: pg_hba.conf), a connection limit, authentication required, or a service that "  \
    "is not ready.")                                                                              \
  X(c_app_error_reply_fix, "The reply names the reason: check the service's access rules, limits and logs.") \
  X(c_app_incomplete_reply_summary,                                                               \
    "{endpoint} began to answer but did not finish within {timeout} ({bytes_received} bytes)")   \
  X(c_app_incomplete_reply_cause,                                                                 \
    "The reply trickles in or stalls: an overloaded server or slow backend, or a path that loses " \
    "full-size packets (an MTU black hole stalls right after the small packets).")               \
  X(c_app_incomplete_reply_fix,                                                                   \
    "Retry with a longer --timeout; check the server's load and logs; if small replies work and " \
    "large ones stall, look for an MTU black hole on the path.")                                 \
  X(c_path_loss_summary, "{lost} of {sent} ICMP echo requests to {address} went unanswered")     \
  X(c_path_loss_cause,                                                                            \
    "Packets are lost on the path or at the host (congestion, a faulty link, a full queue), or "  \
    "a router or the host rate-limits ICMP, which loses echo replies but not TCP.")              \
  X(c_path_loss_fix,                                                                              \
    "Find where the loss starts: connscope trace --cycles 20 {address} (loss at one hop that "    \
    "does not continue to the later hops is rate-limiting, not loss); measure TCP itself with "   \
    "connscope doctor --repeat 20.")                                                              \
  X(c_path_mtu_blackhole_summary,                                                                 \
    "full-size packets from {endpoint} are lost: the {stalled} stalled while smaller segments "  \
    "after them arrived ({out_of_order} out of order), and got through with MSS {mss}")          \
  X(c_path_mtu_blackhole_cause,                                                                   \
    "A link on the path has a smaller MTU and the ICMP 'fragmentation needed' (IPv6: packet too " \
    "big) that should tell the sender is dropped by a firewall, so full-size packets vanish "     \
    "while small ones pass.")                                                                     \
  X(c_path_mtu_blackhole_fix,                                                                     \
    "Let ICMP type 3 code 4 (ICMPv6 type 2) through the firewalls on the path; meanwhile clamp "  \
    "the MSS on the router (nft: tcp flags syn tcp option maxseg size set rt mtu) or lower the "  \
    "interface MTU; sysctl -w net.ipv4.tcp_mtu_probing=1 lets hosts find out by themselves.")                               \
  X(help_doctor, "Why can't I connect? Walk DNS, route, reach, connect, TLS, the protocol and the close, and name the failing stage, its cause and its fix") \
  X(help_doctor_target, "host, host:port, [v6addr]:port, or a URL (http, https, ssh, smtp, smtps, redis, postgres, mysql, ftp)") \
  X(help_doctor_port, "The port (overrides the target's and the scheme's)")                       \
  X(help_doctor_v4, "IPv4 only")                                                                   \
  X(help_doctor_v6, "IPv6 only")                                                                   \
  X(help_doctor_resolver, "Ask this DNS server (IP[:PORT]) instead of the system's resolvers")    \
  X(help_doctor_proto, "The protocol to talk (banner, http, ssh, smtp, ftp, redis, postgres, mysql); default: from the scheme or the port") \
  X(help_doctor_http_path, "The HTTP request path; default: the URL's, or /")                      \
  X(help_doctor_repeat, "Make N handshakes to the address that answered: loss and latency statistics (1-1000)") \
  X(help_doctor_follow, "Follow HTTP redirects (up to 10): each Location gets a run of its own, the last one decides") \
  X(help_doctor_sni, "The TLS server name to send and verify; default: the target's name")       \
  X(help_doctor_tls, "Speak TLS first even when the scheme and port do not say so")             \
  X(help_doctor_no_tls, "Never speak TLS (for https:// or port 443 served in plain text)")      \
  X(help_doctor_ca_file, "Trust these CA certificates (PEM) instead of the system's")           \
  X(help_doctor_insecure, "Complete the TLS handshake even if verification fails (the failure is still reported, as a warning)") \
  X(doctor_no_port, "no port: give HOST:PORT, --port, or a URL whose scheme names one")          \
  X(doctor_verdict_warn, "WARN {stage}: {what}")                                                  \
  X(doctor_verdict_fail, "FAIL {stage}: {what}")                                                  \
  X(doctor_all_ok, "OK: {target} answered: every stage passed in {total}")                            \
  X(doctor_findings_title, "Findings")                                                           \
  CONNSCOPE_TRACE_MESSAGES(X)                                                                     \
  CONNSCOPE_PROBE_MESSAGES(X)                                                                     \
  CONNSCOPE_AGENT_MESSAGES(X)                                                                     \
  CONNSCOPE_DOCTOR_MESSAGES(X)                                                                    \
  CONNSCOPE_DOCTOR_LINE_MESSAGES(X)                                                               \
  CONNSCOPE_INPUT_MESSAGES(X)                                                                     \
  CONNSCOPE_WATCH_MESSAGES(X)                                                                     \
  CONNSCOPE_DASHBOARD_MESSAGES(X)                                                                 \
  CONNSCOPE_LOAD_MESSAGES(X)                                                                      \
  CONNSCOPE_ERROR_MESSAGES(X)                                                                     \
  CONNSCOPE_FINDING_MESSAGES(X)                                                                   \
  CONNSCOPE_AUDIT_MESSAGES(X)                                                                     \
  CONNSCOPE_SERVE_MESSAGES(X)                                                                     \
  CONNSCOPE_ICMP_MESSAGES(X)

// The plural messages of text.h itself: X(id, count, English singular, English plural).
#define CONNSCOPE_CORE_PLURALS(X)                                                                 \
  X(c_tcp_filtered_summary, syns,                                                                 \
    "{endpoint}: no answer to {syns} SYN within {timeout}",                                       \
    "{endpoint}: no answer to {syns} SYNs within {timeout}")                                      \
  X(c_tcp_slow_handshake_summary, retransmits,                                                    \
    "connected to {endpoint} after {retransmits} retransmitted SYN, in {time}",                   \
    "connected to {endpoint} after {retransmits} retransmitted SYNs, in {time}")

#define CONNSCOPE_PLURAL_MESSAGES(X)                                                              \
  CONNSCOPE_CORE_PLURALS(X)                                                                       \
  CONNSCOPE_TRACE_PLURALS(X)                                                                      \
  CONNSCOPE_DOCTOR_PLURALS(X)                                                                     \
  CONNSCOPE_DOCTOR_LINE_PLURALS(X)                                                                \
  CONNSCOPE_INPUT_PLURALS(X)

// Every message, the plural ones last (kPluralBegin).
enum class Msg {
#define CONNSCOPE_MSG_ENUM(id, en) id,
#define CONNSCOPE_PLURAL_ENUM(id, count, one, many) id,
  CONNSCOPE_MESSAGES(CONNSCOPE_MSG_ENUM)
  CONNSCOPE_PLURAL_MESSAGES(CONNSCOPE_PLURAL_ENUM)
#undef CONNSCOPE_PLURAL_ENUM
#undef CONNSCOPE_MSG_ENUM
};

// The first plural message: every id from here on has two English forms.
inline constexpr Msg kPluralBegin = [] {
  int n = 0;
#define CONNSCOPE_MSG_COUNT(id, en) ++n;
  CONNSCOPE_MESSAGES(CONNSCOPE_MSG_COUNT)
#undef CONNSCOPE_MSG_COUNT
  return static_cast<Msg>(n);
}();

constexpr bool is_plural(Msg id) { return static_cast<int>(id) >= static_cast<int>(kPluralBegin); }

// The message's id as written in the lists ("serve_listening"): the msgctxt of the catalogs.
std::string_view msg_id_name(Msg id);

// The placeholder name whose number picks a plural message's form ("syns"); empty otherwise.
std::string_view plural_count_name(Msg id);

// The English template of `id` for `n` (singular for 1, else the plural form).
std::string_view english_template(Msg id, unsigned long long n = 1);

// The English plural form of a plural message; empty for other messages.
std::string_view english_plural(Msg id);

// The template for `id` in `lang`; for a plural message, its singular form. A translation that
// is missing or empty gives the English.
std::string_view text_template(Lang lang, Msg id);

// The template of a plural message for the number `n`, by the language's plural rule (the
// catalog's Plural-Forms; English: singular for 1). A message that is not plural: its template.
std::string_view text_template(Lang lang, Msg id, unsigned long long n);

// A language from what a person or a locale variable names: "en", "en_US.UTF-8", "C", "POSIX",
// "zh", "zh-CN", "zh_CN", "zh_CN.UTF-8" (case-insensitive; encoding and @modifier ignored).
// Choosing among --lang and the environment: core/locale.h.
std::optional<Lang> lang_from_name(std::string_view name);

// The name --lang takes for a language: "en", "zh-CN".
std::string_view lang_name(Lang lang);

template <class... Args>
std::string tr(Lang lang, Msg id, Args&&... args) {
  assert(!is_plural(id) && "a plural message needs trn() and its number");
  return fmt::format(fmt::runtime(text_template(lang, id)), std::forward<Args>(args)...);
}

// A plural message: `n` picks the form (a placeholder of the template usually shows it too).
template <class... Args>
std::string trn(Lang lang, Msg id, unsigned long long n, Args&&... args) {
  return fmt::format(fmt::runtime(text_template(lang, id, n)), std::forward<Args>(args)...);
}

}  // namespace connscope
