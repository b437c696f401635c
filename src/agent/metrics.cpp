#include "agent/metrics.h"

#include <cctype>

#include "inspect/sock_diag.h"

namespace connscope::agent {

namespace {

using prom::Label;
using prom::MetricFamily;
using prom::MetricType;
using prom::Sample;

MetricFamily family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

double seconds(std::chrono::nanoseconds d) { return std::chrono::duration<double>(d).count(); }

// The BPF sampler's part: the census's states and the kernel programs' counters. Label sets are
// bounded: 11 states, the transitions that happened (at most 16 x 16), drops by the kernel's
// reasons x (listening TCP ports + "other") x 5 protocols, 2 directions, 2 kinds.
void kernel_families(const KernelSample& k, std::vector<MetricFamily>& out) {
  auto states = family("connscope_tcp_census_sockets",
                       "TCP sockets by state, both families, exact every second (eBPF census: a dump kept by the kernel's transition counters)",
                       MetricType::gauge);
  for (int st = 1; st <= 11; ++st) {
    states.samples.push_back(Sample{{Label{"state", std::string(inspect::tcp_state_name(st))}},
                                    static_cast<double>(k.states[static_cast<std::size_t>(st)])});
  }
  out.push_back(std::move(states));
  const auto& t = k.totals;
  auto drops = family("connscope_drops_total",
                      "Packets the kernel dropped, by drop reason, protocol and local port (a listening TCP port, else \"other\")",
                      MetricType::counter);
  for (const auto& [label, count] : t.drops) {
    drops.samples.push_back(Sample{{Label{"reason", label.reason}, Label{"port", label.port}, Label{"protocol", label.protocol}},
                                   static_cast<double>(count)});
  }
  out.push_back(std::move(drops));
  auto resets = family("connscope_resets_total", "TCP resets sent and received", MetricType::counter);
  resets.samples.push_back(Sample{{Label{"direction", "sent"}}, static_cast<double>(t.resets_sent)});
  resets.samples.push_back(Sample{{Label{"direction", "received"}}, static_cast<double>(t.resets_received)});
  out.push_back(std::move(resets));
  auto retrans = family("connscope_retransmits_total", "TCP retransmissions: data segments and SYN-ACKs",
                        MetricType::counter);
  retrans.samples.push_back(Sample{{Label{"kind", "data"}}, static_cast<double>(t.retransmits)});
  retrans.samples.push_back(Sample{{Label{"kind", "synack"}}, static_cast<double>(t.synack_retransmits)});
  out.push_back(std::move(retrans));
  auto trans = family("connscope_state_transitions_total", "TCP state changes, by old and new state",
                      MetricType::counter);
  for (std::size_t i = 0; i < t.transitions.size(); ++i) {
    if (t.transitions[i] == 0) continue;
    trans.samples.push_back(Sample{{Label{"from", transition_state_name(static_cast<int>(i / watch::kTcpStates))},
                                    Label{"to", transition_state_name(static_cast<int>(i % watch::kTcpStates))}},
                                   static_cast<double>(t.transitions[i])});
  }
  out.push_back(std::move(trans));
  if (k.last_check) {
    auto drift = family("connscope_census_drift_sockets",
                        "Sockets by which the census differed from the last checking dump, summed over states",
                        MetricType::gauge);
    drift.samples.push_back(Sample{{}, static_cast<double>(k.last_check->total_drift())});
    out.push_back(std::move(drift));
  }
}

}  // namespace

std::string snake_case_counter(std::string_view key) {
  std::string out;
  bool after_lower = false;
  for (char c : key) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isupper(u) != 0) {
      if (after_lower && !out.empty() && out.back() != '_') out += '_';
      out += static_cast<char>(std::tolower(u));
      after_lower = false;
    } else if (std::islower(u) != 0 || std::isdigit(u) != 0) {
      out += c;
      after_lower = true;
    } else {
      if (!out.empty() && out.back() != '_') out += '_';
      after_lower = false;
    }
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out;
}

