#pragma once
// The kernel's own account of one connection to an address of this host, for `doctor`: while
// the doctor runs, the drop and reset tracers are attached, filtered in the kernel to the
// target's address and port; afterwards the events of the doctor's own connections (its local
// ports) are its evidence ("a firewall rule on this host dropped the SYN": NETFILTER_DROP).

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bpf/tracer.h"
#include "core/endpoint.h"
#include "core/error.h"
#include "watch/event.h"

namespace connscope::watch {

// Loopback, or an address of one of this host's interfaces (getifaddrs).
bool is_local_address(const Endpoint& address);

class ConnectionEvents {
 public:
  // Attaches the tracers (drops, resets sent and received) for connections to `targets` (the
  // addresses a name stands for, one port) in this network namespace. Errors: privilege, no BTF,
  // a refused program (callers say it as a note).
  static Result<ConnectionEvents> start(std::vector<Endpoint> targets);

  // The events so far that belong to connections from one of `local_ports` (all of the target's
  // when empty), oldest first.
  std::vector<Event> collect(std::span<const std::uint16_t> local_ports);

 private:
  ConnectionEvents(std::unique_ptr<bpf::Tracer> t, ReasonNames names, std::vector<Endpoint> targets)
      : tracer_(std::move(t)), names_(std::move(names)), targets_(std::move(targets)) {}
  [[nodiscard]] bool is_target(const std::optional<Endpoint>& e) const;
  std::unique_ptr<bpf::Tracer> tracer_;
  ReasonNames names_;
  std::vector<Endpoint> targets_;
};

// "drop NETFILTER_DROP ×3; reset_sent NO_SOCKET" — each kind and reason once, with its count,
// in the order first seen. Pure.
std::string events_summary(const std::vector<Event>& events);

}  // namespace connscope::watch
