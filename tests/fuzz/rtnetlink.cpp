// rtnetlink replies: the RTM_GETROUTE and RTM_GETLINK answers the route stage reads
// (probe::parse_route_reply, parse_link_reply), on one datagram as the socket returns it.

#include <cstddef>
#include <cstdint>

#include "fuzz_check.h"
#include "probe/route.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace connscope;
  const auto datagram = fuzz::bytes(data, size);
  if (auto route = probe::parse_route_reply(datagram); route && route->kernel_error == 0) {
    (void)probe::route_type_name(route->type);
  }
  (void)probe::parse_link_reply(datagram);
  return 0;
}
