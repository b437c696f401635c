#pragma once
// How the resolve stage sets up one c-ares channel (dns.cpp), apart from the Asio loop that
// drives it, so that the fuzz harness fuzz_dns_answer runs c-ares with the very same options
// (flags, timing, lookups, servers, search domains) on answers it makes up.

#include <ares.h>

#include <optional>
#include <string>

#include "core/endpoint.h"
#include "probe/dns_result.h"

namespace connscope::probe {

// One channel's settings.
struct ChannelConfig {
  std::string lookups;  // "f": hosts file only; "b": DNS only
  AresTiming timing{1000, 1};
  std::string resolv_conf;
  bool no_search = false;          // --resolver: exactly the name given
  std::optional<Endpoint> server;  // the only server asked
};

// ares_init_options with the stage's options, then the server. ARES_SUCCESS, or c-ares' status
// (*channel is then null or must still be destroyed by the caller: it is set whenever
// ares_init_options succeeded).
int init_channel(ares_channel* channel, const ChannelConfig& config, ares_sock_state_cb sock_state,
                 void* sock_state_data);

}  // namespace connscope::probe
