#pragma once
// Findings that kernel events (connscope watch) make certain: per listener and per port, where the
// host-wide counters can only say "somewhere". Pure rules over one summary window's counts, with
// the thresholds in one struct; tests include the cases that must not fire.

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/text.h"
#include "rules/finding.h"
#include "rules/server_rules.h"

namespace connscope::rules {

// Who owns a listening port (from inspect's listener dump and owner scan).
struct ListenerOwner {
  pid_t pid = 0;
  std::string command;
};

// One listener's accept-queue overflows in the window, as the events named them.
struct ListenerOverflows {
  std::string listener;              // "0.0.0.0:80", "[::]:443"
  std::uint16_t port = 0;
  // SYNs and handshake ACKs the listener dropped because its accept queue was full (the
  // kernel counts both on the listener, sk_drops)
  std::uint64_t accept_overflows = 0;
  std::uint32_t backlog = 0;         // the queue at the last overflow, and its limit
  std::uint32_t max_backlog = 0;
  std::vector<PeerCount> peers;      // whose connections were dropped, most first
};

// Packets to one local port that the firewall (NETFILTER_DROP) dropped in the window.
struct PortDrops {
  std::uint16_t port = 0;
  std::uint64_t drops = 0;
  std::vector<PeerCount> peers;  // sources, most first
};

struct EventEvidence {
  double window_s = 1.0;                      // the counts are over this many seconds
  std::vector<ListenerOverflows> overflows;
  std::vector<PortDrops> firewall_drops;
  // Ports something listens on (TCP or UDP); a firewall drop to another port is not a finding.
  // Empty: not known, and host.firewall_drop does not fire.
  std::set<std::uint16_t> listening_ports;
  std::map<std::uint16_t, ListenerOwner> owners;  // by local port; optional
};

struct EventThresholds {
  static constexpr double kAcceptDropsPerSecond = 1.0;    // SYNs + ACKs dropped per listener
  static constexpr double kFirewallDropsPerSecond = 1.0;  // per listening port
  static constexpr std::size_t kPeersShown = 3;           // in the evidence and the summary
};

// Every finding, critical before warning, then by id.
std::vector<Finding> evaluate_events(const EventEvidence& e, Lang lang = Lang::en);

// The ids these rules can report: listen.accept_queue_full (shared with the server rules, its
// texts reused) and host.firewall_drop.
std::span<const std::string_view> event_finding_ids();

}  // namespace connscope::rules
