#pragma once
// The agent's one-second tier: what the kernel keeps counted, so that a sample costs O(1) plus
// O(listeners), never O(sockets). Per sample:
// - /proc/net/sockstat and sockstat6: TCP sockets in use, orphans, TIME_WAIT, allocated, memory;
// - /proc/net/snmp, netstat, snmp6: every counter, and the per-second rates of the ones inspect
//   reports (ListenOverflows, drops, retransmits, resets, ...) since the previous sample;
//   Tcp.CurrEstab (ESTABLISHED + CLOSE_WAIT) among them;
// - a LISTEN-only sock_diag dump (the kernel walks its listening hash only): every listener with
//   its accept queue and limit.
// The full state distribution (every state, both families, SYN_RECV per listener, findings) is
// the slower tier's: one full dump, see docs/ARCHITECTURE.md.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "agent/kernel_sample.h"
#include "core/error.h"
#include "core/thread_owner.h"
#include "inspect/aggregate.h"
#include "sys/netlink.h"
#include "sys/proc_counters.h"

namespace connscope::agent {

struct FastSample {
  std::chrono::system_clock::time_point time;  // when it was taken (wall clock, for history)
  std::optional<sys::SocketSummary> sockstat;  // absent when /proc/net/sockstat is unreadable
  sys::Counters counters;
  // Since the previous sample; absent for the first one.
  std::optional<sys::CounterRates> rates;
  // Owners are not looked up here (that is a /proc/<pid>/fd scan): `owner` stays null.
  std::vector<inspect::ListenerRow> listeners;
  // The BPF sampler's part (bpf_sampler.h): the exact state distribution and the kernel
  // programs' counters. Absent with the tiers.
  std::optional<KernelSample> kernel;
  // The sample's own cost: CPU time of the calling thread (user + system) and wall time.
  std::chrono::nanoseconds cpu{};
  std::chrono::nanoseconds wall{};
};

// Takes fast samples from `dumps` and the /proc files under `proc_root`. Keeps the previous
// sample's counters for the rates. Not thread-safe: the first thread to sample owns it (the
// agent's server thread; checked in debug builds).
class FastTier {
 public:
  explicit FastTier(sys::DumpSource& dumps, std::string proc_root = "/proc")
      : dumps_(&dumps), proc_root_(std::move(proc_root)) {}

  // An error when the counters or the LISTEN dump cannot be read (the sample is then skipped;
  // the next one computes its rates against the last good one).
  Result<FastSample> sample();

 private:
  sys::DumpSource* dumps_;
  std::string proc_root_;
  std::optional<sys::Counters> previous_;
  std::chrono::steady_clock::time_point previous_at_{};
  ThreadOwner owner_;
};

}  // namespace connscope::agent
