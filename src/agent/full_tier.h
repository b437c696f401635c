#pragma once
// The agent's slower tier (default every 10 s): one full sock_diag dump of both families (the
// state distribution, SYN_RECV per listener, CLOSE_WAIT by port), the kernel counters around
// it, and the findings `inspect` would report. At 200,000 sockets the dump costs about 0.2 s of
// CPU (docs/PERFORMANCE.md), which is why it is not done every second. Owners (a scan of every
// /proc/<pid>/fd) are off by default: they more than double the cost.

#include <chrono>
#include <vector>

#include "core/error.h"
#include "core/text.h"
#include "inspect/collect.h"
#include "rules/finding.h"
#include "sys/netlink.h"

namespace connscope::agent {

struct FullSample {
  std::chrono::system_clock::time_point time;
  inspect::Collected collected;  // one sample: totals, no rates (the fast tier has those)
  std::vector<rules::Finding> findings;
  // The process's CPU time during this sample: both threads of the dump, and whatever else the
  // process did meanwhile (the fast tier's ~1 ms a second, requests).
  std::chrono::nanoseconds cpu{};
  std::chrono::nanoseconds wall{};
};

struct FullTierOptions {
  bool owners = false;
  std::string proc_root = "/proc";
  Lang lang = Lang::en;
};

// One full sample. Blocks the calling thread for the dump: call it from a thread of its own,
// not the HTTP server's.
Result<FullSample> take_full_sample(sys::DumpSource& dumps, const FullTierOptions& options);

}  // namespace connscope::agent
