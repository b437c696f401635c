// The route and reach stages in the lab, from the client namespace, IPv4 and IPv6.
// Route: the server through r1 (interface, source, gateway, table, link MTU), an on-link
// neighbour (no gateway), the client's own address (local), nothing outside the lab (no route),
// test-local unreachable / prohibit / blackhole routes, a route MTU and the binding checks; the
// fixtures in tests/fixtures/rtnetlink are recorded here (CONNSCOPE_RECORD_RTNETLINK=DIR).
// Reach: the server answers (raw socket as root, ping socket once ping_group_range allows),
// echo dropped at the server (no reply, within the deadline), one request dropped (partial
// loss), r1 answering host-unreachable and admin-prohibited (with r1's address), no route
// (send failed), and a process without privilege (unavailable, never "down").

#include "probe/reach.h"
#include "probe/route.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <grp.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "lab/lab.h"

namespace connscope::lab {
namespace {

namespace asio = boost::asio;
using probe::ProbeStatus;
using probe::ReachMethod;
using probe::ReachOutcome;
using probe::ReachResult;
using probe::RouteOutcome;
using probe::RouteResult;
using std::chrono::milliseconds;

int af(Family f) { return f == Family::v4 ? AF_INET : AF_INET6; }

std::string param_name(const ::testing::TestParamInfo<Family>& p) {
  return std::string(to_string(p.param));
}

// An address outside every lab prefix (the client routes only the lab's ranges).
std::string outside(Family f) { return f == Family::v4 ? "192.0.2.1" : "2001:db9::1"; }

// Runs the reach stage to completion from a thread in the client namespace.
ReachResult reach_from_client(Lab& lab, probe::ReachOptions o) {
  return lab.in_ns(Node::client, [&] {
    asio::io_context io;
    std::optional<ReachResult> result;
    std::exception_ptr error;
    asio::co_spawn(io, probe::reach(io.get_executor(), std::move(o)),
                   [&](std::exception_ptr e, ReachResult r) {
                     error = e;
                     result = std::move(r);
                   });
    io.run();
    if (error) std::rethrow_exception(error);
    return std::move(*result);
  });
}

// The link r2–server shrunk to 1280 bytes, and one 1428-byte echo request sent from the client
// with DF (the kernel's default): r2 answers frag-needed / packet-too-big, and the client's
// kernel keeps the path MTU 1280 as a route exception for 10 minutes.
ReachResult learn_path_mtu(Lab& lab, Family fam, int count) {
  lab.set_link_mtu(Node::r2, Node::server, 1280);
  probe::ReachOptions o;
  o.destination = lab.addr(Node::server, fam);
  o.count = count;
  o.payload_size = 1400;
  o.probe_timeout = milliseconds(500);
  return reach_from_client(lab, o);
}

// ---------------------------------------------------------------------------------------------
// route

// Passes requests to the kernel and keeps every reply, to write them out as fixtures.
class RecordingExchange final : public probe::RouteExchange {
 public:
  explicit RecordingExchange(probe::RtnetlinkExchange live) : live_(std::move(live)) {}
  Result<std::vector<std::byte>> exchange(std::span<const std::byte> request,
                                          probe::Clock::time_point deadline) override {
    auto reply = live_.exchange(request, deadline);
    if (reply) replies.push_back(*reply);
    return reply;
  }
  Result<std::uint32_t> interface_index(const std::string& name) override {
    return live_.interface_index(name);
  }
  std::vector<std::vector<std::byte>> replies;

 private:
  probe::RtnetlinkExchange live_;
};

class RouteLab : public LabTest, public ::testing::WithParamInterface<Family> {
 protected:
  Family fam() const { return GetParam(); }

