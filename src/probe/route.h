#pragma once
// The route stage: the kernel's own answer to "how would a packet to this address leave?"
// (rtnetlink RTM_GETROUTE, the request behind `ip route get`), and the interface's MTU
// (RTM_GETLINK). "No route" is decided here (net.no_route), before anything is sent.
//
// How the kernel answers (checked on Linux 6.18 in the lab, probe_route_reach_lab_test): a
// usable route comes back as one RTM_NEWROUTE carrying the chosen interface (RTA_OIF), the
// source address it would pick (RTA_PREFSRC), the next hop (RTA_GATEWAY, or RTA_VIA for an IPv4
// route through an IPv6 next hop; absent when the destination is on a connected subnet), the
// table (RTA_TABLE, with RTM_F_LOOKUP_TABLE) and the route's metrics (RTA_METRICS; RTAX_MTU is
// there when the route has an MTU or a path MTU was learned, then with RTA_CACHEINFO's expiry).
// A route that exists but refuses is not returned at all, only its errno, in both families and
// also with RTM_F_FIB_MATCH:
//   no matching route (also a `throw` route with nothing behind it) → ENETUNREACH
//   `unreachable` route → EHOSTUNREACH, `prohibit` → EACCES, `blackhole` → EINVAL.
// The caller's binding can be refused with the same errnos (IPv4: a source this host does not
// own is ENETUNREACH; a bad source or interface can be EINVAL), so a refusal of a request with
// a source or interface is asked again without them: the same errno again is the route's, a
// different answer means the binding was refused (outcome error). A request this module builds
// is never malformed, so EINVAL for the bare destination is a blackhole. (IPv6 does not check
// that the source is local, and answers ENETUNREACH for the interface `lo`.) IPv4 reports
// local routes in table 254: it merges the local table into main while no policy rules exist.
//
// Synchronous and short: the kernel answers from memory. Every receive waits at most until the
// query's deadline (SO_RCVTIMEO), so a stuck netlink socket cannot hold the doctor.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "probe/stage.h"

namespace connscope::probe {

struct RouteQuery {
  std::string destination;             // numeric IPv4 or IPv6 address
  std::optional<std::string> source;   // the caller binds to this address (RTA_SRC)
  std::optional<std::string> interface;  // the caller binds to this device (RTA_OIF)
  std::chrono::milliseconds timeout{1000};  // for the whole lookup, both requests
};

// How the lookup ended. Each value but ok, local and error corresponds to a finding.
enum class RouteOutcome {
  ok,                 // a route out of an interface
  local,              // the destination is this host (rtm_type local)
  no_route,           // net.no_route: no route matches (ENETUNREACH)
  unreachable_route,  // net.no_route: an `unreachable` route matches (EHOSTUNREACH)
  prohibited_route,   // net.admin_prohibited: a `prohibit` route matches (EACCES)
  blackhole_route,    // net.no_route: a `blackhole` route silently drops (EINVAL)
  error,              // the lookup itself failed: see RouteResult::error
};

// "ok", "local", "no_route", "unreachable_route", ...: the names in JSON.
std::string_view route_outcome_name(RouteOutcome outcome);
// "net.no_route", "net.admin_prohibited"; nullopt for ok, local and error.
std::optional<std::string_view> route_finding_id(RouteOutcome outcome);
// rtm_type as `ip route` names it: "unicast", "local", "broadcast", "unreachable", ...; "type N"
// for a number without a name.
std::string route_type_name(std::uint8_t type);

// The kernel's answer. Plain data: the doctor turns it into evidence and findings.
struct RouteResult {
  RouteOutcome outcome = RouteOutcome::error;
  int family = 0;           // AF_INET or AF_INET6 (0 when the destination was not an address)
  std::string destination;  // as asked
  // The errno the kernel refused the lookup with (ENETUNREACH, EHOSTUNREACH, EACCES, EINVAL);
  // 0 when it answered with a route.
  int kernel_error = 0;
  std::string kernel_message;  // the kernel's own words with that errno (extended ack), if any
  // Set for outcome error: the operation that failed and why.
  std::optional<Error> error;

  // The rest only when the kernel answered with a route (ok, local).
  std::uint8_t route_type = 0;  // rtm_type (RTN_UNICAST, RTN_LOCAL, ...)
  std::uint32_t table = 0;      // the routing table that matched (254 main, 255 local)
  std::uint32_t ifindex = 0;    // the outgoing interface
  std::string interface;        // its name ("eth0"; "lo" for local)
  std::optional<std::string> source;   // the source address the kernel would choose
  std::optional<std::string> gateway;  // next hop; absent: directly connected
  std::optional<std::uint32_t> route_mtu;  // RTAX_MTU: the route's or a learned path MTU
  // The route's metrics entry expires (a learned path MTU, or a redirect): seconds left.
  std::optional<std::chrono::seconds> expires;
  std::optional<std::uint32_t> link_mtu;  // the interface's MTU (IFLA_MTU)
  std::optional<bool> link_up;            // IFF_UP and IFF_RUNNING (carrier) on the interface

