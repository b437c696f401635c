// sock_diag replies: one netlink datagram walked as the live dump and the replay walk it
// (sys::walk_datagram), each message parsed by inspect::parse_sock_diag_message, as inspect
// and the agent's samplers do. The first byte picks the protocol the dump asked for.

#include <netinet/in.h>

#include <cstddef>
#include <cstdint>

#include "fuzz_check.h"
#include "inspect/sock_diag.h"
#include "sys/netlink.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace connscope;
  if (size < 1) return 0;
  const int protocol = (data[0] & 1) != 0 ? IPPROTO_UDP : IPPROTO_TCP;
  const auto datagram = fuzz::bytes(data + 1, size - 1);
  sys::DumpStats stats;
  bool done = false;
  const sys::MessageSink sink = [&](std::span<const std::byte> message) -> Result<void> {
    auto record = inspect::parse_sock_diag_message(message, protocol);
    if (!record) return {};
    (void)record->state_name();
    fuzz::check(record->family == AF_INET || record->family == AF_INET6, "family");
    fuzz::check(!record->local.address.empty() && !record->remote.address.empty(), "address");
    return {};
  };
  (void)sys::walk_datagram(datagram, "fuzz", false, 0, 0, sink, stats, done);
  // A single message as parse_sock_diag_message sees it from the exact-lookup path.
  (void)inspect::parse_sock_diag_message(datagram, protocol);
  return 0;
}