  RouteResult route(probe::RouteQuery q) {
    return lab().in_ns(Node::client, [&] { return probe::lookup_route(q); });
  }
  RouteResult route(const std::string& destination) {
    probe::RouteQuery q;
    q.destination = destination;
    return route(q);
  }
  std::uint32_t client_ifindex(const std::string& name) {
    return lab().in_ns(Node::client, [&] { return ::if_nametoindex(name.c_str()); });
  }
  void ip_route(const std::vector<std::string>& args) {
    std::vector<std::string> argv{"ip", fam() == Family::v4 ? "-4" : "-6", "route"};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto r = lab().exec(Node::client, argv);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  // A prefix inside the lab's range (so more specific than the route via r1) that nobody uses.
  std::string spare_prefix() const {
    return fam() == Family::v4 ? "198.18.77.0/24" : "2001:db8:77::/64";
  }
  std::string spare_address() const {
    return fam() == Family::v4 ? "198.18.77.5" : "2001:db8:77::5";
  }

  // A refusal: no route fields, the errno and how long it took.
  static void expect_refused(const RouteResult& r, RouteOutcome outcome, int error) {
    EXPECT_EQ(r.outcome, outcome) << probe::route_outcome_name(r.outcome);
    EXPECT_EQ(r.kernel_error, error);
    EXPECT_EQ(r.error, std::nullopt);
    EXPECT_EQ(r.interface, "");
    EXPECT_EQ(r.ifindex, 0u);
    EXPECT_EQ(r.source, std::nullopt);
    EXPECT_EQ(r.gateway, std::nullopt);
    EXPECT_EQ(r.link_mtu, std::nullopt);
    EXPECT_LT(r.duration, milliseconds(100));
  }
};

TEST_P(RouteLab, ServerIsReachedThroughR1FromTheClientsAddress) {
  const RouteResult r = route(lab().addr(Node::server, fam()));
  ASSERT_EQ(r.outcome, RouteOutcome::ok) << (r.error ? r.error->message() : "");
  EXPECT_EQ(r.family, af(fam()));
  EXPECT_EQ(r.destination, lab().addr(Node::server, fam()));
  EXPECT_EQ(r.kernel_error, 0);
  EXPECT_EQ(r.error, std::nullopt);
  EXPECT_EQ(r.route_type, RTN_UNICAST);
  EXPECT_EQ(r.table, static_cast<std::uint32_t>(RT_TABLE_MAIN));
  EXPECT_EQ(r.interface, lab().iface(Node::client, Node::r1));
  EXPECT_EQ(r.ifindex, client_ifindex(lab().iface(Node::client, Node::r1)));
  EXPECT_EQ(r.source, std::optional<std::string>(lab().addr(Node::client, fam())));
  EXPECT_EQ(r.gateway, std::optional<std::string>(lab().addr(Node::r1, Node::client, fam())));
  EXPECT_EQ(r.route_mtu, std::nullopt);
  EXPECT_EQ(r.expires, std::nullopt);
  EXPECT_EQ(r.link_mtu, std::optional<std::uint32_t>(1500));
  EXPECT_EQ(r.link_up, std::optional<bool>(true));
  EXPECT_GT(r.duration.count(), 0);
  EXPECT_LT(r.duration, milliseconds(100));
  RecordProperty("duration_us", static_cast<int>(r.duration.count()));
}

TEST_P(RouteLab, OnLinkNeighbourHasNoGateway) {
  const RouteResult r = route(lab().addr(Node::r1, Node::client, fam()));
  ASSERT_EQ(r.outcome, RouteOutcome::ok);
  EXPECT_EQ(r.interface, lab().iface(Node::client, Node::r1));
  EXPECT_EQ(r.source, std::optional<std::string>(lab().addr(Node::client, fam())));
  EXPECT_EQ(r.gateway, std::nullopt);
  EXPECT_EQ(r.table, static_cast<std::uint32_t>(RT_TABLE_MAIN));
}

TEST_P(RouteLab, OwnAddressIsLocalThroughLoopback) {
  const RouteResult r = route(lab().addr(Node::client, fam()));
  ASSERT_EQ(r.outcome, RouteOutcome::local) << probe::route_outcome_name(r.outcome);
  EXPECT_EQ(r.route_type, RTN_LOCAL);
  // IPv4 merges the local table into main while no custom rules exist (Linux 4.1+).
  EXPECT_EQ(r.table, static_cast<std::uint32_t>(fam() == Family::v4 ? RT_TABLE_MAIN
                                                                     : RT_TABLE_LOCAL));
  EXPECT_EQ(r.interface, "lo");
  EXPECT_EQ(r.ifindex, 1u);
  EXPECT_EQ(r.source, std::optional<std::string>(lab().addr(Node::client, fam())));
  EXPECT_EQ(r.gateway, std::nullopt);
  EXPECT_EQ(r.link_mtu, std::optional<std::uint32_t>(65536));
  EXPECT_EQ(probe::route_finding_id(r.outcome), std::nullopt);
}

TEST_P(RouteLab, OutsideTheLabThereIsNoRoute) {
  const RouteResult r = route(outside(fam()));
  expect_refused(r, RouteOutcome::no_route, ENETUNREACH);
  EXPECT_EQ(r.family, af(fam()));
  EXPECT_EQ(probe::route_finding_id(r.outcome), std::optional<std::string_view>("net.no_route"));
}

TEST_P(RouteLab, RejectRoutesHaveTheirOwnOutcomes) {
  struct Case {
    const char* type;
    RouteOutcome outcome;
    int error;
  };
  for (const Case c : {Case{"unreachable", RouteOutcome::unreachable_route, EHOSTUNREACH},
                       Case{"prohibit", RouteOutcome::prohibited_route, EACCES},
                       Case{"blackhole", RouteOutcome::blackhole_route, EINVAL}}) {
    SCOPED_TRACE(c.type);
    ip_route({"add", c.type, spare_prefix()});
    expect_refused(route(spare_address()), c.outcome, c.error);
    // With the caller's own source address the answer is the same: the re-check without the
    // binding confirms that EINVAL was the route's.
    probe::RouteQuery q;
    q.destination = spare_address();
    q.source = lab().addr(Node::client, fam());
    expect_refused(route(q), c.outcome, c.error);
    ip_route({"del", c.type, spare_prefix()});
  }
  // A `throw` route with nothing behind it is no route at all.
  ip_route({"add", "throw", spare_prefix()});
  expect_refused(route(spare_address()), RouteOutcome::no_route, ENETUNREACH);
}

TEST_P(RouteLab, RouteMtuIsReported) {
  ip_route({"add", spare_prefix(), "via", lab().addr(Node::r1, Node::client, fam()), "mtu",
            "1400"});
  const RouteResult r = route(spare_address());
  ASSERT_EQ(r.outcome, RouteOutcome::ok);
  EXPECT_EQ(r.route_mtu, std::optional<std::uint32_t>(1400));
  EXPECT_EQ(r.expires, std::nullopt);
  EXPECT_EQ(r.link_mtu, std::optional<std::uint32_t>(1500));
  EXPECT_EQ(r.gateway, std::optional<std::string>(lab().addr(Node::r1, Node::client, fam())));
}

TEST_P(RouteLab, CallersBindingIsPassedOn) {
  probe::RouteQuery q;
  q.destination = lab().addr(Node::server, fam());
  q.source = lab().addr(Node::client, fam());
  q.interface = lab().iface(Node::client, Node::r1);
  RouteResult r = route(q);
  ASSERT_EQ(r.outcome, RouteOutcome::ok) << (r.error ? r.error->message() : "");
  EXPECT_EQ(r.source, q.source);
  EXPECT_EQ(r.interface, *q.interface);

  // Loopback has no route to the server. IPv4 then assumes the destination is on the named
  // link; IPv6 says there is no route, and since it routes the bare destination, that is the
  // binding's fault.
  q.source.reset();
  q.interface = "lo";
  r = route(q);
  if (fam() == Family::v4) {
    ASSERT_EQ(r.outcome, RouteOutcome::ok) << probe::route_outcome_name(r.outcome);
    EXPECT_EQ(r.interface, "lo");
    EXPECT_EQ(r.gateway, std::nullopt);
    EXPECT_EQ(r.source, std::optional<std::string>(lab().addr(Node::client, fam())));
  } else {
    ASSERT_EQ(r.outcome, RouteOutcome::error) << probe::route_outcome_name(r.outcome);
    ASSERT_TRUE(r.error.has_value());
    EXPECT_EQ(r.error->op, "route get " + q.destination + " oif lo");
    EXPECT_EQ(r.error->code, ENETUNREACH);
    EXPECT_EQ(r.error->detail, "the kernel refused the source address or interface");
    EXPECT_EQ(r.kernel_error, ENETUNREACH);
  }

  q.interface = "nosuchif0";
  r = route(q);
  ASSERT_EQ(r.outcome, RouteOutcome::error);
  ASSERT_TRUE(r.error.has_value());
  EXPECT_EQ(r.error->op, "nosuchif0");
  EXPECT_EQ(r.error->detail, "no such network interface");
  EXPECT_EQ(r.error->code, ENODEV);
}

TEST_P(RouteLab, ASourceThisHostDoesNotOwnIsAnError) {
  probe::RouteQuery q;
  q.destination = lab().addr(Node::server, fam());
  q.source = lab().addr(Node::r2, fam());
  const RouteResult r = route(q);
  if (fam() == Family::v4) {
    ASSERT_EQ(r.outcome, RouteOutcome::error) << probe::route_outcome_name(r.outcome);
    ASSERT_TRUE(r.error.has_value());
    EXPECT_EQ(r.error->op, "route get " + q.destination + " from " + *q.source);
    EXPECT_EQ(r.error->code, ENETUNREACH);
    EXPECT_EQ(r.error->detail, "the kernel refused the source address or interface");
    EXPECT_EQ(r.kernel_error, ENETUNREACH);
  } else {
    // IPv6 route lookups do not check that the source is local: the kernel answers with the
    // source it would choose itself.
    EXPECT_EQ(r.outcome, RouteOutcome::ok);
    EXPECT_EQ(r.source, std::optional<std::string>(lab().addr(Node::client, fam())));
  }
}

INSTANTIATE_TEST_SUITE_P(Families, RouteLab, ::testing::Values(Family::v4, Family::v6),
                         param_name);

// Records the replies the unit tests parse (tests/fixtures/rtnetlink), and checks that what
// lookup_route made of them live is what they say.
class RouteFixtures : public LabTest {};

TEST_F(RouteFixtures, RecordedRepliesParseAsTheyDidLive) {
  const char* dir = std::getenv("CONNSCOPE_RECORD_RTNETLINK");
  struct Recording {
    std::string name;
    std::string destination;
    std::vector<std::string> setup;  // an `ip route` command run first in the client
  };
  const std::vector<Recording> recordings = {
      {"v4_via_r1", lab().server_v4(), {}},
      {"v6_via_r1", lab().server_v6(), {}},
      {"v4_local", lab().client_v4(), {}},
      {"v4_mtu", "198.18.77.5", {"ip", "route", "add", "198.18.77.0/24", "via", "198.18.1.1",
                                 "mtu", "1400"}},
      {"v6_mtu", "2001:db8:77::5", {"ip", "-6", "route", "add", "2001:db8:77::/64", "via",
                                    "2001:db8:1::1", "mtu", "1400"}},
      {"v4_no_route", "192.0.2.1", {}},
      {"v6_no_route", "2001:db9::1", {}},
      {"v4_pmtu", lab().server_v4(), {"learn_path_mtu"}},
      {"v6_pmtu", lab().server_v6(), {"learn_path_mtu"}},
  };
  for (const auto& rec : recordings) {
    SCOPED_TRACE(rec.name);
    if (rec.setup == std::vector<std::string>{"learn_path_mtu"}) {
      learn_path_mtu(lab(), rec.name[1] == '4' ? Family::v4 : Family::v6, 1);
    } else if (!rec.setup.empty()) {
      ASSERT_EQ(lab().exec(Node::client, rec.setup).exit_code, 0);
    }
    auto [live, replies] = lab().in_ns(Node::client, [&] {
      auto ex = probe::RtnetlinkExchange::open();
      if (!ex) throw std::runtime_error(ex.error().message());
      RecordingExchange recorder(std::move(*ex));
      probe::RouteQuery q;
      q.destination = rec.destination;
      auto result = probe::lookup_route(q, recorder);
      return std::pair{result, recorder.replies};
    });
    ASSERT_FALSE(replies.empty());
    auto route = probe::parse_route_reply(replies[0]);
    ASSERT_TRUE(route.has_value()) << route.error().message();
    EXPECT_EQ(route->kernel_error, live.kernel_error);
    if (live.kernel_error == 0) {
      EXPECT_EQ(route->type, live.route_type);
      EXPECT_EQ(route->prefsrc, live.source);
      EXPECT_EQ(route->gateway, live.gateway);
      EXPECT_EQ(route->mtu, live.route_mtu);
      ASSERT_EQ(replies.size(), 2u);
      auto link = probe::parse_link_reply(replies[1]);
      ASSERT_TRUE(link.has_value()) << link.error().message();
      EXPECT_EQ(link->name, live.interface);
      EXPECT_EQ(link->mtu, live.link_mtu);
    } else {
      EXPECT_EQ(replies.size(), 1u);
    }
    if (dir == nullptr) continue;
    // Link replies are per interface: every route here leaves through eth0 or lo.
    const std::vector<std::string> names = {"route_" + rec.name, "link_" + live.interface};
    for (std::size_t i = 0; i < replies.size(); ++i) {
      std::ofstream out(std::string(dir) + "/" + names[i] + ".bin", std::ios::binary);
      out.write(reinterpret_cast<const char*>(replies[i].data()),
                static_cast<std::streamsize>(replies[i].size()));
      ASSERT_TRUE(out.good());
    }
  }
}

// The kernel answers every request flagged NLM_F_REQUEST; one without the flag gets no reply,
// which is how a stuck netlink socket looks. The exchange gives up at its deadline, and the
// socket still serves the next request.
class RouteExchangeLab : public LabTest {};

TEST_F(RouteExchangeLab, AnUnansweredRequestEndsAtTheDeadline) {
  lab().in_ns(Node::client, [&] {
    auto ex = probe::RtnetlinkExchange::open();
    ASSERT_TRUE(ex.has_value()) << ex.error().message();
    probe::RouteQuery q;
    q.destination = lab().server_v4();
    auto request = probe::build_route_request(q, std::nullopt, true, 41);
    ASSERT_TRUE(request.has_value());
    nlmsghdr h{};
    std::memcpy(&h, request->data(), sizeof h);
    h.nlmsg_flags = 0;
    std::memcpy(request->data(), &h, sizeof h);

    const auto start = probe::Clock::now();
    auto reply = ex->exchange(*request, start + milliseconds(200));
    const auto waited = probe::Clock::now() - start;
    ASSERT_FALSE(reply.has_value());
    EXPECT_EQ(reply.error().op, "rtnetlink request");
    EXPECT_EQ(reply.error().code, ETIMEDOUT);
    EXPECT_EQ(reply.error().detail, "no reply from the kernel before the deadline");
    EXPECT_GE(waited, milliseconds(200));
    EXPECT_LT(waited, milliseconds(300));

    const RouteResult r = probe::lookup_route(q, *ex);
    EXPECT_EQ(r.outcome, RouteOutcome::ok);
    EXPECT_EQ(r.gateway, std::optional<std::string>(lab().r1_v4()));
  });
}

// ---------------------------------------------------------------------------------------------
// reach

struct ReachParam {
  Family family;
  ReachMethod method;  // raw_socket: as root; ping_socket: ping_group_range opened to root
};

std::string reach_param_name(const ::testing::TestParamInfo<ReachParam>& p) {
  return std::string(to_string(p.param.family)) + "_" +
         std::string(probe::reach_method_name(p.param.method));
}

class ReachLab : public LabTest, public ::testing::WithParamInterface<ReachParam> {
 protected:
  void SetUp() override {
    LabTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    // Root's group 0 is outside the default "1 0", so only the raw socket works until then.
    if (GetParam().method == ReachMethod::ping_socket) {
      lab().sysctl(Node::client, "net.ipv4.ping_group_range", "0 0");
    }
  }
  Family fam() const { return GetParam().family; }
  std::string server() { return lab().addr(Node::server, fam()); }
  std::string r1() { return lab().addr(Node::r1, Node::client, fam()); }

