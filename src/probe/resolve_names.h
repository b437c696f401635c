#pragma once
// `connscope probe`'s names: each resolved once, before any connect, a bounded number at a time.

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <sys/socket.h>

#include "probe/dns_result.h"

namespace connscope::probe {

// Where a name led: its first address, or why not.
struct NameResolution {
  std::optional<std::string> address;
  int family = AF_INET;
  std::string failure;  // dns_failure_name, or "no_address" for a name with none of the family
  std::string detail;   // the resolver's own words, when it failed
};

// Lookups in flight at most: enough to hide the resolvers' latency, few enough not to flood them.
inline constexpr std::size_t kResolveWorkers = 64;

// Resolves every name of `names` (distinct, in any order), at most kResolveWorkers at a time, on
// an io_context of its own; blocks the calling thread until all are done (each within `timeout`).
std::map<std::string, NameResolution> resolve_names(const std::vector<std::string>& names, DnsFamily family,
                                                    std::chrono::milliseconds timeout);

}  // namespace connscope::probe
