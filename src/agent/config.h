#pragma once
// The agent's configuration: `connscope agent --config FILE`, a TOML file (read with toml++).
// Every setting has a default, so an empty file (or no file) is a valid configuration.
//
// ```toml
// # Where the console listens. Any address other than loopback requires the bearer token.
// # Port 0: the kernel picks one.
// listen = "127.0.0.1:9600"
// # History (SQLite) and the token live here.
// data_dir = "/var/lib/connscope"
// # Probe every listener of this machine (on its own address) as well as the targets below.
// probe_own_listeners = true
// # Defaults for the probes below that do not set their own, and for the own listeners.
// probe_interval = "30s"      # 1s .. 24h
// probe_timeout = "3s"        # per stage, as `doctor --timeout`; 1ms .. 1m, at most the interval
//
// [sampling]
// fast_interval = "1s"        # sockstat, counters, LISTEN-only dump: 100ms .. 1m
// full_interval = "10s"       # the full socket dump: fast_interval .. 1h
// full_cpu_budget = 1.25      # percent of a core the full dumps may use on average; a dump
//                             # that costs more stretches the wait after it. 0: no budget
// bpf = true                  # sample with eBPF when the privilege and BTF allow (--no-bpf: false)
// check_interval = "10m"      # with eBPF: the full dump that checks the census: 1s .. 24h
//
// [history]
// raw_retention = "1h"        # one row per fast sample: fast_interval .. 24h
// rollup_retention = "30d"    # one-minute rollups: raw_retention .. 3650d (87600h)
// listener_charted_after = "60s"  # a listener's queue series start once it has listened
//                             # this long (0s .. 24h), so short-lived listeners leave no names
// max_charted_listeners = 1024  # listeners with queue series at once, the oldest: 0 .. 100000
//
// [http]
// max_connections = 4096      # more are closed at once: 1 .. 1000000
// header_limit = 8192         # bytes; a longer request header gets 431: 1024 .. 65536
// request_deadline = "5s"     # a request header must be complete within it: 100ms .. 5m
// idle_timeout = "60s"        # a keep-alive connection may wait this long: 1s .. 1h
//
// [[probes]]
// target = "https://example.com/health"   # as `connscope doctor` takes it; needs a port
// interval = "30s"                         # optional: probe_interval
// timeout = "2s"                           # optional: probe_timeout
//
// [[probes]]
// target = "https://api.internal:8443/"   # mutual TLS: a client certificate to present
// ca_file = "/etc/connscope/internal-ca.pem"   # optional: trust these CAs only
// cert = "/etc/connscope/client.pem"           # optional, with key
// key = "/etc/connscope/client.key"
//
// [[probes]]
// target = "10.0.0.5:6379"
// ```
//
// Durations are strings as on the command line ("500ms", "30s", "1m", "2h", "30d"; core/
// duration.h), kept to the millisecond. Unknown keys and tables are errors, so that a typo is
// never silently ignored; so are values of the wrong type and out of range. Two probes of the
// same target are an error too. Every error names the file and the line:
//   agent.toml line 7: probes[2].interval "3x": unknown unit (use ns, us, ms, s, m, h or d)
// (Error::op is "agent.toml line 7", Error::detail the rest; array indexes count from 0, as in
// toml++ paths.)

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <sys/socket.h>

#include "core/endpoint.h"
#include "core/error.h"
#include "core/target.h"
#include "core/text.h"

namespace connscope::agent {

struct SamplingConfig {
  std::chrono::milliseconds fast_interval{1000};
  std::chrono::milliseconds full_interval{10'000};
  double full_cpu_budget_percent = 1.25;
  // With eBPF (bpf_sampler.h) the state distribution comes every second from the census, and
  // the full dump, which checks it, only every check_interval.
  bool bpf = true;
  std::chrono::milliseconds check_interval{600'000};
};

struct HistoryConfig {
  std::chrono::milliseconds raw_retention{3'600'000};
  std::chrono::milliseconds rollup_retention{30LL * 86'400'000};
  std::chrono::milliseconds listener_charted_after{60'000};
  std::size_t max_charted_listeners = 1024;
};

// The same fields as HttpLimits (http_server.h), kept apart so that reading a configuration
// does not compile Beast.
struct HttpConfig {
  std::size_t max_connections = 4096;
  std::size_t header_limit = 8 * 1024;
  std::chrono::milliseconds request_deadline{5000};
  std::chrono::milliseconds idle_timeout{60'000};
};

struct ProbeConfig {
  std::string target;  // as written: what `doctor` takes, and the name in metrics and JSON
  Target parsed;       // parse_target(target); its port is set
  std::chrono::milliseconds interval{30'000};  // resolved: the probe's or probe_interval
  std::chrono::milliseconds timeout{3000};    // resolved: the probe's or probe_timeout
  // TLS targets: the CAs to trust (ca_file, PEM) and a client certificate with its key (cert,
  // key: mutual TLS), loaded once when the file is read so that a wrong path is a config error.
  std::optional<std::string> ca_file;
  std::optional<std::string> cert;
  std::optional<std::string> key;
  int line = 0;  // where its [[probes]] table is, for later messages about it
};

struct AgentConfig {
  Endpoint listen{AF_INET, "127.0.0.1", 9600};
  std::string data_dir = "/var/lib/connscope";
  bool probe_own_listeners = true;
  std::chrono::milliseconds probe_interval{30'000};
  std::chrono::milliseconds probe_timeout{3000};
  SamplingConfig sampling;
  HistoryConfig history;
  HttpConfig http;
  std::vector<ProbeConfig> probes;  // in file order
};

// Pure: `file_name` is only used in errors. An empty text gives the defaults.
Result<AgentConfig> parse_config(std::string_view text, std::string_view file_name);

// Reads `path` (at most 1 MiB) and parses it; a file that cannot be read is an error with its
// errno, op `config <path>`.
Result<AgentConfig> load_config(const std::string& path);

// What `connscope agent` decides apart from the file (its flags; the language).
struct RunChoices {
  bool no_bpf = false;  // --no-bpf: the tiers even when eBPF could run
  bool owners = false;  // --owners
  Lang lang = Lang::en;
};

// The agent's options from a configuration (the command line's values already over the file's):
// listen address, sampling, HTTP limits, history retention, the probes. The data directory's
// files (history_file, token) are the caller's, who makes and locks the directory. Defined in
// config_options.cpp, apart, so that reading a configuration does not compile Beast.
struct AgentOptions;  // agent.h
AgentOptions agent_options(const AgentConfig& config, const RunChoices& choices);

}  // namespace connscope::agent