  probe::ReachOptions options(const std::string& destination) {
    probe::ReachOptions o;
    o.destination = destination;
    o.count = 3;
    o.interval = milliseconds(200);
    o.probe_timeout = milliseconds(500);
    o.deadline = milliseconds(2000);
    return o;
  }

  ReachResult reach(probe::ReachOptions o) { return reach_from_client(lab(), std::move(o)); }

  // An nft rule in a node's lab table (input on hosts, forward on routers), for ICMP echo.
  void echo_rule(Node node, const std::string& match_and_verdict) {
    const bool router = node == Node::r1 || node == Node::r2;
    const std::string chain = router ? "forward" : "input";
    lab().nft(node, "add table inet connscope_lab\n"
                    "add chain inet connscope_lab " + chain +
                        " { type filter hook " + chain + " priority 0; policy accept; }\n"
                        "add rule inet connscope_lab " + chain + " " + match_and_verdict);
  }
  std::string echo_request() const {
    return fam() == Family::v4 ? "icmp type echo-request" : "icmpv6 type echo-request";
  }

  void expect_method(const ReachResult& r) {
    EXPECT_EQ(r.method, GetParam().method) << probe::reach_method_name(r.method);
    if (GetParam().method == ReachMethod::raw_socket) {
      EXPECT_EQ(r.ping_socket_error, EACCES);
      EXPECT_EQ(r.ping_group_range, (std::optional<std::pair<std::uint32_t, std::uint32_t>>(
                                        std::pair<std::uint32_t, std::uint32_t>{1, 0})));
    } else {
      EXPECT_EQ(r.ping_socket_error, 0);
      EXPECT_EQ(r.ping_group_range, std::nullopt);
    }
    EXPECT_EQ(r.raw_socket_error, 0);
    EXPECT_EQ(r.family, af(fam()));
  }

