#pragma once
// A doctor run's options and report, and the pure parts of its policy (statuses, the trace and
// path-MTU decisions, redirects), without Asio: what rules/, the CLI's renderers and the agent
// include. The run itself, run_doctor(), is doctor.h.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/endpoint.h"
#include "core/error.h"
#include "core/target.h"
#include "probe/dns_result.h"
#include "probe/reach_result.h"
#include "probe/route.h"
#include "probe/stage.h"
#include "probe/talk_result.h"
#include "probe/tcp_connect_result.h"
#include "probe/tls_result.h"
#include "probe/trace_result.h"

namespace connscope::probe {

struct DoctorOptions {
  Target target;
  std::uint16_t port = 0;  // decided by the caller (target, --port, or the scheme's default)
  DnsFamily family = DnsFamily::any;
  std::optional<Endpoint> resolver;  // --resolver
  std::chrono::milliseconds timeout{3000};  // per stage (and per address for connect)
  AppProtocol protocol = AppProtocol::banner;
  std::string http_path = "/";
  std::chrono::milliseconds slow_first_byte{1000};
  int echo_count = 3;  // reach: ICMP echo requests
  // --repeat N: after the first connect, N - 1 more handshakes to the same address for loss and
  // latency statistics (each closed at once).
  int repeat = 1;
  std::chrono::milliseconds echo_interval{50};
  // secure: on when the scheme says so (https, smtps) or --tls. The client context (trust store
  // included) is made inside the stage and counted in its time, as curl counts it in
  // time_appconnect: with OpenSSL 3 that is a few milliseconds of the phase.
  bool tls = false;
  std::optional<std::string> ca_file;  // --ca-file; checked by the caller beforehand
  std::optional<ClientCertificate> client_cert;  // --cert, --key; checked by the caller beforehand
  std::optional<std::string> sni;  // --sni; default: the target's name (none for addresses)
  bool insecure = false;
  // No scheme, no --proto, no --tls and a port no protocol is known for: find out what the
  // service speaks (see Identification) instead of only waiting for a greeting.
  bool identify = false;
};

// What a service with no known protocol turned out to speak. nmap's service probes are the
// model: wait for a greeting (on the first connection, for the whole deadline); if none came
// within kGreetingWait or a third of the deadline, send a TLS ClientHello and an HTTP request
// at once, each on a fresh connection.
enum class Speaks {
  greeting,  // it spoke first (SSH, SMTP, a banner, ...), or closed: judged as before
  tls,       // a ServerHello or a TLS alert came back: judged as TLS, then HTTP inside it
  http,      // an HTTP response came back: judged as HTTP
  other,     // something not HTTP answered our request: judged by what it said
  nothing,   // no greeting, no answer to either: app.silent (a warning: it is up)
};
std::string_view speaks_name(Speaks speaks);
inline constexpr std::chrono::milliseconds kGreetingWait{1000};
struct Identification {
  Speaks speaks = Speaks::nothing;
  std::chrono::milliseconds greeting_wait{};
  std::vector<std::string> tried;  // "greeting", "TLS ClientHello", "HTTP request"
};

// --repeat's handshakes, the first included.
struct HandshakeStats {
  int attempts = 0;
  int connected = 0;
  int with_retransmits = 0;        // connected only after a resent SYN
  std::uint32_t syns_sent = 0;
  std::uint32_t syn_retransmits = 0;
  std::vector<std::chrono::microseconds> times;  // of the connected ones, in order
  [[nodiscard]] double syn_loss_percent() const {
    return syns_sent == 0 ? 0.0 : 100.0 * syn_retransmits / syns_sent;
  }
};
// min, median, max, mean of the connected handshakes' times; zeros when none connected.
struct TimeSummary {
  std::chrono::microseconds min{}, median{}, max{}, mean{};
};
TimeSummary summarize_times(std::vector<std::chrono::microseconds> times);

// The path-MTU retry. When the TLS handshake or the reply stalls after a good handshake and
// segments had arrived out of order by the deadline (later data came, an earlier full-size
// segment never did), one more connection announces a small MSS (536 bytes on IPv4, 1220 on
// IPv6: segments that fit any path the standards allow) and runs the stages again up to the
// one that stalled. Getting through with small segments where full-size ones stalled is a path-
// MTU black hole (path.mtu_blackhole). A reply that fits in one segment leaves no such trace: a
// black hole that loses it looks like a silent server and is not retried (a retry on every
// silent server would double the wait for the common case, a full accept queue).
struct MtuRetry {
  StageId stalled = StageId::talk;  // secure or talk
  std::uint32_t out_of_order = 0;   // what the stalled stage saw at its deadline
  int mss = 0;                      // the retry's TCP_MAXSEG
  ConnectAttempt connect;
  std::optional<TlsOutcome> tls;    // the retry's handshake (TLS targets that connected)
  std::optional<TalkOutcome> talk;  // the retry's talk, when it got that far
  Clock::duration elapsed{};        // the whole retry
  bool confirmed = false;           // the stalled stage got through with the small MSS
};

// How long a handshake stays silent before the trace starts alongside it (or a third of the
// timeout, when that is shorter): the first SYN's retransmission comes after 1 s.
inline constexpr std::chrono::milliseconds kTraceAfter{1000};
// Does this connect failure call for the trace? Silence (tcp.filtered) and a router's
// unreachable or prohibited: the path, not the host, is in question.
bool trace_wanted(ConnectFailure failure);

// An attempt that met silence (filtered) while a probe of the trace to the same address and port
// met an ICMP error that ends a handshake (port or host unreachable, prohibited; not the
// routers' time exceeded) is classified by that error: the reject was real, the sender's ICMP
// rate limit (net.ipv4.icmp_ratelimit, a token bucket per peer) swallowed the SYN's. Marks the
// attempt icmp_from_trace.
void classify_by_trace(std::vector<ConnectAttempt>& attempts, const TraceResult& trace);

// Where the doctor's trace says the path ends: the hop that said unreachable, else the last hop
// that answered (0: none), with its address.
struct PathEnd {
  int hop = 0;
  std::optional<std::string> address;
};
PathEnd path_end(const TraceResult& trace);

// The MSS the retry announces for an address family (AF_INET, AF_INET6).
int small_mss(int family);
// Does a stage that ended like this call for the retry? Only a stall (TLS timeout; talk
// no_response or timeout) with out-of-order segments at the deadline.
bool mtu_retry_wanted(const TlsResult& tls);
bool mtu_retry_wanted(const TalkResult& talk);

// The distinct addresses of a name the doctor routes and connects to; the rest are counted.
inline constexpr std::size_t kMaxAddresses = 16;

// --follow: each 3xx with a Location starts a new run at the URL it names; the chain ends at a
// final answer, at a URL already visited (a loop), after kMaxRedirects, or at a Location that
// is not a URL we can follow.
inline constexpr std::size_t kMaxRedirects = 10;
struct RedirectHop {
  std::string url;
  unsigned status = 0;
  std::string location;  // resolved against url
};
enum class RedirectStop { none, loop, too_many, unfollowable };
std::string_view redirect_stop_name(RedirectStop stop);
struct RedirectChain {
  std::vector<RedirectHop> hops;
  RedirectStop stop = RedirectStop::none;
  std::string note;          // why it stopped, for unfollowable (the parser's error, English)
  std::optional<Error> error;  // the same error, for saying it in the reader's language
  std::string final_target;  // the URL of the run the report is about
};

struct StageRow {
  StageId stage = StageId::resolve;
  StageStatus status = StageStatus::skipped;
  Clock::duration duration{};
};

struct DoctorReport {
  DoctorOptions options;
  std::vector<StageRow> stages;  // all seven, in order; skipped ones too
  DnsResult dns;
  std::vector<RouteResult> routes;       // one per resolved address, in order
  std::optional<ReachResult> reach;      // ICMP echo to the first routable address
  // Every routable address tried (at once), in the resolver's order, but the one the later
  // stages used last (connect_all).
  std::vector<ConnectAttempt> connect;
  std::optional<HandshakeStats> repeat;  // with --repeat N > 1
  std::optional<TlsResult> tls;          // the handshake's evidence (its stream moves on to talk)
  std::optional<TalkResult> talk;
  std::optional<CloseResult> close;
  std::optional<MtuRetry> mtu_retry;  // when the secure or talk stage stalled as described above
  // When connect was filtered or a router said unreachable: a TCP trace to the first routable
  // address and port, for the last hop that answers. It starts once the handshake has been
  // silent for a while (see kTraceAfter) and ends with the connect's own deadline, so a filtered
  // port's verdict still comes after one timeout.
  std::optional<TraceResult> trace;
  std::optional<RedirectChain> redirects;  // with --follow (see apply_redirects)
  std::optional<Identification> identified;  // with DoctorOptions::identify
  std::size_t addresses_not_tried = 0;  // distinct addresses beyond kMaxAddresses
  Clock::duration total{};  // the whole run, wall time

