#pragma once
// What `connscope serve` is asked to do: listeners, socket options, TLS and the behaviour.
// Parsing of the option values is pure and lives here so the CLI and tests share it.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/endpoint.h"
#include "core/error.h"

namespace connscope::serve {

enum class Mode {
  echo,                // echoes what it reads
  discard,             // reads and drops
  http,                // HTTP/1.1, every request answered with --http-status and a small body
  banner,              // sends a greeting line, then echoes (SSH/SMTP-like)
  never_accept,        // listens but never calls accept(): the accept queue fills
  reset_after_accept,  // accepts, then closes with SO_LINGER 0: the client sees RST
  close_after_accept,  // accepts, then closes normally: the client sees FIN
  slow_first_byte,     // HTTP, but the response starts only after --delay
  drip,                // one byte per --interval, endless
  garbage,             // random bytes on connect and after every read
  no_close,            // never closes after the peer's FIN: CLOSE_WAIT piles up
};

inline constexpr Mode kAllModes[] = {
    Mode::echo,         Mode::discard, Mode::http,        Mode::banner,
    Mode::never_accept, Mode::reset_after_accept,         Mode::close_after_accept,
    Mode::slow_first_byte,             Mode::drip,        Mode::garbage,
    Mode::no_close,
};

std::string_view mode_name(Mode m);

// What `--mode` accepts: a name, optionally with its argument after '=' ("banner=SSH-2.0-x",
// "slow-first-byte=2s"). The argument is returned for the caller to apply.
struct ModeSpec {
  Mode mode = Mode::echo;
  std::optional<std::string> argument;
};
Result<ModeSpec> parse_mode(std::string_view text);

struct Keepalive {
  std::chrono::seconds idle{};
  std::chrono::seconds interval{};
  int count = 0;
};
// "IDLE,INTVL,COUNT", durations as parse_duration reads them (bare numbers are seconds),
// each at least one second as the kernel counts them, COUNT from 1 to 127.
Result<Keepalive> parse_keepalive(std::string_view text);

struct Listener {
  Endpoint endpoint;
  Mode mode = Mode::echo;
};

struct TlsConfig {
  std::string cert_file;  // PEM chain; empty with self_signed
  std::string key_file;
  bool self_signed = false;
};

struct Options {
  std::vector<Listener> listeners;
  // A known-good server should not be the one dropping SYNs in a connection storm, so
  // build_options (serve/request.h) defaults this to net.core.somaxconn, the most the kernel
  // allows.
  int backlog = 4096;
  bool reuseport = false;
  int fastopen = 0;  // TCP Fast Open queue length; 0 leaves it off
  std::optional<Keepalive> keepalive;
  std::optional<TlsConfig> tls;
  unsigned http_status = 200;
  std::string http_location;  // sent as Location (redirects: --http-status 301 --http-location URL)
  std::string banner = "connscope serve ready";
  std::chrono::nanoseconds delay = std::chrono::seconds(2);     // slow-first-byte
  std::chrono::nanoseconds interval = std::chrono::seconds(1);  // drip
};

// HTTP status codes that may be sent: 100-599 except the 1xx informational ones, which
// would leave the client waiting for a final answer.
Result<unsigned> parse_http_status(std::string_view text);

}  // namespace connscope::serve
