#pragma once
// Server-side rules: pure functions from what `inspect` measured to findings. No I/O; unit-tested
// on recorded evidence, including the cases that must not fire.

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/text.h"
#include "rules/finding.h"

namespace connscope::rules {

struct ListenerEvidence {
  std::string address;  // "0.0.0.0:80", "[::]:443"
  std::uint16_t port = 0;
  std::uint32_t accept_queue = 0;        // now
  std::uint32_t accept_queue_limit = 0;  // min(listen backlog, somaxconn)
  bool queue_full_at_first_sample = false;  // persistence: full at both samples
  std::uint32_t syn_recv = 0;
  std::optional<pid_t> pid;
  std::string command;
  std::optional<std::uint64_t> open_fds;
  std::optional<std::uint64_t> nofile_soft;
};

struct ProcessCount {
  pid_t pid = 0;
  std::string command;
  std::uint16_t port = 0;  // the local port the sockets share (0: several)
  std::uint64_t count = 0;
  // Of those, how many were still in CLOSE_WAIT at the second sample (the same sockets, by
  // cookie); nullopt with one sample. A leak persists; an application catching up drains.
  std::optional<std::uint64_t> persisting;
};

struct PeerCount {
  std::string address;  // remote address (and port for TIME_WAIT destinations: "10.0.0.5:5432")
  std::uint64_t count = 0;
};

struct ServerEvidence {
  double interval_s = 0;                 // between the two samples; 0: one sample, no rates
  std::map<std::string, double> rates;   // per second, by counter name ("ListenOverflows")
  std::vector<ListenerEvidence> listeners;
  std::vector<ProcessCount> close_wait;  // by owning process
  std::vector<PeerCount> time_wait_by_destination;
  std::vector<PeerCount> syn_recv_by_source;
  std::uint64_t syn_recv_total = 0;
  std::uint64_t orphans = 0;
  std::optional<std::uint64_t> max_orphans;      // net.ipv4.tcp_max_orphans
  std::optional<std::uint64_t> local_port_count; // size of net.ipv4.ip_local_port_range
  std::optional<std::uint64_t> max_syn_backlog;  // net.ipv4.tcp_max_syn_backlog
  std::optional<bool> syncookies;                // net.ipv4.tcp_syncookies != 0
};

// Every rule, in a stable order: critical before warning, then by id.
std::vector<Finding> evaluate_server(const ServerEvidence& e, Lang lang = Lang::en);

// The thresholds, in one place so docs/findings.md and the tests can quote them.
struct Thresholds {
  static constexpr double kOverflowRate = 1.0;          // ListenOverflows per second
  static constexpr double kQueueWarnFraction = 0.8;     // of the accept-queue limit
  static constexpr std::uint64_t kCloseWaitMin = 16;    // per process
  static constexpr double kTimeWaitWarnFraction = 0.2;  // of the local port range, per destination
  static constexpr double kTimeWaitCritFraction = 0.5;
  static constexpr double kOrphanWarnFraction = 0.5;    // of tcp_max_orphans
  static constexpr double kRetransWarnFraction = 0.02;  // RetransSegs / OutSegs
  static constexpr double kRetransMinRate = 10.0;       // segments per second, to ignore idle hosts
  static constexpr double kResetRate = 100.0;           // OutRsts per second
  static constexpr double kNofileWarnFraction = 0.8;    // open fds of the soft limit
  static constexpr double kSynRecvWarnFraction = 0.5;   // of tcp_max_syn_backlog
};

}  // namespace connscope::rules
