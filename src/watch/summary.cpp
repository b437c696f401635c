#include "watch/summary.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "core/display_width.h"
#include "core/duration.h"
#include "inspect/sock_diag.h"
#include "watch/ends.h"
#include "watch/format.h"

namespace connscope::watch {

namespace {

using nlohmann::json;

constexpr std::size_t kMaxListeners = 1024;
constexpr std::size_t kMaxFirewallPorts = 1024;
constexpr std::size_t kDefaultRows = 10;
constexpr std::size_t kMaxRows = 20;
constexpr std::size_t kLabelColumns = 52;
constexpr std::size_t kCountColumns = 12;

std::string port_label(std::uint16_t port) { return port == 0 ? std::string("-") : fmt::format(":{}", port); }

struct Row {
  std::string label;
  std::uint64_t window = 0;
  std::uint64_t total = 0;
};

struct Section {
  Msg title;
  std::vector<Row> rows;
};

// One row per key seen in the run, with its count in the last window and in total.
template <class Key, class Label>
std::vector<Row> rows_of(const BoundedCounts<Key>& window, const BoundedCounts<Key>& total, Label label) {
  std::vector<Row> rows;
  for (const auto& [key, n] : total.map()) rows.push_back({label(key), window.count(key), n});
  // A key can be in the window and not in a full total table.
  for (const auto& [key, n] : window.map()) {
    if (!total.map().contains(key)) rows.push_back({label(key), n, 0});
  }
  return rows;
}

void sort_rows(std::vector<Row>& rows) {
  std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    if (a.window != b.window) return a.window > b.window;
    if (a.total != b.total) return a.total > b.total;
    return a.label < b.label;
  });
}

std::vector<Section> sections_of(const Tally& w, const Tally& t) {
  std::vector<Section> out;
  out.push_back({Msg::watch_summary_transitions, rows_of(w.transitions, t.transitions, [](const TransitionKey& k) {
                   return fmt::format("{} → {}", k.from, k.to);
                 })});
  out.push_back({Msg::watch_summary_drops, rows_of(w.drops, t.drops, [](const DropKey& k) {
                   return fmt::format("{} {}", k.reason.empty() ? std::string("-") : k.reason, port_label(k.port));
                 })});
  out.push_back({Msg::watch_summary_resets_sent, rows_of(w.resets_sent, t.resets_sent, port_label)});
  out.push_back({Msg::watch_summary_resets_received, rows_of(w.resets_received, t.resets_received, port_label)});
  out.push_back({Msg::watch_summary_retransmits, rows_of(w.retransmits, t.retransmits, port_label)});
  out.push_back({Msg::watch_summary_peers, rows_of(w.peers, t.peers, [](const std::string& a) { return a; })});
  return out;
}

// How many rows each section shows: each takes a blank line and its header, and at least one row
// (even past the height); the lines left are dealt out one row at a time, so that one long section
// does not starve the others. Height 0: kDefaultRows each.
std::vector<std::size_t> fit_rows(const std::vector<Section>& sections, std::size_t height) {
  std::vector<std::size_t> rows(sections.size(), 0);
  if (height == 0) {
    for (std::size_t i = 0; i < sections.size(); ++i) rows[i] = std::min(sections[i].rows.size(), kDefaultRows);
    return rows;
  }
  const std::size_t fixed = 1 + 2 * sections.size();
  std::size_t left = height > fixed ? height - fixed : 0;
  for (std::size_t i = 0; i < sections.size(); ++i) {
    rows[i] = std::min<std::size_t>(sections[i].rows.size(), 1);
    left -= std::min(left, rows[i]);
  }
  for (bool dealt = true; dealt && left > 0;) {
    dealt = false;
    for (std::size_t i = 0; i < sections.size() && left > 0; ++i) {
      if (rows[i] < std::min(sections[i].rows.size(), kMaxRows)) {
        ++rows[i];
        --left;
        dealt = true;
      }
    }
  }
  return rows;
}

