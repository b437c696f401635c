#pragma once
// The reach stage's options, results and pure parts (statistics, the outcome), without Asio:
// what rules/, the CLI's renderers and the agent include. The stage itself, reach(), is reach.h.

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

#include "core/error.h"
#include "probe/icmp_echo.h"
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

ReachStats reach_stats(std::span<const ProbeResult> probes);

// The outcome from the probes: replied when all sent were answered, partial_loss when some,
// otherwise the ICMP errors decide (admin-prohibited → prohibited, another ending one →
// unreachable), then send_failed when nothing left this host, else no_reply.
ReachOutcome classify_reach(std::span<const ProbeResult> probes);

}  // namespace connscope::probe
