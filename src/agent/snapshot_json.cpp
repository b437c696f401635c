#include "agent/snapshot_json.h"

#include <nlohmann/json.hpp>

#include "agent/history.h"
#include "inspect/sock_diag.h"
#include "rules/findings_json.h"

namespace connscope::agent {

namespace {

using nlohmann::json;

double ms(std::chrono::nanoseconds d) { return std::chrono::duration<double, std::milli>(d).count(); }

json states_json(const inspect::StateCounts& counts) {
  // 1-11 are the states ss shows; the Aggregator has already counted request sockets (12) as
  // SYN_RECV.
  json j = json::object();
  for (int st = 1; st <= 11; ++st) {
    j[std::string(inspect::tcp_state_name(st))] = counts[static_cast<std::size_t>(st)];
  }
  return j;
}

json drop_label_json(const DropLabel& l) {
  return {{"reason", l.reason}, {"port", l.port == "other" ? json(nullptr) : json(std::stoi(l.port))},
          {"protocol", l.protocol}};
}

json kernel_json(const KernelSample& k) {
  json j;
  json states = json::object();
  for (int st = 1; st <= 11; ++st) {
    states[std::string(inspect::tcp_state_name(st))] = k.states[static_cast<std::size_t>(st)];
  }
  j["states"] = states;
  j["requests_as_of_ms"] = unix_ms(k.requests_as_of);
  j["base"] = {{"exact", k.base_exact}, {"moved", k.base_moved}};
  const auto& t = k.totals;
  json drops = json::array();
  for (const auto& [label, count] : t.drops) {
    auto d = drop_label_json(label);
    d["count"] = count;
    drops.push_back(std::move(d));
  }
  json transitions = json::array();
  for (std::size_t i = 0; i < t.transitions.size(); ++i) {
    if (t.transitions[i] == 0) continue;
    transitions.push_back({{"from", transition_state_name(static_cast<int>(i / watch::kTcpStates))},
                           {"to", transition_state_name(static_cast<int>(i % watch::kTcpStates))},
                           {"count", t.transitions[i]}});
  }
  j["totals"] = {{"resets", {{"sent", t.resets_sent}, {"received", t.resets_received}}},
                 {"retransmits", {{"data", t.retransmits}, {"synack", t.synack_retransmits}}},
                 {"drops", drops},
                 {"transitions", transitions}};
  if (k.per_second) {
    const auto& r = *k.per_second;
    json rdrops = json::array();
    for (const auto& [label, v] : r.drops) {
      auto d = drop_label_json(label);
      d["rate"] = v;
      rdrops.push_back(std::move(d));
    }
    json rtrans = json::array();
    for (const auto& [ft, v] : r.transitions) {
      rtrans.push_back({{"from", transition_state_name(ft.first)}, {"to", transition_state_name(ft.second)}, {"rate", v}});
    }
    j["per_second"] = {{"resets", {{"sent", r.resets_sent}, {"received", r.resets_received}}},
                       {"retransmits", {{"data", r.retransmits}, {"synack", r.synack_retransmits}}},
                       {"drops", rdrops},
                       {"transitions", rtrans}};
  } else {
    j["per_second"] = nullptr;
  }
  if (k.last_check) {
    const auto& c = *k.last_check;
    json drift = json::array();
    for (const auto& d : c.drift) {
      drift.push_back({{"state", std::string(inspect::tcp_state_name(d.state))}, {"census", d.census}, {"dump", d.dump}});
    }
    j["check"] = {{"time_ms", unix_ms(c.time)}, {"exact", c.exact}, {"moved", c.moved},
                  {"drift", drift}, {"total_drift", c.total_drift()}};
  } else {
    j["check"] = nullptr;
  }
  return j;
}

}  // namespace

json fast_json(const FastSample& s) {
  json j;
  j["time_ms"] = unix_ms(s.time);
  if (s.sockstat) {
    const auto& v4 = s.sockstat->v4;
    j["sockstat"] = {{"tcp_inuse_v4", v4.tcp_inuse},
                     {"tcp_inuse_v6", s.sockstat->v6 ? json(s.sockstat->v6->tcp6_inuse) : json(nullptr)},
                     {"tcp_orphan", v4.tcp_orphan},
                     {"tcp_time_wait", v4.tcp_tw},
                     {"tcp_alloc", v4.tcp_alloc},
                     {"tcp_mem_pages", v4.tcp_mem_pages}};
  } else {
    j["sockstat"] = nullptr;
  }
  const auto estab = s.counters.find("Tcp.CurrEstab");
  j["curr_estab"] = estab == s.counters.end() ? json(nullptr) : json(estab->second);
  json rates = json::object();
  if (s.rates) {
    for (std::size_t i = 0; i < sys::kRateCounterCount; ++i) {
      const auto c = static_cast<sys::RateCounter>(i);
      const auto& r = (*s.rates)[c];
      rates[std::string(sys::rate_counter_key(c))] =
          r.status == sys::RateStatus::ok ? json(r.per_second) : json(nullptr);
    }
  }
  j["rates_per_second"] = rates;
  json listeners = json::array();
  for (const auto& l : s.listeners) {
    listeners.push_back({{"local", l.local.to_string()},
                         {"accept_queue", l.accept_queue},
                         {"accept_queue_limit", l.accept_queue_limit}});
  }
  j["listeners"] = listeners;
  j["kernel"] = s.kernel ? kernel_json(*s.kernel) : json(nullptr);
  j["cost"] = {{"cpu_ms", ms(s.cpu)}, {"wall_ms", ms(s.wall)}};
  return j;
}

json full_json(const FullSample& s, Lang lang) {
  const auto& snap = s.collected.snapshot;
  json j;
  j["time_ms"] = unix_ms(s.time);
  j["sockets"] = snap.sockets;
  j["states"] = {{"ipv4", states_json(snap.v4)}, {"ipv6", states_json(snap.v6)}};
  json listeners = json::array();
  for (const auto& l : snap.listeners) {
    listeners.push_back({{"local", l.local.to_string()},
                         {"accept_queue", l.accept_queue},
                         {"accept_queue_limit", l.accept_queue_limit},
                         {"syn_recv", l.syn_recv}});
  }
  j["listeners"] = listeners;
  json close_wait = json::array();
  for (const auto& c : snap.close_wait) {
    close_wait.push_back({{"port", c.port}, {"pid", c.pid == 0 ? json(nullptr) : json(c.pid)},
                          {"command", c.command.empty() ? json(nullptr) : json(c.command)},
                          {"count", c.count}});
  }
  j["close_wait"] = close_wait;
  j["findings"] = rules::findings_json(s.findings, lang);
  j["notes"] = s.collected.notes;
  j["cost"] = {{"cpu_ms", ms(s.cpu)}, {"wall_ms", ms(s.wall)}};
  return j;
}

json sampler_json(const SamplerInfo& s) {
  const bool reason = !s.bpf && !s.bpf_off_reason.empty();
  return {{"kind", s.kind},
          {"fast_interval_ms", s.fast_interval.count()},
          {"full_interval_ms", s.full_interval.count()},
          {"bpf", {{"enabled", s.bpf}, {"reason", reason ? json(s.bpf_off_reason) : json(nullptr)}}}};
}

}  // namespace connscope::agent
