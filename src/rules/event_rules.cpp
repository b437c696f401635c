#include "rules/event_rules.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>

#include <fmt/format.h>

#include "rules/finding_text.h"

namespace connscope::rules {

namespace {

using T = EventThresholds;

constexpr std::array<std::string_view, 2> kIds{"listen.accept_queue_full", "host.firewall_drop"};

std::string per_second(double v) {
  return v >= 100 || v == std::floor(v) ? fmt::format("{:.0f}", v) : fmt::format("{:.1f}", v);
}

// "10.0.0.5 (40), 10.0.0.6 (3)": the first few, as the evidence and the summary quote them;
// the token "none" when none were recorded (the renderer says it in the reader's language).
std::string peer_list(const std::vector<PeerCount>& peers) {
  std::string out;
  for (std::size_t i = 0; i < peers.size() && i < T::kPeersShown; ++i) {
    if (!out.empty()) out += ", ";
    out += fmt::format("{} ({})", peers[i].address, peers[i].count);
  }
  return out.empty() ? "none" : out;
}

const ListenerOwner* owner_of(const EventEvidence& e, std::uint16_t port) {
  const auto it = e.owners.find(port);
  return it == e.owners.end() ? nullptr : &it->second;
}

void add_owner(Evidence& ev, const ListenerOwner* owner) {
  if (owner == nullptr) return;
  ev["pid"] = std::to_string(owner->pid);
  ev["command"] = owner->command;
}

void accept_queue_rules(const EventEvidence& e, Lang lang, std::vector<Finding>& out) {
  if (e.window_s <= 0) return;
  for (const auto& l : e.overflows) {
    const double rate = static_cast<double>(l.accept_overflows) / e.window_s;
    if (rate < T::kAcceptDropsPerSecond) continue;
    // "address", "port" and the queue keep the server rule's names, so history keys match.
    Evidence ev{{"address", l.listener},
                {"listener", l.listener},
                {"port", std::to_string(l.port)},
                {"accept_queue", std::to_string(l.backlog)},
                {"accept_queue_limit", std::to_string(l.max_backlog)},
                {"drops_per_second", per_second(rate)},
                {"accept_overflows", std::to_string(l.accept_overflows)},
                {"window_s", per_second(e.window_s)},
                {"peers", peer_list(l.peers)}};
    add_owner(ev, owner_of(e, l.port));
    out.push_back(make_finding("listen.accept_queue_full", Severity::critical, std::move(ev), lang));
  }
}

void firewall_rules(const EventEvidence& e, Lang lang, std::vector<Finding>& out) {
  if (e.window_s <= 0) return;
  for (const auto& d : e.firewall_drops) {
    if (!e.listening_ports.contains(d.port)) continue;
    const double rate = static_cast<double>(d.drops) / e.window_s;
    if (rate < T::kFirewallDropsPerSecond) continue;
    Evidence ev{{"port", std::to_string(d.port)},
                {"drops", std::to_string(d.drops)},
                {"drops_per_second", per_second(rate)},
                {"window_s", per_second(e.window_s)},
                {"peers", peer_list(d.peers)}};
    add_owner(ev, owner_of(e, d.port));
    out.push_back(make_finding("host.firewall_drop", Severity::warning, std::move(ev), lang));
  }
}

}  // namespace

std::vector<Finding> evaluate_events(const EventEvidence& e, Lang lang) {
  std::vector<Finding> out;
  accept_queue_rules(e, lang, out);
  firewall_rules(e, lang, out);
  std::stable_sort(out.begin(), out.end(), [](const Finding& a, const Finding& b) {
    if (a.severity != b.severity) return a.severity > b.severity;
    return a.id < b.id;
  });
  return out;
}

std::span<const std::string_view> event_finding_ids() { return kIds; }

}  // namespace connscope::rules