  // Every probe was sent, at 0, 200 and 400 ms (late by less than 100 ms even on a busy
  // machine), with sequence 1-3.
  static void expect_three_sent(const ReachResult& r) {
    ASSERT_EQ(r.probes.size(), 3u);
    for (std::size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(r.probes[i].sequence, i + 1);
      EXPECT_GE(r.probes[i].sent_at, milliseconds(200 * i));
      EXPECT_LT(r.probes[i].sent_at, milliseconds(200 * i + 100));
      EXPECT_EQ(r.probes[i].send_error, 0);
      EXPECT_EQ(r.probes[i].duplicates, 0u);
    }
    EXPECT_EQ(r.stats.sent, 3);
  }
};

TEST_P(ReachLab, ServerAnswersEveryRequest) {
  const ReachResult r = reach(options(server()));
  expect_method(r);
  ASSERT_EQ(r.outcome, ReachOutcome::replied)
      << probe::reach_outcome_name(r.outcome) << " " << (r.reason ? r.reason->message() : "");
  EXPECT_EQ(r.reason, std::nullopt);
  expect_three_sent(r);
  EXPECT_EQ(r.stats.received, 3);
  EXPECT_EQ(r.stats.loss_percent, 0.0);
  ASSERT_TRUE(r.stats.rtt_min && r.stats.rtt_avg && r.stats.rtt_max);
  EXPECT_GT(r.stats.rtt_min->count(), 0);
  EXPECT_LE(*r.stats.rtt_min, *r.stats.rtt_avg);
  EXPECT_LE(*r.stats.rtt_avg, *r.stats.rtt_max);
  EXPECT_LT(*r.stats.rtt_max, milliseconds(100));
  for (const auto& p : r.probes) {
    EXPECT_EQ(p.status, ProbeStatus::replied);
    EXPECT_EQ(p.reply_from, std::optional<std::string>(server()));
    EXPECT_EQ(p.ttl, std::optional<int>(62));  // 64, less r1 and r2
    EXPECT_EQ(p.error, std::nullopt);
  }
  EXPECT_TRUE(r.errors.empty());
  // The last request leaves at 400 ms; its reply ends the stage at once.
  EXPECT_GE(r.duration, milliseconds(400));
  EXPECT_LT(r.duration, milliseconds(650));
  EXPECT_EQ(probe::reach_finding_id(r.outcome), std::nullopt);
  RecordProperty("rtt_avg_us", static_cast<int>(r.stats.rtt_avg->count()));
  RecordProperty("duration_us", static_cast<int>(r.duration.count()));
}

TEST_P(ReachLab, EchoDroppedAtTheServerIsNoReplyNotDown) {
  echo_rule(Node::server, echo_request() + " drop");
  const ReachResult r = reach(options(server()));
  expect_method(r);
  ASSERT_EQ(r.outcome, ReachOutcome::no_reply) << probe::reach_outcome_name(r.outcome);
  expect_three_sent(r);
  EXPECT_EQ(r.stats.received, 0);
  EXPECT_EQ(r.stats.loss_percent, 100.0);
  EXPECT_EQ(r.stats.rtt_min, std::nullopt);
  EXPECT_EQ(r.stats.rtt_avg, std::nullopt);
  EXPECT_EQ(r.stats.rtt_max, std::nullopt);
  for (const auto& p : r.probes) {
    EXPECT_EQ(p.status, ProbeStatus::timed_out);
    EXPECT_EQ(p.rtt, std::nullopt);
  }
  EXPECT_TRUE(r.errors.empty());
  // The last request leaves at 400 ms and waits its 500 ms: done at 900 ms, never at the 2 s
  // deadline.
  EXPECT_GE(r.duration, milliseconds(900));
  EXPECT_LT(r.duration, milliseconds(1150));
  EXPECT_EQ(probe::reach_finding_id(r.outcome), std::nullopt);
  RecordProperty("duration_us", static_cast<int>(r.duration.count()));
}

TEST_P(ReachLab, OneRequestDroppedIsPartialLoss) {
  echo_rule(Node::server, echo_request() + (fam() == Family::v4 ? " icmp" : " icmpv6") +
                              " sequence 2 drop");
  const ReachResult r = reach(options(server()));
  ASSERT_EQ(r.outcome, ReachOutcome::partial_loss) << probe::reach_outcome_name(r.outcome);
  expect_three_sent(r);
  EXPECT_EQ(r.stats.received, 2);
  EXPECT_DOUBLE_EQ(r.stats.loss_percent, 100.0 / 3.0);
  EXPECT_EQ(r.probes[0].status, ProbeStatus::replied);
  EXPECT_EQ(r.probes[1].status, ProbeStatus::timed_out);
  EXPECT_EQ(r.probes[2].status, ProbeStatus::replied);
  EXPECT_TRUE(r.errors.empty());
  // Probe 2 (sent at 200 ms) times out at 700 ms, after probe 3's reply.
  EXPECT_GE(r.duration, milliseconds(700));
  EXPECT_LT(r.duration, milliseconds(950));
  EXPECT_EQ(probe::reach_finding_id(r.outcome), std::optional<std::string_view>("path.loss"));
}

TEST_P(ReachLab, HostUnreachableFromR1NamesR1) {
  echo_rule(Node::r1, echo_request() + (fam() == Family::v4
                                            ? " reject with icmp type host-unreachable"
                                            : " reject with icmpv6 type addr-unreachable"));
  const ReachResult r = reach(options(server()));
  expect_method(r);
  ASSERT_EQ(r.outcome, ReachOutcome::unreachable) << probe::reach_outcome_name(r.outcome);
  expect_three_sent(r);
  EXPECT_EQ(r.stats.received, 0);
  EXPECT_EQ(r.stats.loss_percent, 100.0);
  const bool v4 = fam() == Family::v4;
  ASSERT_EQ(r.errors.size(), 3u);
  for (std::uint16_t i = 0; i < 3; ++i) {
    const probe::ReachIcmpError expected{v4 ? probe::ErrOrigin::icmp : probe::ErrOrigin::icmp6,
                                         static_cast<std::uint8_t>(v4 ? 3 : 1),
                                         static_cast<std::uint8_t>(v4 ? 1 : 3), r1(),
                                         static_cast<std::uint16_t>(i + 1), 0};
    EXPECT_EQ(r.errors[i], expected);
    EXPECT_EQ(r.probes[i].status, ProbeStatus::icmp_error);
    EXPECT_EQ(r.probes[i].error, std::optional<probe::ReachIcmpError>(expected));
  }
  // The last error comes back at once after 400 ms.
  EXPECT_GE(r.duration, milliseconds(400));
  EXPECT_LT(r.duration, milliseconds(650));
  EXPECT_EQ(probe::reach_finding_id(r.outcome),
            std::optional<std::string_view>("net.host_unreachable"));
}

TEST_P(ReachLab, AdminProhibitedFromR1IsProhibited) {
  echo_rule(Node::r1, echo_request() + (fam() == Family::v4
                                            ? " reject with icmp type admin-prohibited"
                                            : " reject with icmpv6 type admin-prohibited"));
  const ReachResult r = reach(options(server()));
  ASSERT_EQ(r.outcome, ReachOutcome::prohibited) << probe::reach_outcome_name(r.outcome);
  ASSERT_EQ(r.errors.size(), 3u);
  const bool v4 = fam() == Family::v4;
  EXPECT_EQ(r.errors[0].type, v4 ? 3 : 1);
  EXPECT_EQ(r.errors[0].code, v4 ? 13 : 1);
  EXPECT_EQ(r.errors[0].from, r1());
  EXPECT_EQ(probe::reach_finding_id(r.outcome),
            std::optional<std::string_view>("net.admin_prohibited"));
}

TEST_P(ReachLab, NoRouteFailsToSend) {
  const ReachResult r = reach(options(outside(fam())));
  expect_method(r);
  ASSERT_EQ(r.outcome, ReachOutcome::send_failed) << probe::reach_outcome_name(r.outcome);
  ASSERT_TRUE(r.reason.has_value());
  EXPECT_EQ(r.reason->op, "sendto " + outside(fam()));
  EXPECT_EQ(r.reason->code, ENETUNREACH);
  ASSERT_EQ(r.probes.size(), 3u);
  for (const auto& p : r.probes) {
    EXPECT_EQ(p.status, ProbeStatus::send_failed);
    EXPECT_EQ(p.send_error, ENETUNREACH);
  }
  EXPECT_EQ(r.stats.sent, 0);
  EXPECT_EQ(r.stats.loss_percent, 0.0);
  // Nothing to wait for after the last request fails at 400 ms.
  EXPECT_GE(r.duration, milliseconds(400));
  EXPECT_LT(r.duration, milliseconds(550));
}

TEST_P(ReachLab, SourceAddressIsBound) {
  probe::ReachOptions o = options(server());
  o.count = 1;
  o.source = lab().addr(Node::client, fam());
  ReachResult r = reach(o);
  ASSERT_EQ(r.outcome, ReachOutcome::replied) << (r.reason ? r.reason->message() : "");
  EXPECT_EQ(r.stats.received, 1);
  if (GetParam().method == ReachMethod::ping_socket) {
    EXPECT_NE(r.identifier, 0);  // the kernel never hands out identifier 0
  }

  // An address this host does not own cannot be bound.
  o.source = lab().addr(Node::r2, fam());
  r = reach(o);
  ASSERT_EQ(r.outcome, ReachOutcome::error);
  ASSERT_TRUE(r.reason.has_value());
  EXPECT_EQ(r.reason->op, "bind " + *o.source);
  EXPECT_EQ(r.reason->code, EADDRNOTAVAIL);
  EXPECT_TRUE(r.probes.empty());
}

TEST_P(ReachLab, TooBigForThePathIsReportedWithTheMtuAndLearned) {
  const ReachResult r = learn_path_mtu(lab(), fam(), 3);
  expect_method(r);
  // The first request dies at r2; the kernel fragments the next ones to the learned MTU.
  ASSERT_EQ(r.outcome, ReachOutcome::partial_loss) << probe::reach_outcome_name(r.outcome);
  const bool v4 = fam() == Family::v4;
  ASSERT_EQ(r.errors.size(), 1u);
  const probe::ReachIcmpError expected{v4 ? probe::ErrOrigin::icmp : probe::ErrOrigin::icmp6,
                                       static_cast<std::uint8_t>(v4 ? 3 : 2),
                                       static_cast<std::uint8_t>(v4 ? 4 : 0),
                                       lab().addr(Node::r2, fam()), 1, 1280};
  EXPECT_EQ(r.errors[0], expected);
  ASSERT_EQ(r.probes.size(), 3u);
  EXPECT_EQ(r.probes[0].status, ProbeStatus::icmp_error);
  EXPECT_EQ(r.probes[1].status, ProbeStatus::replied);
  EXPECT_EQ(r.probes[2].status, ProbeStatus::replied);
  EXPECT_EQ(r.stats.received, 2);

  // The route now carries the learned path MTU and its expiry (net.ipv4.route.mtu_expires /
  // net.ipv6.route.mtu_expires, 600 s).
  const RouteResult route = lab().in_ns(Node::client, [&] {
    probe::RouteQuery q;
    q.destination = server();
    return probe::lookup_route(q);
  });
  ASSERT_EQ(route.outcome, RouteOutcome::ok);
  EXPECT_EQ(route.route_mtu, std::optional<std::uint32_t>(1280));
  ASSERT_TRUE(route.expires.has_value());
  EXPECT_GT(*route.expires, std::chrono::seconds(590));
  EXPECT_LE(*route.expires, std::chrono::seconds(600));
  EXPECT_EQ(route.link_mtu, std::optional<std::uint32_t>(1500));
}

INSTANTIATE_TEST_SUITE_P(
    Methods, ReachLab,
    ::testing::Values(ReachParam{Family::v4, ReachMethod::raw_socket},
                      ReachParam{Family::v6, ReachMethod::raw_socket},
                      ReachParam{Family::v4, ReachMethod::ping_socket},
                      ReachParam{Family::v6, ReachMethod::ping_socket}),
    reach_param_name);

// The reach stage in a process that is neither privileged nor in ping_group_range: a child
// forked in the client namespace that becomes nobody (65534) and so loses CAP_NET_RAW.
class ReachUnprivileged : public LabTest, public ::testing::WithParamInterface<Family> {};

TEST_P(ReachUnprivileged, IsUnavailableWithTheReason) {
  const Family fam = GetParam();
  const std::string destination = lab().addr(Node::server, fam);
  const std::string report = lab().in_ns(Node::client, [&] {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(fds[0]);
      std::string out;
      if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0) {
        out = "setuid failed";
      } else {
        asio::io_context io;
        probe::ReachOptions o;
        o.destination = destination;
        asio::co_spawn(io, probe::reach(io.get_executor(), o),
                       [&](std::exception_ptr e, ReachResult r) {
                         if (e) {
                           out = "exception";
                           return;
                         }
                         std::ostringstream s;
                         s << probe::reach_outcome_name(r.outcome) << '|'
                           << probe::reach_method_name(r.method) << '|' << r.ping_socket_error
                           << '|' << r.raw_socket_error << '|'
                           << (r.reason ? r.reason->op + "|" + std::to_string(r.reason->code) +
                                              "|" + r.reason->detail
                                        : "no reason")
                           << '|' << r.probes.size() << '|' << r.stats.sent;
                         out = s.str();
                       });
        io.run();
      }
      const ssize_t n = ::write(fds[1], out.data(), out.size());
      ::_exit(n == static_cast<ssize_t>(out.size()) ? 0 : 1);
    }
    ::close(fds[1]);
    std::string got;
    char buf[512];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof buf)) > 0) got.append(buf, static_cast<std::size_t>(n));
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) got += " (child failed)";
    return got;
  });
  EXPECT_EQ(report,
            "unavailable|unavailable|" + std::to_string(EACCES) + "|" + std::to_string(EPERM) +
                "|ICMP echo to " + destination + "|" + std::to_string(EPERM) +
                "|no CAP_NET_RAW for a raw socket, and no group of this process (65534) is "
                "inside net.ipv4.ping_group_range (1 0) for a ping socket|0|0");
}

INSTANTIATE_TEST_SUITE_P(Families, ReachUnprivileged, ::testing::Values(Family::v4, Family::v6),
                         param_name);

}  // namespace
}  // namespace connscope::lab