template <class Key, class Fill>
json counts_json(const BoundedCounts<Key>& c, Fill fill) {
  json a = json::array();
  for (const auto& [key, n] : c.sorted()) {
    json row;
    fill(row, key);
    row["count"] = n;
    a.push_back(std::move(row));
  }
  return a;
}

json port_json(std::uint16_t port) { return port == 0 ? json(nullptr) : json(port); }

json peers_json(const BoundedCounts<std::string>& peers) {
  return counts_json(peers, [](json& row, const std::string& a) { row["address"] = a; });
}

double seconds(std::chrono::nanoseconds d) { return std::chrono::duration<double>(d).count(); }

json tally_json(const Tally& t, std::chrono::nanoseconds length) {
  json j;
  j["seconds"] = seconds(length);
  j["events"] = t.events;
  j["lost"] = t.lost;
  j["missed"] = t.missed;
  j["transitions"] = counts_json(t.transitions, [](json& row, const TransitionKey& k) {
    row["from"] = k.from;
    row["to"] = k.to;
  });
  j["drops"] = counts_json(t.drops, [](json& row, const DropKey& k) {
    row["reason"] = k.reason.empty() ? json(nullptr) : json(k.reason);
    row["port"] = port_json(k.port);
  });
  auto by_port = [](json& row, std::uint16_t port) { row["port"] = port_json(port); };
  j["resets_sent"] = counts_json(t.resets_sent, by_port);
  j["resets_received"] = counts_json(t.resets_received, by_port);
  j["retransmits"] = counts_json(t.retransmits, by_port);
  j["peers"] = peers_json(t.peers);
  std::vector<std::pair<std::string, const ListenerTally*>> listeners;
  for (const auto& [name, l] : t.overflows) listeners.emplace_back(name, &l);
  std::stable_sort(listeners.begin(), listeners.end(),
                   [](const auto& a, const auto& b) { return a.second->total() > b.second->total(); });
  j["overflows"] = json::array();
  for (const auto& [name, l] : listeners) {
    j["overflows"].push_back({{"listener", name},
                              {"port", l->port},
                              {"accept_overflows", l->accept_overflows},
                              {"syn_queue_drops", l->syn_queue_drops},
                              {"backlog", l->backlog},
                              {"max_backlog", l->max_backlog},
                              {"count", l->total()},
                              {"peers", peers_json(l->peers)}});
  }
  // Events whose key did not fit a table (memory is bounded) are counted, not listed.
  json truncated = json::object();
  auto note = [&](const char* name, std::uint64_t n) {
    if (n > 0) truncated[name] = n;
  };
  note("transitions", t.transitions.other());
  note("drops", t.drops.other());
  note("resets_sent", t.resets_sent.other());
  note("resets_received", t.resets_received.other());
  note("retransmits", t.retransmits.other());
  note("peers", t.peers.other());
  j["truncated"] = truncated;
  return j;
}

std::vector<rules::PeerCount> top_peers(const BoundedCounts<std::string>& peers) {
  std::vector<rules::PeerCount> out;
  for (const auto& [address, n] : peers.sorted()) {
    if (out.size() >= rules::EventThresholds::kPeersShown) break;
    out.push_back({address, n});
  }
  return out;
}

}  // namespace

void Tally::count(EventKind kind, const std::string& reason, std::uint16_t port, const std::string& peer,
                  std::uint64_t n) {
  if (!peer.empty()) peers.add(peer, n);
  if (kind == EventKind::drop) {
    drops.add({reason, port}, n);
    if (reason == "NETFILTER_DROP" && port != 0 && !peer.empty() &&
        (firewall_sources.size() < kMaxFirewallPorts || firewall_sources.contains(port))) {
      firewall_sources.try_emplace(port, 256).first->second.add(peer, n);
    }
  } else if (kind == EventKind::reset_sent) {
    resets_sent.add(port, n);
  } else if (kind == EventKind::reset_received) {
    resets_received.add(port, n);
  } else if (kind == EventKind::retransmit || kind == EventKind::synack_retransmit) {
    retransmits.add(port, n);
  }
}

