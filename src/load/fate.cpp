#include "load/fate.h"

#include <cerrno>

#include "probe/scan.h"
#include "probe/tcp_connect_result.h"

namespace connscope::load {

std::string_view fate_name(Fate fate) {
  switch (fate) {
    case Fate::connected: return "connected";
    case Fate::connected_retried: return "connected_after_retransmits";
    case Fate::reset: return "reset";
    case Fate::refused: return "refused";
    case Fate::icmp: return "icmp";
    case Fate::timed_out: return "timed_out";
    case Fate::local_ports: return "local_ports";
    case Fate::local_nofile: return "local_nofile";
    case Fate::local_error: return "local_error";
  }
  return "local_error";
}

Outcome classify(int error, bool timed_out, const std::optional<probe::QueuedError>& queued,
                 std::uint32_t syn_retransmits) {
  using probe::ConnectFailure;
  const auto v = probe::scan_verdict(error, timed_out, queued);
  Outcome o;
  o.failure = v.failure;
  o.reason = probe::scan_reason(v.failure, v.reset_after_handshake, queued);
  switch (v.failure) {
    case ConnectFailure::none:
      o.fate = v.reset_after_handshake ? Fate::reset
               : syn_retransmits > 0   ? Fate::connected_retried
                                       : Fate::connected;
      break;
    case ConnectFailure::refused: o.fate = Fate::refused; break;
    case ConnectFailure::filtered: o.fate = Fate::timed_out; break;
    case ConnectFailure::local_port_exhaustion: o.fate = Fate::local_ports; break;
    case ConnectFailure::rejected_icmp:
    case ConnectFailure::admin_prohibited:
    case ConnectFailure::host_unreachable:
    case ConnectFailure::no_route: {
      // An ICMP message decided it when the reason is the message's; else this host did.
      const bool from_icmp = queued && (queued->origin == probe::ErrOrigin::icmp ||
                                        queued->origin == probe::ErrOrigin::icmp6);
      o.fate = from_icmp ? Fate::icmp : Fate::local_error;
      break;
    }
    case ConnectFailure::other: o.fate = Fate::local_error; break;
  }
  return o;
}

Outcome classify_socket_error(int error) {
  Outcome o;
  o.failure = probe::ConnectFailure::other;
  const bool nofile = error == EMFILE || error == ENFILE;
  o.fate = nofile ? Fate::local_nofile : Fate::local_error;
  o.reason = nofile ? "no-descriptor" : "error";
  return o;
}

std::optional<std::string_view> fate_finding(const Outcome& o) {
  if (o.fate == Fate::connected) return std::nullopt;
  if (o.fate == Fate::connected_retried) return probe::kSlowHandshakeFinding;
  if (o.fate == Fate::reset) return "tcp.reset_after_accept";
  return probe::finding_id(o.failure);
}

}  // namespace connscope::load
