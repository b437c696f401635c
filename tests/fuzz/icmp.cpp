// ICMP errors and replies: the IP_RECVERR / IPV6_RECVERR control messages of recvmsg(MSG_ERRQUEUE)
// (probe::decode_error_control, decode_extended_err) that connect and trace decode, and the
// datagrams trace and reach match against their own probes (probe::match_packet,
// match_queued_error). The first byte picks the family and socket kind of the matcher.

#include <netinet/in.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "probe/icmp.h"
#include "probe/icmp_echo.h"
#include "probe/icmp_error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace connscope;
  using namespace connscope::probe;
  if (size < 1) return 0;
  const std::uint8_t selector = data[0];
  const auto rest = fuzz::bytes(data + 1, size - 1);

  // The error queue: a whole control buffer, and the payload alone.
  std::optional<QueuedError> queued;
  if (auto control = decode_error_control(rest); control && *control) queued = **control;
  if (auto decoded = decode_extended_err(rest)) {
    queued = *decoded;
    (void)describe_icmp(decoded->origin, decoded->type, decoded->code, decoded->offender);
    (void)icmp_evidence(decoded->origin, decoded->type, decoded->code);
    (void)icmp_reason_token(decoded->origin, decoded->type, decoded->code);
    (void)classify_connect_error(decoded->error, std::optional<QueuedError>(*decoded));
  }

  // The echo matcher of reach and trace.
  EchoMatcher matcher;
  matcher.family = (selector & 1) != 0 ? AF_INET6 : AF_INET;
  matcher.method = (selector & 2) != 0 ? ReachMethod::ping_socket : ReachMethod::raw_socket;
  matcher.identifier = 0x1234;
  matcher.destination = matcher.family == AF_INET ? "192.0.2.1" : "2001:db8::1";
  matcher.payload = {std::byte{'c'}, std::byte{'s'}, std::byte{0x01}, std::byte{0x02},
                     std::byte{0x03}, std::byte{0x04}, std::byte{0x05}, std::byte{0x06}};
  const std::optional<int> ttl = (selector & 4) != 0 ? std::optional<int>(64) : std::nullopt;
  (void)match_packet(matcher, rest, matcher.destination, ttl);
  if (queued) (void)match_queued_error(matcher, *queued, rest);
  return 0;
}
