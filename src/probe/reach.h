#pragma once
// The reach stage: ICMP echo (what `ping` does), a few probes with their loss and round-trip
// times, and the ICMP errors a router sent back instead of replies (DESIGN.md, "reach").
//
// Which socket (the kernel decides, we only ask in order):
// - a ping socket, socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP) or AF_INET6/IPPROTO_ICMPV6: no
//   privilege, but only for processes with a group (effective or supplementary) inside
//   net.ipv4.ping_group_range (the same setting governs both families; "1 0", nobody, is the
//   default), else EACCES. The kernel owns the identifier (the socket's "port") and the
//   checksum, hands us only replies to this socket, and with IP_RECVERR / IPV6_RECVERR queues
//   the ICMP errors about our requests (type, code, sender, and our request back);
// - a raw socket, SOCK_RAW: needs CAP_NET_RAW, else EPERM. It sees every ICMP message the host
//   receives (ICMP_FILTER / ICMP6_FILTER keep echo replies and errors only), so replies are
//   matched by our identifier, sequence and payload, errors by the request they quote. IPv4
//   arrives with its IP header and needs our checksum; for ICMPv6 the kernel does the checksum;
// - neither: unavailable, with both errnos and the setting. Unavailable is never "host down",
//   and neither is silence: many hosts and firewalls drop ICMP echo.
//
// Timing: probe i (sequence i + 1) leaves at start + i × interval; each waits for its reply up to
// probe_timeout, and the whole stage never runs past its deadline. RTTs are measured with the
// steady clock from just before sendto to the wake-up that read the reply.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "core/error.h"
#include "probe/icmp_error.h"
#include "probe/stage.h"
#include "sys/unique_fd.h"

namespace connscope::probe {

struct ReachOptions {
  std::string destination;            // numeric IPv4 or IPv6 address
  std::optional<std::string> source;  // bind to this local address first
  int count = 3;                      // echo requests to send (1-1000)
  std::chrono::milliseconds interval{200};        // between requests
  std::chrono::milliseconds probe_timeout{1000};  // a request unanswered this long is lost
  std::chrono::milliseconds deadline{3000};       // the whole stage
  std::size_t payload_size = 56;  // bytes after the ICMP header, as ping's default (>= 8)
};

enum class ReachMethod { ping_socket, raw_socket, unavailable };
std::string_view reach_method_name(ReachMethod method);  // "ping_socket", "raw_socket", ...

// How the stage ended. The values with a finding id say so; the others are evidence only.
enum class ReachOutcome {
  replied,       // every request answered
  partial_loss,  // path.loss: some answered, some not
  no_reply,      // none answered and no error came back: ICMP may be filtered, not "host down"
  unreachable,   // net.host_unreachable: a router (or this host) said unreachable, none replied
  prohibited,    // net.admin_prohibited: an ICMP administratively-prohibited, none replied
  unavailable,   // no ICMP socket may be opened here (see ReachResult::reason)
  send_failed,   // this host refused to send every request (see ReachResult::reason)
  error,         // the stage could not run (bad destination, a failed setsockopt...)
};
std::string_view reach_outcome_name(ReachOutcome outcome);  // "replied", "partial_loss", ...
// "path.loss", "net.host_unreachable", "net.admin_prohibited"; nullopt for the rest.
std::optional<std::string_view> reach_finding_id(ReachOutcome outcome);

// One ICMP error about one of our requests.
struct ReachIcmpError {
  ErrOrigin origin = ErrOrigin::icmp;  // icmp / icmp6; local for an error this host raised
  std::uint8_t type = 0;
  std::uint8_t code = 0;
  std::string from;        // the sender, numeric ("198.18.1.1"); empty when none (local)
  std::uint16_t sequence = 0;  // of the request it is about
  std::uint32_t info = 0;      // the next-hop MTU of frag-needed / packet-too-big, else 0

  friend bool operator==(const ReachIcmpError&, const ReachIcmpError&) = default;
};

enum class ProbeStatus {
  replied,     // an echo reply came back
  icmp_error,  // an ICMP error came back instead
  timed_out,   // nothing before its timeout (or the stage deadline)
  send_failed, // sendto failed (send_error)
  not_sent,    // the stage deadline came first
};
std::string_view probe_status_name(ProbeStatus status);

struct ProbeResult {
  std::uint16_t sequence = 0;
  ProbeStatus status = ProbeStatus::not_sent;
  std::chrono::microseconds sent_at{0};  // from the stage's start
  std::optional<std::chrono::microseconds> rtt;  // replied
  std::optional<int> ttl;                 // the reply's TTL / hop limit, when known
  std::optional<std::string> reply_from;  // replied
  int send_error = 0;                     // errno of sendto (send_failed)
  std::optional<ReachIcmpError> error;    // icmp_error
  unsigned duplicates = 0;                // further replies to this request

  friend bool operator==(const ProbeResult&, const ProbeResult&) = default;
};

struct ReachStats {
  int sent = 0;
  int received = 0;
  double loss_percent = 0.0;  // of sent; 0 when nothing was sent
  std::optional<std::chrono::microseconds> rtt_min;
  std::optional<std::chrono::microseconds> rtt_avg;
  std::optional<std::chrono::microseconds> rtt_max;

