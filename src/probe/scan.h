#pragma once
// The bulk scheduler behind `connscope probe`: a TCP connect to each of many endpoints, at most
// `concurrency` in flight and at most `rate` started per second, each classified exactly as the
// doctor's connect stage does (icmp_error.h: RST vs the queued ICMP type/code and its sender vs
// silence at the deadline).
//
// Two engines, one classification:
// - scan_endpoints: a dedicated epoll loop on the calling thread, for plain connects. Per
//   endpoint it costs socket, setsockopt IP_RECVERR, connect, epoll_ctl, one wake-up, SO_ERROR
//   and close (plus a TCP_INFO read and SO_LINGER on open ones); the error queue is read only
//   when an error or a timeout needs it. Deadlines are one FIFO (every connect has the same
//   timeout, so start order is deadline order): no timer per socket. Measured against a minimal
//   C loop in bench/probe_bench.sh.
// - scan_with_stages: --tls / --talk. Asio coroutine workers (one per concurrency slot) run the
//   doctor's own connect_one, then secure() and talk() on the endpoints that connected.
//
// Open sockets are closed with SO_LINGER 0 (a RST, as nmap -sT does): no TIME_WAIT is left
// behind, so a 65,535-port scan does not run this host out of local ports.
//
// EMFILE / ENFILE from socket() is back-pressure: no new connect starts until one in flight
// ends; it is counted, never a failure. Only when nothing is in flight (another part of the
// process holds every descriptor) does the scan give up, with an error.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/endpoint.h"
#include "core/error.h"
#include "core/target.h"
#include "probe/icmp_error.h"
#include "probe/stage.h"
#include "probe/talk_result.h"
#include "probe/tls_result.h"

namespace connscope::probe {

// The state of one endpoint. names: "open", "closed", "filtered", "unreachable", "error".
enum class ScanState { open, closed, filtered, unreachable, error };
std::string_view scan_state_name(ScanState state);

// The connect's failure as the doctor's connect_one decides it, from the errno the connect ended
// with (0 when our deadline ended it: timed_out), and the ICMP error queued for it. A reset
// without ICMP after the handshake (ECONNRESET) is `none` with reset_after_handshake set.
struct ScanVerdict {
  ConnectFailure failure = ConnectFailure::other;
  bool reset_after_handshake = false;
};
ScanVerdict scan_verdict(int error, bool timed_out, const std::optional<QueuedError>& queued);

// none → open; refused → closed; filtered → filtered; rejected_icmp, admin_prohibited,
// host_unreachable, no_route → unreachable; local_port_exhaustion, other → error.
ScanState scan_state(ConnectFailure failure);

// The stable reason token (JSON "reason"): "syn-ack", "reset-after-handshake", "conn-refused",
// "self-connect" (closed: a loopback connect given its destination port as its source port),
// "no-response", "no-route", "local-firewall", "local-port-exhaustion", "error", or the ICMP
// message that decided it: "port-unreachable", "protocol-unreachable", "admin-prohibited",
// "host-unreachable", "net-unreachable", "addr-unreachable", "time-exceeded", ... (icmp_reason_token, icmp.h).
std::string_view scan_reason(ConnectFailure failure, bool reset_after_handshake,
                             const std::optional<QueuedError>& queued);

// What --tls and --talk found on an open endpoint.
struct ScanStages {
  std::optional<TlsOutcome> tls;            // absent: no TLS stage ran
  std::string tls_version;                  // "TLSv1.3"; "" before a ServerHello
  bool tls_verified = false;
  std::optional<std::int64_t> days_to_expiry;  // of the leaf certificate
  std::optional<TalkOutcome> talk;          // absent: no talk stage ran
  AppProtocol protocol = AppProtocol::banner;
  std::string reply;                        // what the peer said, summarized (banner.h)
  std::optional<unsigned> http_status;
};

// One endpoint's result.
struct ScanResult {
  ScanState state = ScanState::error;
  ConnectFailure failure = ConnectFailure::other;
  std::string_view reason = "error";  // scan_reason's token (static storage)
  int error = 0;                      // errno the connect (or the failed setup call) ended with
  std::string failed_op;              // the system call that failed; empty otherwise
  bool timed_out = false;
  std::optional<QueuedError> queued;  // the ICMP error queued for the connect, with its sender
  // When connect() was called, from the start of the scan (the rate limit is about these), and
  // from connect() to the verdict.
  std::chrono::microseconds start{0};
  std::chrono::microseconds elapsed{0};
  std::optional<ScanStages> stages;
};

// The result of a connect that never started: a setup call failed (also used by the CLI for a
// name that did not resolve).
ScanResult setup_failure(std::string op, int error);

// Spaces connect starts at least 1/rate apart (a token bucket that holds one token), so that no
// 1 s window ever sees more than `rate` starts, however late the caller polls. Without a rate it
// allows everything. Pure: the caller passes the time.
class Pacer {
 public:
  explicit Pacer(std::optional<double> per_second);
  // True (and counts a start at `now`) when a start is allowed at `now`.
  bool try_take(Clock::time_point now);
  // When the next start will be allowed; nullopt without a limit.
  [[nodiscard]] std::optional<Clock::time_point> next_at() const;