  [[nodiscard]] const StageRow& row(StageId id) const;
  // The first failed stage, else the first that warned, else nullopt (all ok).
  [[nodiscard]] std::optional<StageId> verdict_stage() const;
  [[nodiscard]] StageStatus verdict() const;
};

// The reach stage's status once connect is known: an echo that goes unanswered, or an ICMP
// error, is a warning only when TCP did not get through either (many hosts filter ICMP: no reply
// is never "host down"); partial loss is a warning (path.loss); no ICMP socket is skipped.
StageStatus reach_status(const ReachResult& reach, bool connected);

// The stage status a talk outcome stands for.
StageStatus talk_status(const TalkResult& talk);

// An HTTP body still trickling in when the close stage's wait ended: the peer kept sending, less
// than the close stage's discard limit (1 MiB) came in the whole wait, and less than its
// Content-Length in all. A large download at any usable rate fills the limit instead; a
// server dripping a huge body never completes the reply (app.incomplete_reply).
bool body_trickles(const TalkResult& talk, const CloseResult& close);

// The chain --follow walked, onto the report of its last run: a loop or too many redirects is
// the talk stage's failure (http.redirect_loop, http.too_many_redirects): browsers and most
// clients give up there, so the URL serves nothing.
void apply_redirects(DoctorReport& report, RedirectChain chain);

}  // namespace connscope::probe
