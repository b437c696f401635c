#pragma once
// What the BPF sampler (bpf_sampler.h) adds to each fast sample: the exact TCP state
// distribution the census keeps (watch/census.h), and the kernel programs' counters (resets,
// retransmits, drops by reason, state transitions) as running totals and per-second rates.
// Pure: counters in, a KernelSample out; unit-tested on recorded counters.
//
// Drops are labelled for people and for Prometheus with a bounded set of labels: the reason's
// name from the running kernel's BTF, the protocol ("tcp", "udp", "icmp", "icmpv6", "other"),
// and the port only when it is a TCP port something listens on (else "other": a drop to an
// ephemeral or closed port says nothing per port, and would make one series per peer port).
// Whether a port listens is decided when the drop is counted, and the totals are accumulated
// under that label, so every labelled total only grows (a Prometheus counter).

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "bpf/tracer.h"
#include "watch/census.h"

namespace connscope::agent {

struct DropLabel {
  std::string reason;    // the kernel's name, e.g. "NETFILTER_DROP"; "reason_<n>" when unnamed
  std::string port;      // a listening TCP port ("80"), else "other"
  std::string protocol;  // "tcp", "udp", "icmp", "icmpv6", "other"
  auto operator<=>(const DropLabel&) const = default;
};

// The drops counted so far, by label; only grows.
using DropTotals = std::map<DropLabel, std::uint64_t>;

// The resets, retransmits and transitions, as the kernel counts them (since the tracer started).
struct KernelTotals {
  std::uint64_t resets_sent = 0;
  std::uint64_t resets_received = 0;
  std::uint64_t retransmits = 0;         // data segments (tcp:tcp_retransmit_skb)
  std::uint64_t synack_retransmits = 0;  // SYN-ACKs (tcp:tcp_retransmit_synack)
  std::uint64_t ring_lost = 0;           // events lost from the ring (0 for the agent: no events)
  watch::Transitions transitions{};      // [from * 16 + to]
  DropTotals drops;
};

// Per second since the previous sample.
struct KernelRates {
  double resets_sent = 0;
  double resets_received = 0;
  double retransmits = 0;
  double synack_retransmits = 0;
  // Only the transitions and drops that happened: (from, to) -> per second.
  std::map<std::pair<int, int>, double> transitions;
  std::map<DropLabel, double> drops;
};

// The last check of the census against a full dump.
struct CensusCheck {
  std::chrono::system_clock::time_point time;
  std::vector<watch::StateDrift> drift;  // the states that differed (none: exact)
  // The dump was taken with no transition during it (the counters read before and after it were
  // equal); false: `moved` transitions happened during it and the check is within that much.
  bool exact = true;
  std::uint64_t moved = 0;
  // Sum of |census - dump| over the states.
  [[nodiscard]] std::int64_t total_drift() const;
};

struct KernelSample {
  // The exact state distribution, both families, indexed by the kernel's state number (1-11
  // meaningful; SYN_RECV includes the request sockets of the last full dump).
  watch::StateTotals states{};
  std::chrono::system_clock::time_point requests_as_of;  // when SYN_RECV's request sockets were counted
  // The census's base dump: exact when no transition happened during it; else `base_moved`
  // transitions did, and each state may be off by at most that many.
  bool base_exact = true;
  std::uint64_t base_moved = 0;
  KernelTotals totals;
  std::optional<KernelRates> per_second;  // absent for the first sample
  std::optional<CensusCheck> last_check;  // absent before the first check
};

// The drop reason names of the running kernel (KernelBtf::enum_names("skb_drop_reason",
// "SKB_DROP_REASON_")).
using ReasonNames = std::map<std::uint32_t, std::string>;

std::string drop_protocol_name(std::uint16_t protocol);

// A transition's state by the kernel's number, as the JSON and the metrics name it: the states
// of inspect::tcp_state_name, 12 "NEW_SYN_RECV", others "STATE_<n>".
std::string transition_state_name(int state);

// Adds the drops counted between `before` and `now` (the tracer's raw per-key counts) to
// `totals`, labelled with `listening` (the TCP ports listened on now). A key absent from
// `before` counts from 0; a count that went back adds nothing.
void accumulate_drops(DropTotals& totals, const std::vector<bpf::DropCount>& before,
                      const std::vector<bpf::DropCount>& now, const ReasonNames& names,
                      const std::set<std::uint16_t>& listening);

// The resets, retransmits and transitions of `counters`, with `drops` (the accumulated totals).
KernelTotals kernel_totals(const bpf::KernelCounters& counters, DropTotals drops);

// Per second between two totals `seconds` apart (> 0).
KernelRates kernel_rates(const KernelTotals& before, const KernelTotals& now, double seconds);

// How many transitions the two counter reads differ by (0: none happened between them).
std::uint64_t transitions_between(const watch::Transitions& before, const watch::Transitions& after);

}  // namespace connscope::agent