void Tally::add(const Event& e) {
  ++events;
  const std::uint16_t port = local_port(e);
  const std::string peer = remote_address(e);
  if (e.kind == EventKind::accept_overflow || e.kind == EventKind::syn_queue_drop) {
    if (!peer.empty()) peers.add(peer);
    const auto& local = local_end(e);
    const std::string name = local ? local->to_string() : std::string("-");
    if (overflows.size() >= kMaxListeners && !overflows.contains(name)) return;
    auto& l = overflows[name];
    l.port = port;
    if (e.kind == EventKind::syn_queue_drop) {
      l.syn_queue_drops += e.count;
    } else {
      l.accept_overflows += e.count;
    }
    l.backlog = e.backlog;
    l.max_backlog = e.max_backlog;
    if (!peer.empty()) l.peers.add(peer);
    return;
  }
  if (e.kind == EventKind::state) transitions.add({e.old_state, e.new_state});
  count(e.kind, e.reason, port, peer, 1);
}

void Summary::add(const Event& e) {
  current_.add(e);
  total_.add(e);
}

void Tally::add(const KernelCounted& k) {
  for (const auto& [key, n] : k.transitions) {
    events += n;
    transitions.add(key, n);
  }
  for (const auto& c : k.counts) {
    if (c.kind != EventKind::state) events += c.events;  // a state change is in the transitions
    count(c.kind, c.reason, c.port, c.peer, c.events);
  }
  for (std::uint32_t kind = CS_EV_STATE; kind < CS_EV_KIND_MAX; ++kind) {
    const std::uint64_t n = k.other[kind];
    if (n == 0) continue;
    const auto e = static_cast<EventKind>(kind - CS_EV_STATE);
    if (e != EventKind::state) events += n;
    peers.add_other(n);
    if (e == EventKind::drop) drops.add_other(n);
    if (e == EventKind::reset_sent) resets_sent.add_other(n);
    if (e == EventKind::reset_received) resets_received.add_other(n);
    if (e == EventKind::retransmit || e == EventKind::synack_retransmit) retransmits.add_other(n);
  }
}

void Summary::add(const KernelCounted& k) {
  current_.add(k);
  total_.add(k);
}

KernelCounted kernel_counted(const bpf::Aggregates& before, const bpf::Aggregates& now, const ReasonNames& names) {
  KernelCounted out;
  for (std::uint32_t i = 0; i < now.transitions.size(); ++i) {
    const auto n = now.transitions[i] - std::min(now.transitions[i], before.transitions[i]);
    if (n == 0) continue;
    out.transitions.push_back({{std::string(inspect::tcp_state_name(static_cast<int>(i / CS_TCP_STATES))),
                                std::string(inspect::tcp_state_name(static_cast<int>(i % CS_TCP_STATES)))},
                               n});
  }
  const auto bytes = [](const cs_match_key& k) {
    return std::string(reinterpret_cast<const char*>(&k), sizeof k);
  };
  std::map<std::string, std::uint64_t> was;
  for (const auto& c : before.counts) was[bytes(c.key)] = c.events;
  for (const auto& c : now.counts) {
    const auto it = was.find(bytes(c.key));
    const std::uint64_t prior = it == was.end() ? 0 : it->second;
    if (c.events <= prior || c.key.kind < CS_EV_STATE || c.key.kind >= CS_EV_KIND_MAX) continue;
    KernelCounted::Count k;
    k.kind = static_cast<EventKind>(c.key.kind - CS_EV_STATE);
    if ((c.key.flags & CS_F_HAS_REASON) != 0) k.reason = reason_name(names, k.kind, c.key.reason);
    k.port = c.key.port;
    k.peer = peer_address(address_text(c.key.family, c.key.peer));
    k.events = c.events - prior;
    out.counts.push_back(std::move(k));
  }
  for (std::size_t kind = 0; kind < out.other.size(); ++kind)
    out.other[kind] = now.other[kind] - std::min(now.other[kind], before.other[kind]);
  return out;
}

void Summary::add_lost(std::uint64_t n) {
  current_.lost += n;
  total_.lost += n;
}

