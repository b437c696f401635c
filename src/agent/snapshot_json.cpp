#include "agent/snapshot_json.h"

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
  j["cost"] = {{"cpu_ms", ms(s.cpu)}, {"wall_ms", ms(s.wall)}};
  return j;
}

json full_json(const FullSample& s) {
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
  j["findings"] = rules::findings_json(s.findings);
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
