#include "rules/inspect_findings.h"

#include <algorithm>
#include <charconv>
#include <string>

#include "rules/server_rules.h"

namespace connscope::rules {

using inspect::tcp_state::kSynRecv;

std::vector<Finding> inspect_findings(const inspect::Collected& c, Lang lang) {
  ServerEvidence e;
  e.interval_s = c.interval_s;
  e.rates = c.rule_rates;
  for (std::size_t i = 0; i < c.snapshot.listeners.size(); ++i) {
    const auto& l = c.snapshot.listeners[i];
    ListenerEvidence le;
    le.address = l.local.to_string();
    le.port = l.local.port;
    le.accept_queue = l.accept_queue;
    le.accept_queue_limit = l.accept_queue_limit;
    le.queue_full_at_first_sample = c.listener_full_at_first[i];
    le.syn_recv = static_cast<std::uint32_t>(l.syn_recv);
    if (l.owner != nullptr) {
      le.pid = l.owner->pid;
      le.command = l.owner->command;
      le.open_fds = l.owner->open_fds;
      le.nofile_soft = l.owner->nofile_soft;
    }
    e.listeners.push_back(std::move(le));
  }
  for (const auto& cw : c.snapshot.close_wait) {
    e.close_wait.push_back({cw.pid, cw.command, cw.port, cw.count, cw.persisting});
  }
  for (const auto& d : c.snapshot.time_wait_by_destination) e.time_wait_by_destination.push_back({d.address, d.count});
  for (const auto& d : c.snapshot.syn_recv_by_source) e.syn_recv_by_source.push_back({d.address, d.count});
  e.syn_recv_total = c.snapshot.total(kSynRecv);
  if (c.sockstat) e.orphans = static_cast<std::uint64_t>(std::max<std::int64_t>(0, c.sockstat->v4.tcp_orphan));
  auto sysctl_u64 = [&](const char* name) -> std::optional<std::uint64_t> {
    const auto it = c.sysctls.find(name);
    if (it == c.sysctls.end()) return std::nullopt;
    std::uint64_t v = 0;
    const auto& t = it->second;
    auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (ec != std::errc{} || ptr != t.data() + t.size()) return std::nullopt;
    return v;
  };
  e.max_orphans = sysctl_u64("net.ipv4.tcp_max_orphans");
  e.max_syn_backlog = sysctl_u64("net.ipv4.tcp_max_syn_backlog");
  if (auto cookies = sysctl_u64("net.ipv4.tcp_syncookies")) e.syncookies = *cookies != 0;
  if (c.local_port_range) {
    e.local_port_count = static_cast<std::uint64_t>(c.local_port_range->second) - c.local_port_range->first + 1;
  }
  return evaluate_server(e, lang);
}

}  // namespace connscope::rules
