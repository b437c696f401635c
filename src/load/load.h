#pragma once
// `connscope load`: a connection storm against one endpoint, and the fate of every connection
// (fate.h). One epoll loop on the calling thread, with the nonblocking connect, IP_RECVERR and
// classification of `probe` (probe/scan.h):
// - open loop (`rate`): connection i is due at start + i / rate. Its latency counts from when it
//   was due, not from when it left, so a server that stalls or a generator that fell behind
//   (every slot busy) shows in the figures instead of slowing the storm down (no coordinated
//   omission). How late the starts were is reported too.
// - closed loop (`connections`): that many in flight, each replaced as soon as it ends, until
//   `duration`.
// Mode `connect`: the handshake, then close (FIN, or RST with close = rst, which leaves no
// TIME_WAIT on this side). Connections still in flight at `duration` get until their timeout;
// a stop (stop_fd readable: Ctrl-C) ends at once with what finished so far.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/endpoint.h"
#include "core/error.h"
#include "load/fate.h"
#include "load/latency.h"

namespace connscope::load {

using Clock = std::chrono::steady_clock;

enum class CloseHow { fin, rst };

struct LoadOptions {
  Endpoint target;
  std::optional<double> rate;              // open loop: connections due per second (> 0)
  std::optional<std::size_t> connections;  // closed loop: kept in flight (>= 1)
  std::chrono::milliseconds duration{10'000};
  // Per connection, from when it left. The default 5 s sees SYNs resent at 1 s and 3 s.
  std::chrono::milliseconds timeout{5'000};
  // At most this many in flight (the descriptor limit: cmd_load sizes it), >= 1. In the open
  // loop, a due connection waits for a slot, and the wait counts in its latency.
  std::size_t max_in_flight = 1000;
  CloseHow close = CloseHow::fin;
  int stop_fd = -1;  // readable: stop now (a signalfd for SIGINT); -1: none
  // Called on the storm's thread about every progress_interval, and once at the end.
  std::function<void(const struct LoadProgress&)> progress;
  std::chrono::milliseconds progress_interval{1000};
};

struct LoadProgress {
  Clock::duration elapsed{};
  std::uint64_t started = 0;
  std::uint64_t connected = 0;  // connected and connected_after_retransmits
  std::uint64_t failed = 0;
  std::size_t in_flight = 0;
  double rate_last_second = 0;  // connections started in the last second
  std::array<std::uint64_t, kFateCount> by_fate{};
};

// One second of the storm, by when things happened in it.
struct LoadSecond {
  std::uint64_t started = 0;
  std::uint64_t connected = 0;  // at the first SYN or after retransmissions
  std::uint64_t retransmitted = 0;  // of those connected, the ones that needed SYN retransmissions
  std::uint64_t failed = 0;
  std::size_t max_in_flight = 0;
};

// Connections that ended alike: one row per fate and reason.
struct FateCount {
  Outcome outcome;
  std::uint64_t count = 0;
  int error = 0;  // the errno of the first one (local errors)
};

struct LoadReport {
  Clock::duration elapsed{};     // until the last connection ended (or the stop)
  Clock::duration start_span{};  // from the start to the last connection started
  bool interrupted = false;     // stopped by stop_fd
  std::uint64_t planned = 0;    // open loop: rate × duration; closed loop: 0 (not planned)
  std::uint64_t started = 0;    // socket() tried
  std::uint64_t finished = 0;   // a fate decided
  std::uint64_t unfinished = 0; // in flight at a stop
  std::vector<FateCount> fates; // most first
  // Connected after k SYN retransmissions → how many (k >= 1).
  std::map<std::uint32_t, std::uint64_t> syn_retransmits;
  LatencySummary connect;    // until connected, from when it was due (open loop) or started
  LatencySummary handshake;  // until connected, from connect()
  // Open loop: starts later than 10 ms after they were due (every slot was busy), and the latest.
  std::uint64_t late_starts = 0;
  std::chrono::microseconds max_start_lag{0};
  std::size_t max_in_flight = 0;
  std::vector<LoadSecond> timeline;  // second 0 .. the end

  [[nodiscard]] std::uint64_t count(Fate f) const;
  // Connections started per second over start_span (n starts span n - 1 intervals).
  [[nodiscard]] double start_rate() const;
};

// The storm. Errors only for what stops it from running at all (epoll, the stop fd); every
// connection's failure is a fate.
Result<LoadReport> run_load(const LoadOptions& options);

}  // namespace connscope::load