  friend bool operator==(const ReachStats&, const ReachStats&) = default;
};

// The stage's answer. Plain data: the doctor turns it into evidence and findings.
struct ReachResult {
  ReachOutcome outcome = ReachOutcome::error;
  ReachMethod method = ReachMethod::unavailable;
  int family = 0;  // AF_INET / AF_INET6
  std::string destination;
  // Why, for unavailable, send_failed and error: the operation, its errno and what is wrong.
  std::optional<Error> reason;
  // What opening the sockets said: the errno of each attempt (0: it worked or was not tried);
  // when the ping socket was refused, net.ipv4.ping_group_range as read (absent when
  // unreadable) and the process's groups, the evidence for why.
  int ping_socket_error = 0;
  int raw_socket_error = 0;
  std::optional<std::pair<std::uint32_t, std::uint32_t>> ping_group_range;
  std::vector<std::uint32_t> groups;  // effective gid first, then the supplementary ones
  std::uint16_t identifier = 0;       // the echo identifier on the wire
  ReachStats stats;
  std::vector<ProbeResult> probes;     // one per request, in order
  std::vector<ReachIcmpError> errors;  // every ICMP error matched to a request, in arrival order
  std::chrono::microseconds duration{0};
};

// ---- pure parts ----

// The Internet checksum (RFC 1071) of `data`, ready to store in network byte order.
std::uint16_t internet_checksum(std::span<const std::byte> data);

// The payload every request carries: an 8-byte nonce (network byte order), then the bytes
// 0x10, 0x11, ... as ping fills them; at least the nonce.
std::vector<std::byte> echo_payload(std::uint64_t nonce, std::size_t size);

// An echo request: type 8 (IPv4) or 128 (IPv6), code 0, identifier and sequence in network
// byte order, the payload. IPv4 gets its checksum; IPv6's is left 0 (the kernel computes it
// over the pseudo-header).
std::vector<std::byte> build_echo_request(int family, std::uint16_t identifier,
                                          std::uint16_t sequence,
                                          std::span<const std::byte> payload);

// What a stage waits for: how it recognises its own replies and errors.
struct EchoMatcher {
  int family = AF_INET;
  ReachMethod method = ReachMethod::raw_socket;
  std::uint16_t identifier = 0;  // checked for raw sockets (the kernel demuxes ping sockets)
  std::string destination;      // numeric, canonical (inet_ntop form)
  std::vector<std::byte> payload;  // what every request carried; replies must echo its nonce
};

struct Received {
  enum class Kind { echo_reply, icmp_error, foreign };
  Kind kind = Kind::foreign;
  std::uint16_t sequence = 0;
  std::optional<int> ttl;
  ReachIcmpError error;  // icmp_error
  std::string from;      // echo_reply: the sender

  friend bool operator==(const Received&, const Received&) = default;
};

// One datagram read from the socket (normal queue): `data` as recvmsg returned it (raw IPv4:
// with its IP header), `from` the sender from msg_name, `ttl` from IP_TTL / IPV6_HOPLIMIT when
// the socket got one. Anything not ours, truncated or garbled is foreign, never an error.
Received match_packet(const EchoMatcher& matcher, std::span<const std::byte> data,
                      const std::string& from, std::optional<int> ttl);

// One message of a ping socket's error queue: the decoded IP_RECVERR / IPV6_RECVERR and the
// bytes it returned (our request as sent, from its ICMP header).
Received match_queued_error(const EchoMatcher& matcher, const QueuedError& queued,
                            std::span<const std::byte> original);

ReachStats reach_stats(std::span<const ProbeResult> probes);

// The outcome from the probes: replied when all sent were answered, partial_loss when some,
// otherwise the ICMP errors decide (admin-prohibited → prohibited, another ending one →
// unreachable), then send_failed when nothing left this host, else no_reply.
ReachOutcome classify_reach(std::span<const ProbeResult> probes);

// ---- choosing the socket ----

// Opens a socket: the fd, or -errno. The real one is ::socket with SOCK_NONBLOCK | SOCK_CLOEXEC.
using SocketOpener = std::function<int(int domain, int type, int protocol)>;

struct EchoSocket {
  ReachMethod method = ReachMethod::unavailable;
  sys::UniqueFd fd;
  int ping_error = 0;  // errno of the ping socket attempt (0: it worked)
  int raw_error = 0;   // errno of the raw socket attempt (0: it worked or was not needed)
};

// A ping socket first, else a raw socket, else unavailable with both errnos.
EchoSocket open_echo_socket(int family, const SocketOpener& opener);

// "1\t0" (net.ipv4.ping_group_range) as a pair; nullopt when malformed.
std::optional<std::pair<std::uint32_t, std::uint32_t>> parse_ping_group_range(
    std::string_view text);

// Why no ICMP socket could be opened, as an Error whose op names the destination and whose code
// is the raw socket's errno; the detail names CAP_NET_RAW, the setting's value and the groups.
Error unavailable_reason(const std::string& destination, int family, int ping_error,
                         int raw_error,
                         const std::optional<std::pair<std::uint32_t, std::uint32_t>>& range,
                         std::span<const std::uint32_t> groups);

// ---- the stage ----

// Sends the echo requests from the calling thread's network namespace (the socket is opened
// when the coroutine starts) and waits for replies on `ex`. Never throws for network or system
// errors: they are the outcome.
boost::asio::awaitable<ReachResult> reach(boost::asio::any_io_executor ex, ReachOptions options);

}  // namespace connscope::probe
