#include "agent/full_tier.h"

#include <utility>

#include "agent/cpu_time.h"
#include "rules/inspect_findings.h"

namespace connscope::agent {

Result<FullSample> take_full_sample(sys::DumpSource& dumps, const FullTierOptions& options) {
  // The whole process's CPU time: the dump reads on a second thread while this one parses
  // (sys::SockDiagSocket's overlap), so this thread's clock alone would show half the cost.
  const auto cpu0 = cpu_time(CLOCK_PROCESS_CPUTIME_ID);
  const auto wall0 = std::chrono::steady_clock::now();
  FullSample s;
  s.time = std::chrono::system_clock::now();
  inspect::CollectOptions o;
  o.owners = options.owners;
  o.interval = std::chrono::nanoseconds(0);  // one sample: the fast tier keeps the rates
  o.first_proc = options.proc_root;
  o.second_proc = options.proc_root;
  auto collected = inspect::collect(dumps, o, options.lang, [](std::chrono::nanoseconds) {});
  if (!collected) return std::unexpected(collected.error());
  s.findings = rules::inspect_findings(*collected, options.lang);
  s.collected = std::move(*collected);
  s.cpu = cpu_time(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
  s.wall = std::chrono::steady_clock::now() - wall0;
  return s;
}

}  // namespace connscope::agent
