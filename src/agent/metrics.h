#pragma once
// The agent's samples as Prometheus metric families (/metrics). Pure: the samples in, the
// families out; prometheus.h renders them. Every name has the `connscope_` prefix:
//   connscope_tcp_sockets{family,state}          gauge, the full tier's state distribution
//   connscope_tcp_sockets_in_use{family}         gauge, sockstat (every second)
//   connscope_tcp_time_wait, connscope_tcp_orphans, connscope_tcp_established_or_close_wait
//                                                 gauges, sockstat and Tcp.CurrEstab (every second)
//   connscope_listen_queue_length{listener}      gauge, connections waiting for accept()
//   connscope_listen_queue_limit{listener}       gauge, min(backlog, somaxconn)
//   connscope_kernel_<group>_<counter>_total     counters, every TCP counter the kernel keeps
//                                                 (TcpExt.ListenOverflows becomes
//                                                 connscope_kernel_tcp_ext_listen_overflows_total)
//   connscope_findings{id,severity}              gauge, 1 per finding the last full sample raised
//   connscope_sample_cpu_seconds{tier}           gauge, what the last sample of each tier cost
// With the BPF sampler (FastSample::kernel, every second):
//   connscope_tcp_census_sockets{state}          gauge, the exact state distribution (both families)
//   connscope_drops_total{reason,port,protocol}  counter; port is a listening TCP port or "other"
//   connscope_resets_total{direction}            counter, sent / received
//   connscope_retransmits_total{kind}            counter, data / synack
//   connscope_state_transitions_total{from,to}   counter, the transitions that happened
//   connscope_census_drift_sockets               gauge, |census - dump| at the last check

#include <string>
#include <string_view>
#include <vector>

#include "agent/fast_tier.h"
#include "agent/full_tier.h"
#include "agent/prometheus.h"

namespace connscope::agent {

// "TcpExt.ListenOverflows" -> "tcp_ext_listen_overflows"; "Tcp.RetransSegs" -> "tcp_retrans_segs";
// "Ip6.InReceives" -> "ip6_in_receives". Only [a-z0-9_] come out.
std::string snake_case_counter(std::string_view key);

// Either sample may be null (not taken yet): its families are then left out.
std::vector<prom::MetricFamily> metric_families(const FastSample* fast, const FullSample* full);

}  // namespace connscope::agent
