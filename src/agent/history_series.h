#pragma once
// What the agent keeps in its history: its samples as named series (history.h) and its findings
// as observations. Pure. The names are API (GET /api/v1/history, docs/json.md):
//   every fast sample (1 s):
//     tcp_in_use                       TCP sockets in use, both families (sockstat)
//     tcp_time_wait, tcp_orphans       sockstat
//     tcp_established_or_close_wait    Tcp.CurrEstab
//     rate{counter="TcpExt.ListenOverflows"}   per second, one per rate counter (sys::RateCounter)
//     listen_queue{listener="0.0.0.0:80"}, listen_queue_limit{listener="0.0.0.0:80"}
//       for the listeners a ListenerSeriesGate admits
//   every fast sample with the BPF sampler's part (FastSample::kernel):
//     tcp_sockets{state="ESTABLISHED"}  the census: exact, both families, the 11 states ss shows
//     drops{reason="NETFILTER_DROP"}    per second, every reason seen since the agent started
//     resets{direction="sent"|"received"}, retransmits{kind="data"|"synack"}   per second
//   every full sample (10 s), without the BPF sampler (with it, the census has them every second):
//     tcp_sockets{state="ESTABLISHED"}  both families summed, the 11 states ss shows
// A figure the sample does not have (no sockstat, a rate before the second sample) is left out.

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "agent/fast_tier.h"
#include "agent/full_tier.h"
#include "agent/history.h"
#include "rules/finding.h"

namespace connscope::agent {

// `name{label="value"}` with the value escaped as Prometheus does (\\, \", \n).
std::string series_name(std::string_view name, std::string_view label, std::string_view value);

// Which listeners get history series. Every series name is kept until its rollups expire (30
// days by default), so a host whose listeners come and go on ephemeral ports (test runners,
// passive FTP, RPC services) would pile up names in the store and in the writer's memory. A
// listener is charted once it has listened for `min_age`, and at most `max` at once, the oldest
// first, so that a long-lived service keeps its chart when many others come. /metrics and the
// live views show every listener; only the history is gated.
class ListenerSeriesGate {
 public:
  struct Options {
    std::chrono::milliseconds min_age{std::chrono::seconds(60)};
    std::size_t max = 1024;
  };
  explicit ListenerSeriesGate(Options o) : options_(o) {}

  // The listeners of one fast sample taken at `now`: a listener missing from it starts its
  // age again when it comes back.
  void update(const std::vector<inspect::ListenerRow>& listeners, HistoryTime now);
  [[nodiscard]] bool admits(const std::string& listener) const { return admitted_.contains(listener); }
  // Listeners old enough but left out because `max` were charted already (at the last update).
  [[nodiscard]] std::size_t over_limit() const { return over_limit_; }

 private:
  Options options_;
  std::unordered_map<std::string, HistoryTime> first_seen_;
  std::unordered_set<std::string> admitted_;
  std::size_t over_limit_ = 0;
};

std::vector<SeriesValue> fast_series(const FastSample& s, const ListenerSeriesGate& listeners);
std::vector<SeriesValue> full_series(const FullSample& s);

// One observation per finding. The key tells instances of one finding apart by what it is about
// (its listener, port, process or destination in the evidence), so that two listeners with full
// queues are two events.
std::vector<FindingObservation> finding_observations(const std::vector<rules::Finding>& findings);

HistoryTime history_time(std::chrono::system_clock::time_point t);

}  // namespace connscope::agent
