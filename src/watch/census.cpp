#include "watch/census.h"

#include <algorithm>

#include "sys/netlink.h"

namespace connscope::watch {

namespace {

using namespace inspect::tcp_state;

bool tracked(std::size_t state) { return state >= 1 && state <= 12 && state != kClose; }

}  // namespace

void count_socket(DumpCensus& into, const inspect::SocketRecord& record) {
  if (record.kind == inspect::SocketKind::time_wait) {
    ++into.time_wait;
  } else if (record.kind == inspect::SocketKind::request) {
    ++into.requests;
  } else if (record.state >= 1 && record.state <= 12) {
    ++into.full[static_cast<std::size_t>(record.state)];
  }
}

StateTotals census_view(const DumpCensus& c) {
  StateTotals out = c.full;
  out[kTimeWait] += c.time_wait;
  out[kSynRecv] += c.requests;
  out[kNewSynRecv] = 0;
  out[kClose] = 0;
  return out;
}

Census::Census(const DumpCensus& dump, const Transitions& at_dump, std::chrono::system_clock::time_point when,
               std::uint64_t missed)
    : current_(dump), last_(at_dump), requests_as_of_(when), missed_(missed), missed_at_dump_(missed) {}

void Census::advance(const Transitions& now, std::int64_t time_wait, std::uint64_t missed) {
  missed_ = std::max(missed_, missed);
  for (std::size_t from = 0; from < kTcpStates; ++from) {
    for (std::size_t to = 0; to < kTcpStates; ++to) {
      const std::size_t i = from * kTcpStates + to;
      // Counters only grow; one that went back (the programs were reloaded) adds nothing.
      const auto n = static_cast<std::int64_t>(now[i] >= last_[i] ? now[i] - last_[i] : 0);
      if (n == 0) continue;
      const bool birth = from == kClose || from == 0 || (from == kListen && to == kSynRecv);
      if (!birth && tracked(from)) current_.full[from] -= n;
      if (tracked(to)) current_.full[to] += n;
    }
  }
  last_ = now;
  current_.time_wait = time_wait;
}

std::vector<StateDrift> Census::check(const DumpCensus& dump, const Transitions& at_dump,
                                      std::chrono::system_clock::time_point when, std::uint64_t missed) {
  std::vector<StateDrift> drift;
  for (std::size_t s = 1; s <= 12; ++s) {
    if (!tracked(s) || current_.full[s] == dump.full[s]) continue;
    drift.push_back(StateDrift{static_cast<int>(s), current_.full[s], dump.full[s]});
  }
  current_ = dump;
  last_ = at_dump;
  requests_as_of_ = when;
  missed_ = std::max(missed_, missed);
  missed_at_dump_ = missed_;
  return drift;
}

}  // namespace connscope::watch

namespace connscope::watch {

Result<DumpCensus> dump_census(sys::DumpSource& dumps) {
  DumpCensus out;
  sys::InetDiagRequest req;
  req.family = AF_UNSPEC;
  // States 1-12: the dump's CLOSE sockets (bound, never connected) are not in the census.
  req.states = 0x1FFEu & ~sys::tcp_state_bit(kClose);
  auto r = dumps.dump(req, [&](std::span<const std::byte> m) -> Result<void> {
    auto rec = inspect::parse_sock_diag_message(m, IPPROTO_TCP);
    if (!rec) return std::unexpected(rec.error());
    count_socket(out, *rec);
    return {};
  });
  if (!r) return std::unexpected(r.error());
  return out;
}

}  // namespace connscope::watch
