#pragma once
// One `inspect` run: two samples `interval` apart of the kernel counters and the listeners,
// one full socket dump streamed into the Aggregator, owners, the sysctls the rules need, and the
// notes on what could not be seen. Live or from a recording (--record DIR writes what --replay DIR reads back).

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/text.h"
#include "inspect/aggregate.h"
#include "inspect/owners.h"
#include "sys/netlink.h"
#include "sys/proc_counters.h"

namespace connscope::inspect {

struct CollectOptions {
  std::optional<std::uint16_t> port;  // only sockets with this local port (kernel bytecode)
  std::uint32_t states = sys::kAllTcpStates;  // which states the full dump lists
  std::optional<pid_t> pid;            // only sockets owned by this process
  bool listeners_only = false;         // LISTEN dumps only: walks just the listening hash
  bool owners = true;                  // scan /proc/<pid>/fd
  bool keep_sockets = false;           // --all: keep every matching socket
  std::chrono::nanoseconds interval = std::chrono::seconds(1);
  // Where the two samples' /proc files are read: "/proc" live, recording folders on replay.
  std::string first_proc = "/proc";
  std::string second_proc = "/proc";
  // When set, each sample's files are copied here first ("<dir>/first", "<dir>/second") and
  // read from the copy, so that a recording holds exactly what was read.
  std::string record_dir;
  // Replay: the owners recording instead of a /proc scan.
  std::optional<std::string> owner_records;
  bool is_replay = false;
};

struct Collected {
  std::optional<OwnerTable> owners;  // Snapshot's owner pointers point into this
  Snapshot snapshot;
  std::vector<SocketRecord> sockets;   // with keep_sockets
  std::vector<SocketRecord> udp_listeners;  // bound, unconnected UDP sockets (state CLOSE)
  std::vector<bool> listener_full_at_first;  // parallel to snapshot.listeners
  double interval_s = 0;               // 0: one sample, totals only
  std::chrono::nanoseconds interval{};  // the same, exact: what --record saves
  sys::Counters counters;              // the second sample
  std::optional<sys::CounterRates> rates;
  std::map<std::string, double> rule_rates;  // per second, by short name ("ListenOverflows")
  std::optional<sys::SocketSummary> sockstat;
  std::map<std::string, std::string> sysctls;  // what the rules read
  std::optional<std::pair<std::uint16_t, std::uint16_t>> local_port_range;  // ephemeral ports
  std::vector<std::string> notes;      // what could not be seen and why (privileges)
};

// `sleep` waits out the interval (live) or does nothing (replay).
Result<Collected> collect(sys::DumpSource& dumps, const CollectOptions& options, Lang lang,
                          const std::function<void(std::chrono::nanoseconds)>& sleep);

// "established", "syn-recv", "time-wait", "close-wait", "listen", ... (ss's names, also with
// '_' and upper case; "all", "connected", "synchronized" as in ss) -> a state mask.
Result<std::uint32_t> parse_state_filter(std::string_view text);

}  // namespace connscope::inspect