void Summary::add_missed(std::uint64_t n) {
  current_.missed += n;
  total_.missed += n;
}

void Summary::roll(time_point now) {
  last_ = std::move(current_);
  current_ = Tally{};
  last_length_ = now - window_start_;
  window_start_ = now;
  last_roll_ = now;
}

std::string render_summary_text(const Summary& s, Lang lang, bool colour, std::size_t height) {
  const Tally& w = s.last_window();
  const Tally& t = s.total();
  const std::string window = format_elapsed(s.last_window_length());
  std::string out = paint(colour, "1",
                          tr(lang, Msg::watch_summary_title, fmt::arg("window", window), fmt::arg("events", w.events),
                             fmt::arg("missed", w.missed), fmt::arg("total_time", format_elapsed(s.total_length())),
                             fmt::arg("total_events", t.events), fmt::arg("total_missed", t.missed))) +
                    "\n";

  std::vector<Section> sections = sections_of(w, t);
  // Overflows: one row per listener, its drops of both queues.
  Section overflows{Msg::watch_summary_overflows, {}};
  for (const auto& [name, l] : t.overflows) {
    const auto it = w.overflows.find(name);
    overflows.rows.push_back({tr(lang, Msg::watch_summary_overflow_row, fmt::arg("listener", name),
                                 fmt::arg("backlog", l.backlog), fmt::arg("max_backlog", l.max_backlog)),
                              it == w.overflows.end() ? 0 : it->second.total(), l.total()});
  }
  // The most urgent section first.
  sections.insert(sections.begin(), std::move(overflows));
  std::erase_if(sections, [](const Section& x) { return x.rows.empty(); });
  if (sections.empty()) return out + "  " + tr(lang, Msg::watch_summary_empty) + "\n";

  const std::vector<std::size_t> rows = fit_rows(sections, height);
  const std::string col_window = tr(lang, Msg::watch_summary_col_window, fmt::arg("window", window));
  const std::string col_total = tr(lang, Msg::watch_summary_col_total);
  for (std::size_t i = 0; i < sections.size(); ++i) {
    auto& section = sections[i];
    sort_rows(section.rows);
    std::string title = tr(lang, section.title);
    // With more rows than fit, the header says how many were left out.
    if (rows[i] < section.rows.size()) {
      title += fmt::format(" {}", tr(lang, Msg::watch_summary_more, fmt::arg("count", section.rows.size() - rows[i])));
    }
    out += "\n";
    out += paint(colour, "1", pad_right(title, kLabelColumns + 2)) + pad_left(col_window, kCountColumns) +
           pad_left(col_total, kCountColumns) + "\n";
    for (std::size_t r = 0; r < rows[i]; ++r) {
      const Row& row = section.rows[r];
      out += "  " + pad_right(row.label, kLabelColumns) + pad_left(std::to_string(row.window), kCountColumns) +
             pad_left(std::to_string(row.total), kCountColumns) + "\n";
    }
  }
  return out;
}

json summary_json(const Summary& s) {
  return {{"window", tally_json(s.last_window(), s.last_window_length())},
          {"total", tally_json(s.total(), s.total_length())}};
}

rules::EventEvidence event_evidence(const Tally& window, std::chrono::nanoseconds length) {
  rules::EventEvidence e;
  e.window_s = seconds(length);
  for (const auto& [name, l] : window.overflows) {
    if (l.accept_overflows == 0) continue;
    e.overflows.push_back({name, l.port, l.accept_overflows, l.backlog, l.max_backlog, top_peers(l.peers)});
  }
  for (const auto& [key, n] : window.drops.map()) {
    if (key.reason != "NETFILTER_DROP" || key.port == 0) continue;
    rules::PortDrops d{key.port, n, {}};
    if (const auto it = window.firewall_sources.find(key.port); it != window.firewall_sources.end()) {
      d.peers = top_peers(it->second);
    }
    e.firewall_drops.push_back(std::move(d));
  }
  return e;
}

}  // namespace connscope::watch
