#include "agent/kernel_sample.h"

#include <netinet/in.h>

#include <cstdlib>
#include <map>
#include <tuple>

#include "inspect/sock_diag.h"

namespace connscope::agent {

namespace {

using Key = std::tuple<std::uint32_t, std::uint16_t, std::uint16_t>;

Key key_of(const bpf::DropCount& d) { return {d.reason, d.port, d.protocol}; }

double rate(std::uint64_t before, std::uint64_t now, double seconds) {
  return now >= before ? static_cast<double>(now - before) / seconds : 0.0;
}

}  // namespace

std::int64_t CensusCheck::total_drift() const {
  std::int64_t sum = 0;
  for (const auto& d : drift) sum += std::llabs(d.census - d.dump);
  return sum;
}

std::string drop_protocol_name(std::uint16_t protocol) {
  switch (protocol) {
    case IPPROTO_TCP: return "tcp";
    case IPPROTO_UDP: return "udp";
    case IPPROTO_ICMP: return "icmp";
    case IPPROTO_ICMPV6: return "icmpv6";
    default: return "other";
  }
}

std::string transition_state_name(int state) {
  if (state == 12) return "NEW_SYN_RECV";
  if (state >= 1 && state <= 11) return std::string(inspect::tcp_state_name(state));
  return "STATE_" + std::to_string(state);
}

void accumulate_drops(DropTotals& totals, const std::vector<bpf::DropCount>& before,
                      const std::vector<bpf::DropCount>& now, const ReasonNames& names,
                      const std::set<std::uint16_t>& listening) {
  std::map<Key, std::uint64_t> was;
  for (const auto& d : before) was[key_of(d)] = d.count;
  for (const auto& d : now) {
    const auto it = was.find(key_of(d));
    const std::uint64_t prior = it == was.end() ? 0 : it->second;
    if (d.count <= prior) continue;
    DropLabel label;
    const auto name = names.find(d.reason);
    label.reason = name != names.end() ? name->second : "reason_" + std::to_string(d.reason);
    label.protocol = drop_protocol_name(d.protocol);
    const bool listened = d.protocol == IPPROTO_TCP && d.port != 0 && listening.contains(d.port);
    label.port = listened ? std::to_string(d.port) : "other";
    totals[label] += d.count - prior;
  }
}

KernelTotals kernel_totals(const bpf::KernelCounters& c, DropTotals drops) {
  KernelTotals t;
  t.resets_sent = c.totals[CS_C_RESET_SENT];
  t.resets_received = c.totals[CS_C_RESET_RECEIVED];
  t.retransmits = c.totals[CS_C_RETRANSMIT];
  t.synack_retransmits = c.totals[CS_C_SYNACK_RETRANSMIT];
  t.ring_lost = c.totals[CS_C_RING_LOST];
  static_assert(std::tuple_size_v<decltype(c.transitions)> == std::tuple_size_v<watch::Transitions>);
  for (std::size_t i = 0; i < t.transitions.size(); ++i) t.transitions[i] = c.transitions[i];
  t.drops = std::move(drops);
  return t;
}

KernelRates kernel_rates(const KernelTotals& before, const KernelTotals& now, double seconds) {
  KernelRates r;
  r.resets_sent = rate(before.resets_sent, now.resets_sent, seconds);
  r.resets_received = rate(before.resets_received, now.resets_received, seconds);
  r.retransmits = rate(before.retransmits, now.retransmits, seconds);
  r.synack_retransmits = rate(before.synack_retransmits, now.synack_retransmits, seconds);
  for (std::size_t i = 0; i < now.transitions.size(); ++i) {
    if (now.transitions[i] <= before.transitions[i]) continue;
    const int from = static_cast<int>(i / watch::kTcpStates);
    const int to = static_cast<int>(i % watch::kTcpStates);
    r.transitions[{from, to}] = rate(before.transitions[i], now.transitions[i], seconds);
  }
  for (const auto& [label, total] : now.drops) {
    const auto it = before.drops.find(label);
    const std::uint64_t prior = it == before.drops.end() ? 0 : it->second;
    if (total > prior) r.drops[label] = rate(prior, total, seconds);
  }
  return r;
}

std::uint64_t transitions_between(const watch::Transitions& before, const watch::Transitions& after) {
  std::uint64_t n = 0;
  for (std::size_t i = 0; i < after.size(); ++i) n += after[i] >= before[i] ? after[i] - before[i] : 0;
  return n;
}

}  // namespace connscope::agent
