#pragma once
// `connscope probe`'s messages, part of the catalog in text.h (same rules: fmt templates, one
// X(id, English) per message).

// clang-format off
#define CONNSCOPE_PROBE_MESSAGES(X)                                                               \
  X(help_probe, "Which of these endpoints answer? A TCP connect to each, thousands at once, with " \
    "its state (open, closed, filtered, unreachable, error) and the reason")                     \
  X(help_probe_targets, "host:port, [v6addr]:port, a URL, or HOST with --ports")                 \
  X(help_probe_file, "Read targets from FILE: one a line, # starts a comment, blank lines are skipped") \
  X(help_probe_ports, "Ports for the targets that name none, e.g. 1-1024,8080")                  \
  X(help_probe_concurrency, "Connects (and TLS/talk stages) in flight at most; default 1000, lowered to what the fd limit allows") \
  X(help_probe_rate, "Connects started per second at most (any 1 s window); default: no limit")  \
  X(help_probe_failed, "List only the endpoints that are not open")                              \
  X(help_probe_csv, "CSV: a header line, then one line per endpoint")                            \
  X(help_probe_tls, "TLS handshake on each open endpoint: version and the certificate's days to expiry") \
  X(help_probe_talk, "Speak the port's protocol on each open endpoint (doctor's talk stage)")   \
  X(help_probe_v4, "Names: connect to their IPv4 address")                                      \
  X(help_probe_v6, "Names: connect to their IPv6 address")                                      \
  X(help_probe_footer,                                                                           \
    "States: open (handshake done), closed (RST: conn-refused), filtered (no answer by --timeout:\n" \
    "no-response), unreachable (an ICMP error ended the handshake: port-unreachable,\n"          \
    "admin-prohibited, host-unreachable, with the router that sent it; or no route here), error\n" \
    "(a local failure or a name that did not resolve). Names are resolved once, before the\n"     \
    "connects; a name connects to its first address (-4/-6 choose the family).\n"               \
    "Exit status: 0 every endpoint open, 1 some are not, 2 usage error, 3 could not run.")      \
  X(probe_no_targets, "no targets: give TARGET..., -f FILE, or HOST --ports LIST")              \
  X(probe_no_port, "no port: give HOST:PORT, a URL, or --ports")                                 \
  X(probe_file_empty, "no targets in it")                                                        \
  X(probe_choose_one, "choose one")                                                              \
  X(probe_rate_range, "must be more than 0 (at most {max})")                                     \
  X(probe_tls_files_need_stage, "go with --tls or --talk")                                        \
  X(probe_concurrency_lowered,                                                                   \
    "--concurrency {wanted} lowered to {used}: the fd limit is {limit} and {open} are open")    \
  X(probe_fd_limit_too_low, "the fd limit ({limit}, {open} open) leaves no descriptor for a connect") \
  X(probe_summary,                                                                               \
    "{total} endpoints in {elapsed} ({rate}/s): {open} open, {closed} closed, {filtered} "       \
    "filtered, {unreachable} unreachable, {error} error")                                        \
  X(probe_backpressure,                                                                          \
    "the fd limit held back new connects {waits} times (back-pressure, not a failure)")          \
  X(probe_none_failed, "every endpoint is open")                                                 \
  X(probe_progress, "probe: {done}/{total} endpoints, {open} open, {elapsed}")                   \
  X(probe_col_endpoint, "ENDPOINT")                                                              \
  X(probe_col_state, "STATE")                                                                    \
  X(probe_col_reason, "REASON")                                                                  \
  X(probe_col_time, "TIME")                                                                      \
  X(probe_col_tls, "TLS")                                                                        \
  X(probe_col_talk, "TALK")                                                                      \
  X(probe_reason_icmp, "icmp {what} from {from}")                                                \
  X(probe_reason_errno, "{what}: {op} failed ({error})")                                         \
  X(probe_tls_days, "{version}, expires in {days} days")                                         \
  X(probe_no_name_address, "no {family} address")
// clang-format on
