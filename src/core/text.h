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
  X(help_serve_demo_port, "First port of --demo; default 9601")

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
