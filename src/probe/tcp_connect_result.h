#pragma once
// The connect stage's options, attempts and status, without Asio: what rules/, the CLI's
// renderers and the agent include. The stage itself (connect_one, connect_all, and the reports
// that own a connected socket) is tcp_connect.h.

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/endpoint.h"
#include "probe/icmp_error.h"
#include "probe/stage.h"

namespace connscope::probe {

struct ConnectOptions {
  // Per address: an unanswered SYN is a verdict (filtered) after this, never after the kernel's
  // retries. Must be positive.
  std::chrono::milliseconds timeout{3000};
  // Bind to this numeric local address first (port chosen by the kernel at connect time, with
  // IP_BIND_ADDRESS_NO_PORT, so the four-tuple decides as for an unbound socket).
  std::optional<std::string> source;
  // TCP_MAXSEG before connect: the MSS we announce (the doctor's path-MTU retry uses a small
  // one). nullopt: the kernel's choice.
  std::optional<int> maxseg;
};

// One address tried. Plain data: the doctor turns it into evidence and findings.
struct ConnectAttempt {
  Endpoint remote;
  // The address and port the SYN left from; absent when connect() failed before choosing one.
  std::optional<Endpoint> local;
  ConnectFailure failure = ConnectFailure::other;
  // errno the attempt ended with: connect() itself, SO_ERROR, or the setup call named in
  // failed_op. 0 when connected and when our deadline passed (timed_out; `queued` may then still
  // hold an ICMP error the kernel kept as a soft one, and that decides `failure`).
  int error = 0;
  // The system call that failed, e.g. "connect", "bind 198.18.1.2", "setsockopt TCP_MAXSEG";
  // empty when connected or timed out.
  std::string failed_op;
  bool timed_out = false;  // our deadline passed with the handshake still in SYN_SENT
  // The handshake completed but the server reset the connection before connect() returned
  // (failure none, error ECONNRESET, no socket): the talk stage's tcp.reset_after_accept.
  bool reset_after_handshake = false;
  // The ICMP (or other) error the kernel queued for this socket, with its sender.
  std::optional<QueuedError> queued;
  // `queued` and `failure` come from the doctor's trace, not from our SYN: the SYN met silence,
  // a trace probe to the same port met the ICMP error (its sender limits the errors it sends).
  bool icmp_from_trace = false;
  // From connect() to the verdict (connected, failed, or the deadline).
  std::chrono::microseconds elapsed{0};
  // SYNs resent by the kernel (tcpi_total_retrans at the verdict); absent when no SYN was sent
  // (connect() failed at once) or tcp_info could not be read.
  std::optional<std::uint32_t> syn_retransmits;
  // From tcp_info once connected: the smoothed RTT (the handshake's sample) and the MSS we send.
  std::optional<std::chrono::microseconds> rtt;
  std::optional<std::uint32_t> snd_mss;

  [[nodiscard]] bool connected() const { return failure == ConnectFailure::none; }
  // SYNs that left this host: 0 when connect() failed before sending one.
  [[nodiscard]] std::uint32_t syns_sent() const {
    return syn_retransmits ? *syn_retransmits + 1 : 0;
  }
};

// A connected attempt needed retransmitted SYNs: the tcp.slow_handshake warning.
inline constexpr std::string_view kSlowHandshakeFinding = "tcp.slow_handshake";

// The stage status of a list of attempts: fail when none connected; warn when the one that
// connected needed retransmitted SYNs or another address failed; ok otherwise. An empty list
// is fail (nothing to connect to).
StageStatus connect_status(std::span<const ConnectAttempt> attempts);

}  // namespace connscope::probe
