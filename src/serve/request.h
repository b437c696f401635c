#pragma once
// `connscope serve`'s request as typed (every flag's text), and the checks and kernel reads that
// turn it into server Options: the default backlog from net.core.somaxconn, --port's IPv6
// listener only where the kernel has IPv6, the --demo block. The CLI parses flags into a
// ServeRequest and calls these; errors are usage errors with catalog details.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/exit_code.h"
#include "core/text.h"
#include "serve/options.h"

namespace connscope::serve {

struct ServeRequest {
  std::vector<std::string> listen;  // --listen ADDR:PORT, repeatable
  std::string port;                 // --port: every address of both families
  std::string mode = "echo";
  std::string backlog;  // empty: net.core.somaxconn
  bool reuseport = false;
  std::string fastopen;
  std::string keepalive;
  std::string tls_cert;
  std::string tls_key;
  bool tls_self_signed = false;
  std::string http_status;
  std::string http_location;
  std::optional<std::string> banner;
  std::string delay;
  std::string interval;
  bool demo = false;
  std::string demo_port = "9601";
};

// The Options the request asks for. Reads net.core.somaxconn (when --backlog is not given) and
// whether the kernel has IPv6 (for --port).
Result<Options> build_options(const ServeRequest& request);

// A failure of Server::create in the words an operator needs: who holds a busy port, or which
// privilege a low port lacks (reads /proc/net/tcp{,6} and /proc/<pid>/fd for the owner).
Error explain_open_error(Error e, const Options& o, Lang lang);

// Bad files and addresses are the user's input (usage); busy ports, privileges and limits are
// the machine's state (could not run).
ExitCode exit_for_open_error(const Error& e);

// Servers take the hard RLIMIT_NOFILE: the soft default is a select() relic, not a policy.
// Returns the soft limit before and after when it changed.
struct FdLimitRaise {
  std::uint64_t before = 0;
  std::uint64_t after = 0;
};
std::optional<FdLimitRaise> raise_fd_limit();

}  // namespace connscope::serve
