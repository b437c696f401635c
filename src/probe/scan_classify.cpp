#include "probe/scan.h"

// The pure verdicts of a scanned endpoint: its state and reason token from the connect's errno,
// timeout and queued ICMP, as the connect stage (tcp_connect.cpp) decides them.

#include <cerrno>
#include <utility>

namespace connscope::probe {

std::string_view scan_state_name(ScanState state) {
  switch (state) {
    case ScanState::open: return "open";
    case ScanState::closed: return "closed";
    case ScanState::filtered: return "filtered";
    case ScanState::unreachable: return "unreachable";
    case ScanState::error: return "error";
  }
  return "error";
}

ScanVerdict scan_verdict(int error, bool timed_out, const std::optional<QueuedError>& queued) {
  // The same decisions as connect_one (tcp_connect.cpp), in the same order.
  if (timed_out) return {classify_connect_error(ETIMEDOUT, queued), false};
  if (error == 0) return {ConnectFailure::none, false};
  if (error == ECONNRESET && !queued) return {ConnectFailure::none, true};
  return {classify_connect_error(error, queued), false};
}

ScanState scan_state(ConnectFailure failure) {
  switch (failure) {
    case ConnectFailure::none: return ScanState::open;
    case ConnectFailure::refused: return ScanState::closed;
    case ConnectFailure::filtered: return ScanState::filtered;
    case ConnectFailure::rejected_icmp:
    case ConnectFailure::admin_prohibited:
    case ConnectFailure::host_unreachable:
    case ConnectFailure::no_route: return ScanState::unreachable;
    case ConnectFailure::local_port_exhaustion:
    case ConnectFailure::other: return ScanState::error;
  }
  return ScanState::error;
}

std::string_view scan_reason(ConnectFailure failure, bool reset_after_handshake,
                             const std::optional<QueuedError>& queued) {
  if (failure == ConnectFailure::none) return reset_after_handshake ? "reset-after-handshake" : "syn-ack";
  // The ICMP message that decided it, when one did.
  if (queued && (queued->origin == ErrOrigin::icmp || queued->origin == ErrOrigin::icmp6) &&
      classify_icmp(queued->origin, queued->type, queued->code) == failure) {
    return icmp_reason_token(queued->origin, queued->type, queued->code);
  }
  switch (failure) {
    case ConnectFailure::refused: return "conn-refused";
    case ConnectFailure::filtered: return "no-response";
    case ConnectFailure::no_route: return "no-route";
    case ConnectFailure::admin_prohibited: return "local-firewall";
    case ConnectFailure::host_unreachable: return "host-unreachable";
    case ConnectFailure::rejected_icmp: return "port-unreachable";
    case ConnectFailure::local_port_exhaustion: return "local-port-exhaustion";
    case ConnectFailure::none:
    case ConnectFailure::other: return "error";
  }
  return "error";
}

ScanResult setup_failure(std::string op, int error) {
  ScanResult r;
  r.state = ScanState::error;
  r.failure = ConnectFailure::other;
  r.reason = "error";
  r.error = error;
  r.failed_op = std::move(op);
  return r;
}

}  // namespace connscope::probe
