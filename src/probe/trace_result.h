#pragma once
// `connscope trace`'s options, results and pure analysis (hops, loss, verdict, path-MTU steps),
// without Asio: what rules/, the CLI's renderers and the agent include. The tracer itself,
// trace(), is trace.h.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/endpoint.h"
#include "core/error.h"
#include "probe/dns_reverse.h"  // reverse_names, which lived here
#include "probe/icmp_error.h"
#include "probe/reach_result.h"
#include "probe/stage.h"

namespace connscope::probe {

enum class TraceMode { tcp, udp, icmp };
std::string_view trace_mode_name(TraceMode mode);  // "tcp", "udp", "icmp"

// The UDP port tracepath and traceroute start at: nothing usually listens there.
inline constexpr std::uint16_t kTraceUdpPort = 33434;

struct TraceOptions {
  // Numeric address; the port is the TCP port (tcp), the UDP port (udp; 0: kTraceUdpPort),
  // unused for icmp.
  Endpoint destination;
  TraceMode mode = TraceMode::tcp;
  int first_ttl = 1;  // 1-255
  int max_hops = 30;  // the highest TTL sent, first_ttl-255
  int probes = 3;     // probes per hop in one cycle, 1-10
  int cycles = 1;     // mtr-style rounds of `probes` each, 1-1000
  std::chrono::milliseconds probe_timeout{3000};  // an unanswered probe is lost after this
  std::chrono::milliseconds interval{200};        // after a round's last probe, before the next
  std::chrono::milliseconds send_gap{10};         // between the probes of one round
  // The whole trace (path MTU included). nullopt: what the schedule needs (every round sent,
  // the last probe's timeout, the path-MTU probes) plus a second.
  std::optional<std::chrono::milliseconds> deadline;
  std::optional<std::string> source;  // bind to this numeric local address first
  bool path_mtu = false;
  std::uint16_t mtu_port = kTraceUdpPort;  // UDP port of the path-MTU probes
  // Called on the executor's thread after each round has been sent: (rounds sent, rounds).
  std::function<void(int, int)> on_round;
};

// What answered one probe.
enum class ProbeReply {
  time_exceeded,     // a router: ICMP time exceeded (TTL ran out there)
  unreachable,       // ICMP destination unreachable (but port) or another ICMP error: see type/code
  port_unreachable,  // ICMP port unreachable (from the destination: it was reached, udp)
  syn_ack,           // the destination accepted the connection (tcp: port open)
  rst,               // the destination reset the SYN (tcp: port closed)
  echo_reply,        // the destination answered the echo request (icmp)
  udp_reply,         // a datagram came back from the destination (udp: something listens)
  local_error,       // this host refused to send or route it (error holds the errno)
  timeout,           // nothing within probe_timeout (or the trace's deadline)
};
std::string_view probe_reply_name(ProbeReply reply);  // "time_exceeded", "syn_ack", ...
// Something came back: anything but timeout and local_error.
bool reply_answered(ProbeReply reply);

struct TraceProbe {
  int ttl = 0;
  int round = 0;  // 0-based
  ProbeReply reply = ProbeReply::timeout;
  std::optional<std::string> from;  // who answered (numeric); absent for timeout / local_error
  std::optional<std::chrono::microseconds> rtt;  // from send to the answer
  ErrOrigin origin = ErrOrigin::none;  // icmp / icmp6 when an ICMP error answered
  std::uint8_t icmp_type = 0;
  std::uint8_t icmp_code = 0;
  int error = 0;  // errno: local_error, or what the kernel made of the ICMP error

  friend bool operator==(const TraceProbe&, const TraceProbe&) = default;
};

struct HopStats {
  int sent = 0;
  int received = 0;  // probes that got any answer
  double loss_percent = 0.0;
  std::optional<std::chrono::microseconds> last, best, avg, worst, stdev;

  friend bool operator==(const HopStats&, const HopStats&) = default;
};

// What a hop's loss means, judged against the hops after it (analyze_loss).
enum class HopLoss {
  none,          // every probe answered
  rate_limited,  // lost here but not at a later hop: the router limits the ICMP errors it sends
                 // (or deprioritises them), the packets themselves went on
  path_loss,     // the loss continues at every later hop (or this is the destination)
  silent,        // no answer at all, but later hops answer: a router that sends no ICMP errors
  no_answer,     // no answer here nor at any later hop: where the path stops
};
std::string_view hop_loss_name(HopLoss loss);

struct TraceHop {
  int ttl = 0;
  // Who answered at this TTL, most answers first (more than one: load balancing).
  std::vector<std::string> responders;
  std::vector<TraceProbe> probes;  // in send order
  HopStats stats;
  HopLoss loss = HopLoss::none;
  bool destination = false;  // the destination answered a probe of this TTL

  friend bool operator==(const TraceHop&, const TraceHop&) = default;
};

enum class TraceVerdict {
  reached,      // the destination answered at hop `hop` (see `answer`)
  stopped,      // nothing answered after hop `hop` (0: not even the first hop answered)
  unreachable,  // hop `hop` (`reporter`; 0: this host) said the destination is unreachable
  error,        // the trace could not run (`error`)
};
std::string_view trace_verdict_name(TraceVerdict verdict);

// The pure verdict from the probes.
struct VerdictInfo {
  TraceVerdict verdict = TraceVerdict::stopped;
  int hop = 0;
  std::optional<std::string> reporter;  // reached: the destination; unreachable: who said so
  // reached: how the destination answered (syn_ack, rst, port_unreachable, echo_reply,
  // udp_reply); unreachable: unreachable or local_error, with the ICMP type/code or errno.
  ProbeReply answer = ProbeReply::timeout;
  ErrOrigin origin = ErrOrigin::none;
  std::uint8_t icmp_type = 0;
  std::uint8_t icmp_code = 0;
  int error = 0;

