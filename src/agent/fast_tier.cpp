#include "agent/fast_tier.h"

#include <netinet/in.h>

#include <utility>

#include "agent/cpu_time.h"
#include "inspect/sock_diag.h"

namespace connscope::agent {

Result<FastSample> FastTier::sample() {
  owner_.check();
  const auto cpu0 = cpu_time(CLOCK_THREAD_CPUTIME_ID);
  const auto wall0 = std::chrono::steady_clock::now();
  FastSample s;
  s.time = std::chrono::system_clock::now();

  auto counters = sys::read_counters(proc_root_);
  if (!counters) return std::unexpected(counters.error());
  const auto at = std::chrono::steady_clock::now();
  if (previous_ && at > previous_at_) {
    auto rates = sys::compute_counter_rates(*previous_, *counters, at - previous_at_);
    if (rates) s.rates = std::move(*rates);
  }
  if (auto summary = sys::read_socket_summary(proc_root_)) s.sockstat = std::move(*summary);

  // LISTEN only, both families in one walk of the listening hash.
  sys::InetDiagRequest req;
  req.family = AF_UNSPEC;
  req.protocol = IPPROTO_TCP;
  req.states = sys::tcp_state_bit(inspect::tcp_state::kListen);
  inspect::Aggregator agg(nullptr);
  auto dumped = dumps_->dump(req, [&](std::span<const std::byte> msg) -> Result<void> {
    auto rec = inspect::parse_sock_diag_message(msg, IPPROTO_TCP);
    if (!rec) return std::unexpected(rec.error());
    agg.add_listener(*rec);
    return {};
  });
  if (!dumped) return std::unexpected(dumped.error());
  s.listeners = agg.finish().listeners;

  previous_ = *counters;
  previous_at_ = at;
  s.counters = std::move(*counters);
  s.cpu = cpu_time(CLOCK_THREAD_CPUTIME_ID) - cpu0;
  s.wall = std::chrono::steady_clock::now() - wall0;
  return s;
}

}  // namespace connscope::agent