 private:
  std::optional<Clock::duration> interval_;
  Clock::time_point next_{};
  bool started_ = false;
};

// Descriptors held back from --concurrency for everything else the process opens (stdio, the
// epoll fd, c-ares, TLS files).
inline constexpr std::uint64_t kFdReserve = 32;
// The concurrency the fd limit allows: `wanted`, or fewer when the soft limit minus the open
// descriptors and kFdReserve is lower; 0 when nothing is left.
std::size_t concurrency_for_fd_limit(std::size_t wanted, std::uint64_t soft_limit,
                                     std::uint64_t open_fds);

struct ScanProgress {
  std::size_t done = 0;
  std::size_t total = 0;
  std::size_t open = 0;
  Clock::duration elapsed{};
};

struct ScanOptions {
  std::chrono::milliseconds timeout{3000};  // per connect; must be positive
  std::size_t concurrency = 1000;           // at least 1
  std::optional<double> rate;               // connects started per second; must be positive
  // Called on the scanning thread at most every progress_interval (and once at the end).
  std::function<void(const ScanProgress&)> progress;
  std::chrono::milliseconds progress_interval{100};
};

struct ScanStats {
  Clock::duration elapsed{};
  std::size_t shards = 1;         // epoll loops (threads) the scan ran on
  std::size_t max_in_flight = 0;  // never above ScanOptions::concurrency (with shards: the sum
                                  // of each shard's peak, an upper bound)
  std::size_t fd_waits = 0;       // times EMFILE/ENFILE held back a connect
};

struct ScanReport {
  std::vector<ScanResult> results;  // in the order of the endpoints given
  ScanStats stats;
};

// An unpaced scan of many endpoints is bound by the kernel's socket, connect and close, which
// one thread cannot run faster than one core does: it is split into shards, one epoll loop per
// thread, each over every k-th endpoint with its share of the concurrency. A paced one (--rate)
// runs on one loop. How many: up to `cores` and kMaxShards, each with at least
// kMinShardEndpoints endpoints and kMinShardConcurrency of the concurrency.
inline constexpr std::size_t kMaxShards = 4;
inline constexpr std::size_t kMinShardEndpoints = 4096;
inline constexpr std::size_t kMinShardConcurrency = 64;
std::size_t scan_shards(std::size_t endpoints, const ScanOptions& options, unsigned cores);

// Connects to every endpoint (numeric addresses) and classifies each. Blocks the calling thread.
// An error only when the scan cannot go on (no epoll, no descriptor with nothing in flight).
Result<ScanReport> scan_endpoints(std::span<const Endpoint> endpoints, const ScanOptions& options);

struct StageOptions {
  bool tls = false;   // a TLS handshake on every open endpoint (verification recorded, not enforced)
  bool talk = false;  // the protocol of the endpoint's target (scheme, else port) after it
  std::optional<std::string> ca_file;             // --ca-file: the CAs verification trusts
  std::optional<ClientCertificate> client_cert;  // --cert, --key: presented when asked (mutual TLS)
};

// As scan_endpoints, with the secure and talk stages on the endpoints that connected, within the
// same concurrency (an endpoint holds its slot until its stages are done). targets[i] is the
// target endpoint i came from (protocol, TLS scheme, names for SNI and the Host header); its
// port is endpoints[i]'s. The TLS and talk deadlines are options.timeout each.
Result<ScanReport> scan_with_stages(std::span<const Endpoint> endpoints,
                                    std::span<const Target> targets, const ScanOptions& options,
                                    const StageOptions& stages);

}  // namespace connscope::probe
