#pragma once
// An exact TCP state distribution every second at a cost that does not grow with the number of
// sockets: a census taken from one sock_diag dump, then kept by the kernel's transition counters
// (src/bpf: sock:inet_sock_set_state, from * 16 + to) and /proc/net/sockstat's TIME_WAIT gauge.
//
// What the tracepoint sees and what it does not:
// - a full socket's every change: CLOSE -> X is a birth (connect, listen), LISTEN -> SYN_RECV a
//   child of a listener (the listener stays), X -> CLOSE a death, anything else a move;
// - timewait minisockets are born without an event (the full socket goes to CLOSE): TIME_WAIT
//   is sockstat's "tw", which counts them all (also those in the FIN_WAIT2 substate that a dump
//   shows as FIN_WAIT2), so the census counts every timewait minisocket as TIME_WAIT;
// - request sockets (half-open connections, SYN_RECV in a dump) have no event at all: the census
//   carries the last dump's count, and says how old it is.
// Pure: no I/O.

#include <array>
#include <chrono>
#include <cstdint>
#include <vector>

#include "core/error.h"
#include "inspect/sock_diag.h"

namespace connscope::watch {

inline constexpr std::size_t kTcpStates = 16;  // the counters' index space (CS_TCP_STATES)
using Transitions = std::array<std::uint64_t, kTcpStates * kTcpStates>;
// Index by the kernel's state number (inspect::tcp_state::k*), 1..12.
using StateTotals = std::array<std::int64_t, 13>;

// A dump's sockets in the census's terms.
struct DumpCensus {
  StateTotals full{};              // full sockets by state
  std::int64_t time_wait = 0;      // timewait minisockets, whatever their substate
  std::int64_t requests = 0;       // request sockets (half-open)
};

// Adds one dumped socket.
void count_socket(DumpCensus& into, const inspect::SocketRecord& record);

// The census as a person reads it: TIME_WAIT = every timewait minisocket, SYN_RECV = full
// SYN_RECV sockets plus the request sockets of the last dump.
StateTotals census_view(const DumpCensus& c);

struct StateDrift {
  int state = 0;
  std::int64_t census = 0;
  std::int64_t dump = 0;
};

class Census {
 public:
  // `at_dump`: the transition counters read just before the dump (the dump then includes them);
  // `missed`: the state changes the kernel had skipped by then (bpf::KernelCounters::state_missed).
  Census(const DumpCensus& dump, const Transitions& at_dump, std::chrono::system_clock::time_point when,
         std::uint64_t missed = 0);

  // Applies the transitions since the last call and sockstat's TIME_WAIT, with the skipped count.
  void advance(const Transitions& now, std::int64_t time_wait, std::uint64_t missed = 0);

  // The kernel skips a tracepoint hit while the same program already runs on that CPU (an
  // interrupt inside it): such a state change is in no counter. Exact while none was skipped
  // since the last dump; otherwise up to missed_since_dump() transitions are unaccounted until
  // check() takes a fresh dump (so a caller re-dumps when this turns false).
  [[nodiscard]] bool exact() const { return missed_since_dump() == 0; }
  [[nodiscard]] std::uint64_t missed_since_dump() const { return missed_ - missed_at_dump_; }

  [[nodiscard]] const DumpCensus& current() const { return current_; }
  [[nodiscard]] StateTotals states() const { return census_view(current_); }
  // When the request sockets' count was last taken (the last dump).
  [[nodiscard]] std::chrono::system_clock::time_point requests_as_of() const { return requests_as_of_; }

  // A check against a fresh dump: the states where the census and the dump differ (timewait
  // and request sockets excluded: the first comes from sockstat, the second from the dump), and
  // then the dump becomes the census's new base.
  std::vector<StateDrift> check(const DumpCensus& dump, const Transitions& at_dump,
                                std::chrono::system_clock::time_point when, std::uint64_t missed = 0);

 private:
  DumpCensus current_;
  Transitions last_{};
  std::chrono::system_clock::time_point requests_as_of_;
  std::uint64_t missed_ = 0;
  std::uint64_t missed_at_dump_ = 0;
};

}  // namespace connscope::watch

namespace connscope::sys {
class DumpSource;
}

namespace connscope::watch {

// One dump of every TCP socket (states 1-12, both families in one walk) counted for the census.
Result<DumpCensus> dump_census(sys::DumpSource& dumps);

}  // namespace connscope::watch
