#include "rules/event_rules.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>

#include <fmt/format.h>

namespace connscope::rules {

namespace {

using T = EventThresholds;

constexpr std::array<std::string_view, 2> kIds{"listen.accept_queue_full", "host.firewall_drop"};

std::string per_second(double v) {
  return v >= 100 || v == std::floor(v) ? fmt::format("{:.0f}", v) : fmt::format("{:.1f}", v);
}

// "10.0.0.5 (40), 10.0.0.6 (3)": the first few, as the evidence and the summary quote them.
std::string peer_list(Lang lang, const std::vector<PeerCount>& peers) {
  std::string out;
  for (std::size_t i = 0; i < peers.size() && i < T::kPeersShown; ++i) {
    if (!out.empty()) out += ", ";
    out += fmt::format("{} ({})", peers[i].address, peers[i].count);
  }
  return out.empty() ? tr(lang, Msg::f_event_no_peers) : out;
}

const ListenerOwner* owner_of(const EventEvidence& e, std::uint16_t port) {
  const auto it = e.owners.find(port);
  return it == e.owners.end() ? nullptr : &it->second;
}

// "nginx (pid 4321)", as the fixes name the process.
std::string who_text(Lang lang, const ListenerOwner* owner) {
  return owner == nullptr ? tr(lang, Msg::f_unknown_owner) : fmt::format("{} (pid {})", owner->command, owner->pid);
}

void add_owner(Finding& f, const ListenerOwner* owner) {
  if (owner == nullptr) return;
  f.evidence["pid"] = std::to_string(owner->pid);
  f.evidence["command"] = owner->command;
}

void accept_queue_rules(const EventEvidence& e, Lang lang, std::vector<Finding>& out) {
  if (e.window_s <= 0) return;
  for (const auto& l : e.overflows) {
    const double rate = static_cast<double>(l.accept_overflows) / e.window_s;
    if (rate < T::kAcceptDropsPerSecond) continue;
    const ListenerOwner* owner = owner_of(e, l.port);
    Finding f;
    f.id = "listen.accept_queue_full";
    f.severity = Severity::critical;
    // "address", "port" and the queue keep the server rule's names, so history keys match.
    f.evidence = {{"address", l.listener},
                  {"listener", l.listener},
                  {"port", std::to_string(l.port)},
                  {"accept_queue", std::to_string(l.backlog)},
                  {"accept_queue_limit", std::to_string(l.max_backlog)},
                  {"drops_per_second", per_second(rate)},
                  {"accept_overflows", std::to_string(l.accept_overflows)},
                  {"window_s", per_second(e.window_s)},
                  {"peers", peer_list(lang, l.peers)}};
    add_owner(f, owner);
    const std::string suffix =
        owner == nullptr ? std::string()
                         : tr(lang, Msg::f_owner_suffix, fmt::arg("command", owner->command), fmt::arg("pid", owner->pid));
    const std::string who = who_text(lang, owner);
    f.summary = tr(lang, Msg::f_accept_queue_full_summary, fmt::arg("addr", l.listener), fmt::arg("queue", l.backlog),
                   fmt::arg("limit", l.max_backlog), fmt::arg("owner", suffix), fmt::arg("overflows", per_second(rate)));
    f.cause = tr(lang, Msg::f_accept_queue_full_cause);
    f.fix = tr(lang, Msg::f_accept_queue_full_fix, fmt::arg("who", who), fmt::arg("port", l.port));
    out.push_back(std::move(f));
  }
}

void firewall_rules(const EventEvidence& e, Lang lang, std::vector<Finding>& out) {
  if (e.window_s <= 0) return;
  for (const auto& d : e.firewall_drops) {
    if (!e.listening_ports.contains(d.port)) continue;
    const double rate = static_cast<double>(d.drops) / e.window_s;
    if (rate < T::kFirewallDropsPerSecond) continue;
    const ListenerOwner* owner = owner_of(e, d.port);
    Finding f;
    f.id = "host.firewall_drop";
    f.severity = Severity::warning;
    const std::string peers = peer_list(lang, d.peers);
    f.evidence = {{"port", std::to_string(d.port)},
                  {"drops", std::to_string(d.drops)},
                  {"drops_per_second", per_second(rate)},
                  {"window_s", per_second(e.window_s)},
                  {"peers", peers}};
    add_owner(f, owner);
    const std::string who = who_text(lang, owner);
    f.summary = tr(lang, Msg::f_firewall_drop_summary, fmt::arg("drops_per_second", per_second(rate)),
                   fmt::arg("port", d.port), fmt::arg("who", who), fmt::arg("peers", peers));
    f.cause = tr(lang, Msg::f_firewall_drop_cause);
    f.fix = tr(lang, Msg::f_firewall_drop_fix, fmt::arg("port", d.port));
    out.push_back(std::move(f));
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