std::vector<MetricFamily> metric_families(const FastSample* fast, const FullSample* full) {
  std::vector<MetricFamily> out;
  if (full != nullptr) {
    auto states = family("connscope_tcp_sockets",
                         "TCP sockets by address family and state (the full dump, every full interval)",
                         MetricType::gauge);
    const auto& snap = full->collected.snapshot;
    for (const auto& [fam, counts] : {std::pair{"ipv4", &snap.v4}, std::pair{"ipv6", &snap.v6}}) {
      for (int st = 1; st <= 11; ++st) {
        // 1-11: the Aggregator has already counted request sockets (12) as SYN_RECV.
        const double v = static_cast<double>((*counts)[static_cast<std::size_t>(st)]);
        states.samples.push_back(Sample{{Label{"family", fam}, Label{"state", std::string(inspect::tcp_state_name(st))}}, v});
      }
    }
    out.push_back(std::move(states));
    auto findings = family("connscope_findings", "Findings the last full sample raised (1 each), by id and severity",
                           MetricType::gauge);
    for (const auto& f : full->findings) {
      const Sample s{{Label{"id", f.id}, Label{"severity", std::string(rules::severity_name(f.severity))}}, 1};
      bool seen = false;
      for (auto& have : findings.samples) {
        if (have.labels[0].value == f.id && have.labels[1].value == s.labels[1].value) {
          have.value += 1;
          seen = true;
        }
      }
      if (!seen) findings.samples.push_back(s);
    }
    out.push_back(std::move(findings));
  }
  if (fast != nullptr) {
    if (fast->sockstat) {
      auto inuse = family("connscope_tcp_sockets_in_use",
                          "TCP sockets in the kernel's tables, not TIME_WAIT (/proc/net/sockstat, every second)",
                          MetricType::gauge);
      inuse.samples.push_back(Sample{{Label{"family", "ipv4"}}, static_cast<double>(fast->sockstat->v4.tcp_inuse)});
      if (fast->sockstat->v6) {
        inuse.samples.push_back(Sample{{Label{"family", "ipv6"}}, static_cast<double>(fast->sockstat->v6->tcp6_inuse)});
      }
      out.push_back(std::move(inuse));
      auto tw = family("connscope_tcp_time_wait", "TCP sockets in TIME_WAIT, both families (every second)", MetricType::gauge);
      tw.samples.push_back(Sample{{}, static_cast<double>(fast->sockstat->v4.tcp_tw)});
      out.push_back(std::move(tw));
      auto orphans = family("connscope_tcp_orphans",
                            "TCP sockets closed by their process and still closing (every second)", MetricType::gauge);
      orphans.samples.push_back(Sample{{}, static_cast<double>(fast->sockstat->v4.tcp_orphan)});
      out.push_back(std::move(orphans));
    }
    if (const auto it = fast->counters.find("Tcp.CurrEstab"); it != fast->counters.end()) {
      auto estab = family("connscope_tcp_established_or_close_wait",
                          "TCP connections in ESTABLISHED or CLOSE_WAIT (Tcp.CurrEstab, every second)", MetricType::gauge);
      estab.samples.push_back(Sample{{}, static_cast<double>(it->second)});
      out.push_back(std::move(estab));
    }
    auto qlen = family("connscope_listen_queue_length", "Connections waiting for accept() on each listener (every second)",
                       MetricType::gauge);
    auto qlim = family("connscope_listen_queue_limit",
                       "Accept queue limit of each listener: min(listen backlog, net.core.somaxconn)", MetricType::gauge);
    for (const auto& l : fast->listeners) {
      const std::string name = l.local.to_string();
      bool dup = false;
      for (const auto& s : qlen.samples) dup = dup || s.labels[0].value == name;
      if (dup) continue;  // SO_REUSEPORT groups: one row per address:port
      qlen.samples.push_back(Sample{{Label{"listener", name}}, static_cast<double>(l.accept_queue)});
      qlim.samples.push_back(Sample{{Label{"listener", name}}, static_cast<double>(l.accept_queue_limit)});
    }
    out.push_back(std::move(qlen));
    out.push_back(std::move(qlim));
    // Every TCP-related counter the kernel keeps, as it counts them (Prometheus computes rates).
    for (const auto& [key, value] : fast->counters) {
      if (value < 0) continue;  // gauges such as Tcp.RtoMin -1 are not counters
      const bool tcp = key.rfind("Tcp.", 0) == 0 || key.rfind("TcpExt.", 0) == 0;
      if (!tcp || key == "Tcp.CurrEstab" || key == "Tcp.MaxConn" || key.rfind("Tcp.Rto", 0) == 0) continue;
      auto c = family("connscope_kernel_" + snake_case_counter(key) + "_total", "The kernel's " + key + " counter",
                      MetricType::counter);
      c.samples.push_back(Sample{{}, static_cast<double>(value)});
      out.push_back(std::move(c));
    }
    if (fast->kernel) kernel_families(*fast->kernel, out);
    auto cost = family("connscope_sample_cpu_seconds", "CPU time the last sample of each tier cost", MetricType::gauge);
    cost.samples.push_back(Sample{{Label{"tier", "fast"}}, seconds(fast->cpu)});
    if (full != nullptr) cost.samples.push_back(Sample{{Label{"tier", "full"}}, seconds(full->cpu)});
    out.push_back(std::move(cost));
  }
  return out;
}

}  // namespace connscope::agent
