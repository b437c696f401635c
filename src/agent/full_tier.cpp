#include "agent/full_tier.h"

#include <time.h>

#include <utility>

#include "rules/inspect_findings.h"

namespace connscope::agent {

namespace {

// The whole process's CPU time: the dump reads on a second thread while this one parses
// (sys::SockDiagSocket's overlap), so this thread's clock alone would show half the cost.
std::chrono::nanoseconds process_cpu() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

}  // namespace

Result<FullSample> take_full_sample(sys::DumpSource& dumps, const FullTierOptions& options) {
  const auto cpu0 = process_cpu();
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
  s.cpu = process_cpu() - cpu0;
  s.wall = std::chrono::steady_clock::now() - wall0;
  return s;
}

}  // namespace connscope::agent