  friend bool operator==(const VerdictInfo&, const VerdictInfo&) = default;
};

// One step of the path-MTU search.
struct MtuStep {
  int size = 0;  // the IP packet's size (headers included)
  // port_unreachable / udp_reply from the destination: it got through; unreachable with type
  // 3/4 (v4) or 2 (v6): too big (info: the next-hop MTU); timeout; local_error (EMSGSIZE: this
  // host's own interface).
  ProbeReply reply = ProbeReply::timeout;
  std::optional<std::string> from;
  ErrOrigin origin = ErrOrigin::none;
  std::uint8_t icmp_type = 0;
  std::uint8_t icmp_code = 0;
  std::uint32_t next_hop_mtu = 0;
  int error = 0;

  friend bool operator==(const MtuStep&, const MtuStep&) = default;
};

enum class MtuOutcome {
  confirmed,    // a packet of `mtu` bytes reached the destination
  unconfirmed,  // the destination never answered: `mtu` is an upper bound
  error,        // the probe could not run (see PathMtu::error)
};
std::string_view mtu_outcome_name(MtuOutcome outcome);

struct PathMtu {
  MtuOutcome outcome = MtuOutcome::error;
  int mtu = 0;        // the path MTU found (confirmed) or the smallest size known (unconfirmed)
  int local_mtu = 0;  // the route's MTU here, where the search started
  // The router that reported the smallest next-hop MTU and its hop in the trace (0: not found
  // among the trace's responders); both absent when no router reported one (the local MTU is the
  // path's).
  std::optional<std::string> reporter;
  std::optional<int> hop;
  std::vector<MtuStep> steps;
  std::optional<Error> error;
};

struct TraceResult {
  TraceMode mode = TraceMode::tcp;
  Endpoint destination;  // as probed (canonical address; the port per mode)
  TraceVerdict verdict = TraceVerdict::error;
  VerdictInfo info;
  std::vector<TraceHop> hops;  // first_ttl up to the destination's hop or the last TTL sent
  int rounds = 0;              // rounds sent
  // icmp mode: the socket used (ping or raw); unavailable: see error.
  ReachMethod icmp_method = ReachMethod::unavailable;
  std::optional<PathMtu> path_mtu;
  // Why the trace could not run (verdict error).
  std::optional<Error> error;
  std::chrono::microseconds duration{0};

  // The highest hop that answered anything (0: none): what the doctor reports.
  [[nodiscard]] int last_responding_hop() const;
  // That hop's first responder, when there is one.
  [[nodiscard]] std::optional<std::string> last_responder() const;
};

// ---- pure parts ----

// An ICMP error (origin icmp / icmp6) as a probe's answer: time exceeded, port unreachable, or
// unreachable for every other error type.
ProbeReply classify_icmp_reply(ErrOrigin origin, std::uint8_t type, std::uint8_t code);

// A frag-needed (v4 3/4) or packet-too-big (v6 2).
bool is_too_big(ErrOrigin origin, std::uint8_t type, std::uint8_t code);

// The destination answered this probe (reached it): syn_ack, rst, echo_reply, udp_reply, or a
// port_unreachable / unreachable sent by the destination's own address.
bool destination_answered(const TraceProbe& probe, const std::string& destination);

// Groups probes by TTL into hops first_ttl..last_ttl (probes of other TTLs are ignored), with
// responders, stats and the destination flag; loss is left none (analyze_loss decides it).
std::vector<TraceHop> aggregate_hops(std::span<const TraceProbe> probes,
                                     const std::string& destination, int first_ttl,
                                     int last_ttl);

HopStats hop_stats(std::span<const TraceProbe> probes);

// Decides each hop's HopLoss from the hops after it: loss at a hop that some later hop (or the
// destination) does not have is rate limiting, not path loss.
void analyze_loss(std::span<TraceHop> hops);

VerdictInfo decide_verdict(std::span<const TraceProbe> probes, const std::string& destination);

// The hops to show: up to the destination's hop when reached, up to the reporting hop when
// unreachable, else up to the first silent hop after the last that answered (at most
// max_ttl). Then aggregated and their loss analysed.
std::vector<TraceHop> build_hops(std::span<const TraceProbe> probes, const VerdictInfo& verdict,
                                 const std::string& destination, int first_ttl, int max_ttl);

// The hop whose responders include `address`; nullopt when none.
std::optional<int> hop_of(std::span<const TraceHop> hops, const std::string& address);

// The UDP payload that makes an IP packet of `packet_size` bytes (IPv4: 20 + 8 bytes of
// headers, IPv6: 40 + 8); 0 when it is smaller than the headers.
std::size_t udp_payload_for(int family, int packet_size);

// The next size to try after a too-big answer that gave `next_hop_mtu` for a packet of `size`:
// that MTU when it is smaller than size and at least the family's minimum (68 / 1280); else the
// next lower plateau of RFC 1191 (routers that report 0, or nonsense).
int next_mtu(int family, int size, std::uint32_t next_hop_mtu);

}  // namespace connscope::probe