  std::chrono::microseconds duration{0};  // the whole lookup
};

// ---- pure parts (unit-tested on recorded replies) ----

// What a route reply datagram says: a route, or the errno the kernel refused with.
struct RouteReply {
  int kernel_error = 0;  // > 0: NLMSG_ERROR with this errno; 0: the fields below hold a route
  std::string kernel_message;  // the error's extended ack text (NLMSGERR_ATTR_MSG), if any
  std::uint8_t family = 0;
  std::uint8_t type = 0;
  std::uint32_t flags = 0;  // rtm_flags
  std::uint32_t table = 0;  // RTA_TABLE, else rtm_table
  std::optional<std::uint32_t> oif;
  std::optional<std::string> prefsrc;  // RTA_PREFSRC: the source the kernel chose
  std::optional<std::string> src;      // RTA_SRC: the source the request named
  std::optional<std::string> gateway;  // RTA_GATEWAY or RTA_VIA
  std::optional<std::uint32_t> mtu;    // RTAX_MTU in RTA_METRICS
  std::optional<std::uint32_t> expires_ticks;  // RTA_CACHEINFO rta_expires (USER_HZ ticks), if > 0
};

// What an RTM_GETLINK reply datagram says.
struct LinkReply {
  int kernel_error = 0;  // > 0: NLMSG_ERROR with this errno (ENODEV: the interface is gone)
  std::uint32_t ifindex = 0;
  std::string name;                 // IFLA_IFNAME
  std::optional<std::uint32_t> mtu;  // IFLA_MTU
  std::uint32_t flags = 0;          // ifi_flags (IFF_UP, IFF_RUNNING, ...)
};

// The RTM_GETROUTE request for `query` (no dump: one route), with RTM_F_LOOKUP_TABLE so the
// reply names the table that matched. `with_binding` false leaves out the source and interface
// (the re-check of a refusal). Bad addresses are errors; `ifindex` is the interface's index when
// the query names one (resolved by the caller: a name is not an address the kernel takes).
Result<std::vector<std::byte>> build_route_request(const RouteQuery& query,
                                                   std::optional<std::uint32_t> ifindex,
                                                   bool with_binding, std::uint32_t seq);
// The RTM_GETLINK request for one interface index.
std::vector<std::byte> build_link_request(std::uint32_t ifindex, std::uint32_t seq);

// One reply datagram (pure: reads through memcpy with every length checked, so recorded bytes
// need no alignment). Neither checks seq or port id: the live socket skips strays before this.
Result<RouteReply> parse_route_reply(std::span<const std::byte> datagram);
Result<LinkReply> parse_link_reply(std::span<const std::byte> datagram);

// The kernel's refusal errno as an outcome: ENETUNREACH no_route, EHOSTUNREACH
// unreachable_route, EACCES prohibited_route, EINVAL blackhole_route (see the header comment),
// anything else error.
RouteOutcome classify_route_errno(int error);

// ---- the kernel boundary ----

// Where replies come from: the kernel (RtnetlinkExchange) or, in tests, recorded bytes. One
// request datagram in, its reply datagram out (messages of other requests already skipped).
class RouteExchange {
 public:
  virtual ~RouteExchange() = default;
  virtual Result<std::vector<std::byte>> exchange(std::span<const std::byte> request,
                                                  Clock::time_point deadline) = 0;
  // The index of an interface name, for RouteQuery::interface (if_nametoindex).
  virtual Result<std::uint32_t> interface_index(const std::string& name) = 0;
};

// A NETLINK_ROUTE socket (libmnl) in the calling thread's network namespace. Owns the socket;
// one thread at a time.
class RtnetlinkExchange final : public RouteExchange {
 public:
  static Result<RtnetlinkExchange> open();
  RtnetlinkExchange(RtnetlinkExchange&&) noexcept;
  RtnetlinkExchange& operator=(RtnetlinkExchange&&) noexcept;
  ~RtnetlinkExchange() override;

  // Sends `request` (its nlmsg_seq is kept) and returns the first reply datagram with the same
  // seq and this socket's port id; ETIMEDOUT when the deadline passes first.
  Result<std::vector<std::byte>> exchange(std::span<const std::byte> request,
                                          Clock::time_point deadline) override;
  Result<std::uint32_t> interface_index(const std::string& name) override;

 private:
  struct State;
  explicit RtnetlinkExchange(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// The route stage on `exchange`: the route, the blackhole re-check when needed, then the
// interface's link (name, MTU, carrier). Never fails as a whole: a failure is outcome error.
RouteResult lookup_route(const RouteQuery& query, RouteExchange& exchange);
// The same on a fresh RtnetlinkExchange in the calling thread's network namespace.
RouteResult lookup_route(const RouteQuery& query);

}  // namespace connscope::probe
