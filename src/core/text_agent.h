#pragma once
// `connscope agent`'s messages, part of the catalog in text.h (same rules: fmt templates, one
// X(id, English) per message).

// clang-format off
#define CONNSCOPE_AGENT_MESSAGES(X)                                                                \
  X(help_agent, "Run the console: sample this machine's connections, keep their history, probe its listeners and the configured targets, and serve a live dashboard, a JSON API and Prometheus metrics over HTTP") \
  X(help_agent_config, "Read the configuration from this TOML file (listen, data dir, sampling, history, HTTP limits, probes: see docs/json.md); the options given here win") \
  X(help_agent_listen, "Listen on ADDR:PORT (default 127.0.0.1:9600); any non-loopback address requires the bearer token") \
  X(help_agent_data_dir, "Where the agent keeps its history (history.db) and token (default: /var/lib/connscope as root, else $XDG_STATE_HOME/connscope or ~/.local/state/connscope)") \
  X(help_agent_full_interval, "Without eBPF: how often the full socket dump runs (default 10s, longer when a dump costs more than its CPU budget; the one-second tier runs every second). With eBPF see --check-interval") \
  X(help_agent_no_bpf, "Sample by tiers without eBPF, even when the privilege and BTF allow it (by default the agent keeps an exact per-second state distribution and the kernel's drop, reset and retransmit counters with eBPF)") \
  X(help_agent_check_interval, "With eBPF: how often the full socket dump runs and checks the per-second census against the kernel (default 10m)") \
  X(agent_bpf_turned_off, "turned off (--no-bpf, or [sampling] bpf = false)") \
  X(agent_bpf_on, "connscope agent: eBPF sampling: exact TCP states every second, a full dump every {interval}") \
  X(agent_bpf_off, "connscope agent: eBPF sampling is off ({reason}); TCP states come with the full dump every {interval}") \
  X(help_agent_owners, "Look up the owning process of each socket in the full dump (a /proc scan: costly at scale)") \
  X(agent_listening, "connscope agent: dashboard on http://{address}/ (JSON API under /api/v1/, Prometheus metrics at /metrics); Ctrl-C or SIGTERM stops it") \
  X(agent_interval_too_short, "must be at least {min}")                                          \
  X(agent_token_created, "connscope agent: a bearer token was created in {path} (shown once): {token}") \
  X(agent_token_required, "connscope agent: {address} is not a loopback address: every request needs the token in {path} (a browser: open http://{address}/?token=TOKEN once)")
// clang-format on
