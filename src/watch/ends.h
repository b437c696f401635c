#pragma once
// Which end of an event is this host's: a socket's event carries (source = local, destination =
// remote); a packet's (drops, resets sent without a socket) is taken as addressed to this host, so
// its destination is the local end. Pure, header-only.

#include <optional>
#include <string>

#include "core/endpoint.h"
#include "watch/event.h"

namespace connscope::watch {

inline const std::optional<Endpoint>& local_end(const Event& e) {
  return e.packet ? e.destination : e.source;
}

inline const std::optional<Endpoint>& remote_end(const Event& e) {
  return e.packet ? e.source : e.destination;
}

inline std::uint16_t local_port(const Event& e) {
  const auto& l = local_end(e);
  return l ? l->port : 0;
}

// The remote address, or "" when there is none (a listener's own event has the unspecified
// address as its remote end, which peer_address() turns into "").
inline std::string peer_address(std::string address) {
  if (address == "0.0.0.0" || address == "::") return {};
  return address;
}

inline std::string remote_address(const Event& e) {
  const auto& r = remote_end(e);
  return r ? peer_address(r->address) : std::string();
}

}  // namespace connscope::watch
