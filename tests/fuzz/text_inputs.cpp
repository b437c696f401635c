// What a person types or a file holds: targets and URLs (core/target.h parse_target and the
// redirect resolution of the HTTP talk stage), endpoints and ports (core/endpoint.h), durations
// (core/duration.h), whole numbers (core/number.h), probe's port lists, targets and `-f` files
// (probe/scan_input.h), --resolver and the address literals the resolve stage skips DNS for
// (probe/dns.h). Every parser sees the whole input.

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/duration.h"
#include "core/endpoint.h"
#include "core/number.h"
#include "core/target.h"
#include "fuzz_check.h"
#include "probe/dns.h"
#include "probe/scan_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace connscope;
  const auto text = fuzz::text(data, size);

  if (auto target = parse_target(text)) {
    (void)target->http_host();
    (void)target->family();
    (void)target_protocol(*target, target->port.value_or(80));
    // A parsed target's parts read back as a target.
    if (auto again = parse_target(target->host)) (void)again->is_ip_literal();
  }
  if (auto base = parse_target("http://example.com:8080/a/b?c=d")) {
    (void)redirect_url(*base, text);
  }
  (void)parse_scheme(text);
  (void)parse_port(text, "--port");
  if (auto endpoint = parse_endpoint(text, "--listen", true)) {
    auto again = parse_endpoint(endpoint->to_string(), "--listen", true);
    fuzz::check(again.has_value() && *again == *endpoint, "endpoint round trip");
  }
  if (auto d = parse_duration(text, "--timeout")) (void)format_duration(*d);
  (void)parse_int(text, "--count", -1000, 1000000);
  if (auto resolver = probe::parse_resolver(text)) {
    fuzz::check(resolver->port != 0, "resolver port");
  }
  if (auto literal = probe::parse_address_literal(text)) {
    fuzz::check(literal->family == AF_INET || literal->family == AF_INET6, "literal family");
  }

  auto ports = probe::parse_port_list(text);
  if (ports) {
    for (const auto port : *ports) fuzz::check(port != 0, "port list has no port 0");
  }
  (void)probe::parse_scan_target(text);
  if (auto targets = probe::parse_targets_file(text, "targets.txt")) {
    const std::uint16_t some_ports[] = {22, 443};
    (void)probe::expand_targets(*targets, some_ports, "no port", "targets.txt");
    if (ports && ports->size() <= 64) (void)probe::expand_targets(*targets, *ports, "no port");
  }
  return 0;
}
