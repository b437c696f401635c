#include "agent/history_series.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "inspect/sock_diag.h"

namespace connscope::agent {

std::string series_name(std::string_view name, std::string_view label, std::string_view value) {
  std::string out(name);
  out += '{';
  out += label;
  out += "=\"";
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  out += "\"}";
  return out;
}

namespace {

// The BPF sampler's part: the exact states every second, and per second the drops by reason
// (every reason seen so far, 0 in a second without one, so that a chart comes back down), the
// resets by direction and the retransmits by kind.
void kernel_series(const KernelSample& k, std::vector<SeriesValue>& out) {
  for (int st = 1; st <= 11; ++st) {
    out.push_back({series_name("tcp_sockets", "state", inspect::tcp_state_name(st)),
                   static_cast<double>(k.states[static_cast<std::size_t>(st)])});
  }
  if (!k.per_second) return;
  const auto& r = *k.per_second;
  std::map<std::string, double> by_reason;
  for (const auto& [label, total] : k.totals.drops) by_reason[label.reason] += 0;
  for (const auto& [label, rate] : r.drops) by_reason[label.reason] += rate;
  for (const auto& [reason, rate] : by_reason) out.push_back({series_name("drops", "reason", reason), rate});
  out.push_back({series_name("resets", "direction", "sent"), r.resets_sent});
  out.push_back({series_name("resets", "direction", "received"), r.resets_received});
  out.push_back({series_name("retransmits", "kind", "data"), r.retransmits});
  out.push_back({series_name("retransmits", "kind", "synack"), r.synack_retransmits});
}

}  // namespace

void ListenerSeriesGate::update(const std::vector<inspect::ListenerRow>& listeners, HistoryTime now) {
  std::unordered_map<std::string, HistoryTime> seen;
  seen.reserve(listeners.size());
  for (const auto& l : listeners) {
    auto name = l.local.to_string();
    const auto it = first_seen_.find(name);
    seen.emplace(std::move(name), it == first_seen_.end() ? now : it->second);
  }
  first_seen_ = std::move(seen);
  std::vector<std::pair<HistoryTime, const std::string*>> old_enough;
  for (const auto& [name, since] : first_seen_) {
    if (now - since >= options_.min_age) old_enough.emplace_back(since, &name);
  }
  std::sort(old_enough.begin(), old_enough.end(),
            [](const auto& a, const auto& b) { return a.first != b.first ? a.first < b.first : *a.second < *b.second; });
  const std::size_t n = std::min(old_enough.size(), options_.max);
  over_limit_ = old_enough.size() - n;
  admitted_.clear();
  for (std::size_t i = 0; i < n; ++i) admitted_.insert(*old_enough[i].second);
}

std::vector<SeriesValue> fast_series(const FastSample& s, const ListenerSeriesGate& listeners) {
  std::vector<SeriesValue> out;
  out.reserve(4 + sys::kRateCounterCount + 2 * s.listeners.size());
  if (s.sockstat) {
    double in_use = static_cast<double>(s.sockstat->v4.tcp_inuse);
    if (s.sockstat->v6) in_use += static_cast<double>(s.sockstat->v6->tcp6_inuse);
    out.push_back({"tcp_in_use", in_use});
    out.push_back({"tcp_time_wait", static_cast<double>(s.sockstat->v4.tcp_tw)});
    out.push_back({"tcp_orphans", static_cast<double>(s.sockstat->v4.tcp_orphan)});
  }
  if (const auto it = s.counters.find("Tcp.CurrEstab"); it != s.counters.end()) {
    out.push_back({"tcp_established_or_close_wait", static_cast<double>(it->second)});
  }
  if (s.rates) {
    for (std::size_t i = 0; i < sys::kRateCounterCount; ++i) {
      const auto c = static_cast<sys::RateCounter>(i);
      const auto& r = (*s.rates)[c];
      if (r.status == sys::RateStatus::ok) {
        out.push_back({series_name("rate", "counter", sys::rate_counter_key(c)), r.per_second});
      }
    }
  }
  if (s.kernel) kernel_series(*s.kernel, out);
  for (const auto& l : s.listeners) {
    const std::string local = l.local.to_string();
    if (!listeners.admits(local)) continue;
    out.push_back({series_name("listen_queue", "listener", local), static_cast<double>(l.accept_queue)});
    out.push_back({series_name("listen_queue_limit", "listener", local),
                   static_cast<double>(l.accept_queue_limit)});
  }
  return out;
}

std::vector<SeriesValue> full_series(const FullSample& s) {
  std::vector<SeriesValue> out;
  const auto& snap = s.collected.snapshot;
  // 1-11: the states ss shows (the Aggregator counts request sockets as SYN_RECV).
  for (int st = 1; st <= 11; ++st) {
    out.push_back({series_name("tcp_sockets", "state", inspect::tcp_state_name(st)),
                   static_cast<double>(snap.total(st))});
  }
  return out;
}

std::vector<FindingObservation> finding_observations(const std::vector<rules::Finding>& findings) {
  std::vector<FindingObservation> out;
  out.reserve(findings.size());
  for (const auto& f : findings) {
    FindingObservation o;
    o.key = f.id;
    for (const char* about : {"listener", "address", "port", "pid", "destination"}) {
      if (const auto it = f.evidence.find(about); it != f.evidence.end()) {
        o.key += ' ';
        o.key += about;
        o.key += '=';
        o.key += it->second;
      }
    }
    o.finding_id = f.id;
    o.severity = std::string(rules::severity_name(f.severity));
    o.evidence_json = nlohmann::json(f.evidence).dump();
    out.push_back(std::move(o));
  }
  return out;
}

HistoryTime history_time(std::chrono::system_clock::time_point t) {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(t);
}

}  // namespace connscope::agent
