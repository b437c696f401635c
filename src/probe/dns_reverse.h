#pragma once
// Reverse names (PTR) for the addresses a trace met, as `connscope trace` prints them.

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace connscope::probe {

// Reverse names (PTR) of `addresses` through c-ares (hosts file first, then DNS, as the system
// is configured), at most `deadline` in all. Blocking (the CLI calls it after the trace).
// Addresses without a name are left out of the map.
std::map<std::string, std::string> reverse_names(const std::vector<std::string>& addresses,
                                                 std::chrono::milliseconds deadline);

}  // namespace connscope::probe
