#pragma once
// The reach stage: ICMP echo (what `ping` does), a few probes with their loss and round-trip
// times, and the ICMP errors a router sent back instead of replies (DESIGN.md, "reach").
//
// The socket (a ping socket, else a raw socket, else unavailable: never "host down", and neither
// is silence, since many hosts and firewalls drop ICMP echo) and the packets are icmp_echo.h's.
//
// Timing: probe i (sequence i + 1) leaves at start + i × interval; each waits for its reply up to
// probe_timeout, and the whole stage never runs past its deadline. RTTs are measured with the
// steady clock from just before sendto to the wake-up that read the reply.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "probe/reach_result.h"

namespace connscope::probe {

// ---- the stage ----

// Sends the echo requests from the calling thread's network namespace (the socket is opened
// when the coroutine starts) and waits for replies on `ex`. Never throws for network or system
// errors: they are the outcome.
boost::asio::awaitable<ReachResult> reach(boost::asio::any_io_executor ex, ReachOptions options);

}  // namespace connscope::probe
