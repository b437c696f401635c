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
  X(f_unknown_owner, "the owning process")

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
