// The doctor's invariant, over every way a stage can end: a stage that warns or fails names a
// finding of its own stage, from the catalog, with its texts filled in. The reports are
// generated from the stages' own outcome enums (every value up to the last), with the stage
// statuses the doctor computes from them, so a new outcome is covered the day it is added.
#include "rules/doctor_findings.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <functional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "rules/client_findings.h"

namespace connscope::rules {
namespace {

using namespace probe;

// Every value of an enum whose values run from 0 to `last`.
template <class E>
std::vector<E> all_until(E last) {
  std::vector<E> out;
  for (int i = 0; i <= static_cast<int>(last); ++i) out.push_back(static_cast<E>(i));
  return out;
}

void set(DoctorReport& r, StageId id, StageStatus s) {
  for (auto& row : r.stages) {
    if (row.stage == id) row.status = s;
  }
}

// A healthy run to 198.18.3.2:8080 (name lab.test): every stage ok but secure (skipped).
DoctorReport healthy() {
  DoctorReport r;
  r.options.target.host = "lab.test";
  r.options.port = 8080;
  for (StageId id : {StageId::resolve, StageId::route, StageId::reach, StageId::connect, StageId::secure,
                     StageId::talk, StageId::close}) {
    r.stages.push_back({id, id == StageId::secure ? StageStatus::skipped : StageStatus::ok, {}});
  }
  r.dns.name = "lab.test";
  r.dns.source = DnsSource::dns;
  r.dns.failure = DnsFailure::none;
  r.dns.addresses.push_back({AF_INET, "198.18.3.2", 60});
  RouteResult rt;
  rt.destination = "198.18.3.2";
  rt.family = AF_INET;
  rt.outcome = RouteOutcome::ok;
  r.routes.push_back(rt);
  ReachResult re;
  re.destination = "198.18.3.2";
  re.family = AF_INET;
  re.outcome = ReachOutcome::replied;
  re.stats.sent = re.stats.received = 3;
  r.reach = re;
  ConnectAttempt a;
  a.remote = Endpoint{AF_INET, "198.18.3.2", 8080};
  a.failure = ConnectFailure::none;
  a.syn_retransmits = 0;
  r.connect.push_back(a);
  TalkResult t;
  t.protocol = AppProtocol::banner;
  t.outcome = TalkOutcome::ok;
  t.end = ReadEnd::complete;
  t.bytes_received = 20;
  r.talk = t;
  r.close = CloseResult{};
  return r;
}

struct Case {
  std::string name;
  DoctorReport report;
};

std::vector<Case> cases() {
  std::vector<Case> out;
  const auto add = [&](std::string name, const std::function<void(DoctorReport&)>& change) {
    DoctorReport r = healthy();
    change(r);
    out.push_back({std::move(name), std::move(r)});
  };
  for (DnsFailure f : all_until(DnsFailure::other)) {
    if (f == DnsFailure::none || f == DnsFailure::bad_name) continue;  // bad_name: a usage error
    add("resolve " + std::string(dns_failure_name(f)), [f](DoctorReport& r) {
      r.dns.failure = f;
      r.dns.addresses.clear();
      r.dns.detail = "the resolver said so";
      r.routes.clear();
      r.reach.reset();
      r.connect.clear();
      r.talk.reset();
      r.close.reset();
      for (auto& row : r.stages) row.status = StageStatus::skipped;
      set(r, StageId::resolve, StageStatus::fail);
    });
  }
  for (RouteOutcome o : all_until(RouteOutcome::error)) {
    if (o == RouteOutcome::ok || o == RouteOutcome::local) continue;
    add("route " + std::string(route_outcome_name(o)), [o](DoctorReport& r) {
      r.routes.front().outcome = o;
      if (o == RouteOutcome::error) r.routes.front().error = Error{"rtnetlink", 105, ""};
      r.reach.reset();
      r.connect.clear();
      r.talk.reset();
      r.close.reset();
      for (auto& row : r.stages) {
        if (row.stage != StageId::resolve) row.status = StageStatus::skipped;
      }
      set(r, StageId::route, o == RouteOutcome::error ? StageStatus::warn : StageStatus::fail);
    });
  }
  for (ReachOutcome o : all_until(ReachOutcome::error)) {
    for (bool connected : {true, false}) {
      add("reach " + std::string(reach_outcome_name(o)) + (connected ? " connected" : " not connected"),
          [o, connected](DoctorReport& r) {
            r.reach->outcome = o;
            r.reach->stats.received = o == ReachOutcome::replied ? 3 : o == ReachOutcome::partial_loss ? 1 : 0;
            if (o == ReachOutcome::unreachable || o == ReachOutcome::prohibited) {
              r.reach->errors.push_back({ErrOrigin::icmp, 3, static_cast<std::uint8_t>(o == ReachOutcome::prohibited ? 13 : 1),
                                         "198.18.2.2", 1});
            }
            if (o == ReachOutcome::send_failed || o == ReachOutcome::error || o == ReachOutcome::unavailable) {
              r.reach->reason = Error{"ICMP echo", 1, "not permitted"};
            }
            if (!connected) {
              r.connect.front().failure = ConnectFailure::filtered;
              r.connect.front().timed_out = true;
              r.talk.reset();
              r.close.reset();
              set(r, StageId::connect, StageStatus::fail);
              set(r, StageId::talk, StageStatus::skipped);
              set(r, StageId::close, StageStatus::skipped);
            }
            set(r, StageId::reach, reach_status(*r.reach, connected));
          });
    }
  }
  for (ConnectFailure f : all_until(ConnectFailure::other)) {
    if (f == ConnectFailure::none) continue;
    for (bool another_works : {false, true}) {
      add("connect " + std::string(connect_failure_name(f)) + (another_works ? " beside a working address" : ""),
          [f, another_works](DoctorReport& r) {
            ConnectAttempt failed = r.connect.front();
            failed.failure = f;
            if (f == ConnectFailure::rejected_icmp) failed.queued = QueuedError{ErrOrigin::icmp, 3, 3, 111, 0, "198.18.3.2"};
            if (f == ConnectFailure::admin_prohibited) failed.queued = QueuedError{ErrOrigin::icmp, 3, 13, 113, 0, "198.18.2.2"};
            if (f == ConnectFailure::host_unreachable) failed.queued = QueuedError{ErrOrigin::icmp, 3, 1, 113, 0, "198.18.2.2"};
            if (f == ConnectFailure::other) {
              failed.error = 24;
              failed.failed_op = "socket";
            }
            if (another_works) {
              failed.remote = Endpoint{AF_INET6, "2001:db8:3::2", 8080};
              r.dns.addresses.push_back({AF_INET6, "2001:db8:3::2", 60});
              r.connect.insert(r.connect.begin(), failed);
            } else {
              r.connect = {failed};
              r.talk.reset();
              r.close.reset();
              set(r, StageId::talk, StageStatus::skipped);
              set(r, StageId::close, StageStatus::skipped);
            }
            set(r, StageId::connect, connect_status(r.connect));
          });
    }
  }
  add("connect after resent SYNs", [](DoctorReport& r) {
    r.connect.front().syn_retransmits = 2;
    set(r, StageId::connect, connect_status(r.connect));
  });
  for (TlsOutcome o : all_until(TlsOutcome::other)) {
    for (bool insecure : {false, true}) {
      add("secure " + std::string(outcome_name(o)) + (insecure ? " insecure" : ""), [o, insecure](DoctorReport& r) {
        TlsResult t;
        t.outcome = o;
        t.insecure = insecure;
        t.handshake_complete = o == TlsOutcome::ok || o == TlsOutcome::old_protocol;
        if (o == TlsOutcome::old_protocol) t.version_number = 0x0301;
        if (o == TlsOutcome::alert || o == TlsOutcome::client_cert_required) {
          t.alert_received = TlsAlert{2, o == TlsOutcome::alert ? 40 : 116, o == TlsOutcome::alert ? "handshake failure" : "certificate required"};
        }
        if (insecure && o == TlsOutcome::ok) {
          t.verification = TlsOutcome::untrusted;
          t.verify_code = 18;
          t.verify_error = "self-signed certificate";
        }
        if (o == TlsOutcome::other) t.error = Error{"TLS handshake", 0, "internal error"};
        r.options.tls = true;
        r.tls = std::move(t);
        set(r, StageId::secure, tls_status(*r.tls));
        if (!r.tls->handshake_complete) {
          r.talk.reset();
          r.close.reset();
          set(r, StageId::talk, StageStatus::skipped);
          set(r, StageId::close, StageStatus::skipped);
        }
      });
    }
  }
  add("secure expiring soon", [](DoctorReport& r) {
    TlsResult t;
    t.outcome = TlsOutcome::ok;
    t.handshake_complete = true;
    t.expiring_soon = true;
    t.days_to_expiry = 3;
    r.tls = std::move(t);
    set(r, StageId::secure, tls_status(*r.tls));
  });
  add("secure refused after the handshake", [](DoctorReport& r) {
    TlsResult t;
    t.outcome = TlsOutcome::ok;
    t.handshake_complete = true;
    t.version = "TLSv1.3";
    r.tls = std::move(t);
    refused_after_handshake(*r.tls, TlsAlert{2, 116, "certificate required"});
    r.talk.reset();
    r.close.reset();
    set(r, StageId::secure, tls_status(*r.tls));
    set(r, StageId::talk, StageStatus::skipped);
    set(r, StageId::close, StageStatus::skipped);
  });
  for (TalkOutcome o : all_until(TalkOutcome::failed)) {
    for (AppProtocol p : {AppProtocol::banner, AppProtocol::http, AppProtocol::redis}) {
      for (std::size_t bytes : {std::size_t{0}, std::size_t{40}}) {
        add(fmt::format("talk {} {} {} bytes", outcome_name(o), protocol_name(p), bytes), [=](DoctorReport& r) {
          r.options.protocol = p;
          r.talk->protocol = p;
          r.talk->outcome = o;
          r.talk->bytes_received = bytes;
          if (o == TalkOutcome::failed) r.talk->error = Error{"talk http: read response", 104, ""};
          if (o == TalkOutcome::http_no_final) {
            r.talk->http_interim = 3;
            r.talk->http_first_interim = 100;
          }
          if (o == TalkOutcome::reset_by_peer) r.talk->peer_close = PeerClose::rst;
          if (o == TalkOutcome::closed_by_peer) r.talk->peer_close = PeerClose::fin;
          set(r, StageId::talk, talk_status(*r.talk));
          if (talk_status(*r.talk) == StageStatus::fail) {
            r.close.reset();
            set(r, StageId::close, StageStatus::skipped);
          }
        });
      }
    }
  }
  add("close failed", [](DoctorReport& r) {
    r.close->error = Error{"close: shutdown", 9, ""};
    set(r, StageId::close, StageStatus::warn);
  });
  for (RedirectStop stop : all_until(RedirectStop::unfollowable)) {
    add("redirects " + std::string(redirect_stop_name(stop)), [stop](DoctorReport& r) {
      RedirectChain c;
      c.hops.push_back({"http://lab.test:8080/", 302, "http://lab.test:8080/a"});
      c.hops.push_back({"http://lab.test:8080/a", 302, "http://lab.test:8080/"});
      c.stop = stop;
      c.final_target = "http://lab.test:8080/a";
      apply_redirects(r, std::move(c));
    });
  }
  return out;
}

TEST(DoctorInvariant, EveryWarnedOrFailedStageNamesAFindingOfItsStage) {
  const auto all = cases();
  EXPECT_GT(all.size(), 100u);
  for (const auto& c : all) {
    const auto findings = doctor_findings(c.report, Lang::en);
    for (const auto& row : c.report.stages) {
      if (row.status != StageStatus::warn && row.status != StageStatus::fail) continue;
      bool named = false;
      for (const auto& f : findings) named = named || f.stage == row.stage;
      EXPECT_TRUE(named) << c.name << ": stage " << stage_name(row.stage) << " is "
                         << status_name(row.status) << " without a finding";
    }
    for (const auto& f : findings) {
      EXPECT_NE(find_client_spec(f.finding.id), nullptr) << c.name << ": " << f.finding.id;
      EXPECT_FALSE(f.finding.cause.empty()) << c.name << ": " << f.finding.id << " " << f.finding.summary;
      EXPECT_FALSE(f.finding.fix.empty()) << c.name << ": " << f.finding.id;
      EXPECT_EQ(f.finding.summary.find('{'), std::string::npos) << c.name << ": " << f.finding.summary;
    }
  }
}

TEST(DoctorInvariant, AStageNoRuleKnowsGetsItsGenericFindingWithTheRawError) {
  DoctorReport r = healthy();
  r.talk->outcome = TalkOutcome::failed;
  r.talk->error = Error{"talk banner: read", 0, "tlsv13 alert internal error (SSL routines)"};
  set(r, StageId::talk, StageStatus::fail);
  r.close.reset();
  set(r, StageId::close, StageStatus::skipped);
  const auto fs = doctor_findings(r, Lang::en);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].stage, StageId::talk);
  EXPECT_EQ(fs[0].finding.id, "app.failed");
  EXPECT_EQ(fs[0].finding.severity, Severity::critical);
  EXPECT_EQ(fs[0].finding.evidence.at("error"), "talk banner: read: tlsv13 alert internal error (SSL routines)");
  EXPECT_EQ(fs[0].finding.summary,
            "talking banner to 198.18.3.2:8080 failed: talk banner: read: tlsv13 alert internal error (SSL routines)");
}

TEST(DoctorInvariant, OneAddressFailingWhileAnotherWorksIsAWarningNamingIt) {
  DoctorReport r = healthy();
  ConnectAttempt v6 = r.connect.front();
  v6.remote = Endpoint{AF_INET6, "2001:db8:3::2", 8080};
  v6.failure = ConnectFailure::refused;
  r.connect.insert(r.connect.begin(), v6);
  set(r, StageId::connect, connect_status(r.connect));
  EXPECT_EQ(r.row(StageId::connect).status, StageStatus::warn);
  const auto fs = doctor_findings(r, Lang::en);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].finding.id, "net.some_addresses_fail");
  EXPECT_EQ(fs[0].finding.severity, Severity::warning);
  EXPECT_EQ(fs[0].finding.evidence.at("address"), "2001:db8:3::2");
  EXPECT_EQ(fs[0].finding.evidence.at("family"), "IPv6");
  EXPECT_EQ(fs[0].finding.evidence.at("failure_id"), "tcp.refused");
  EXPECT_EQ(fs[0].finding.summary,
            "lab.test: 1 of 2 addresses fail, 2001:db8:3::2 (IPv6): [2001:db8:3::2]:8080 refused (RST from "
            "the host): nothing listens on port 8080");
  EXPECT_NE(fs[0].finding.cause.find("clients that prefer IPv6"), std::string::npos);
}

TEST(DoctorInvariant, ARedirectLoopFailsTheTalkStage) {
  DoctorReport r = healthy();
  RedirectChain c;
  c.hops.push_back({"http://lab.test:8080/", 301, "https://lab.test/"});
  c.hops.push_back({"https://lab.test/", 301, "http://lab.test:8080/"});
  c.stop = RedirectStop::loop;
  apply_redirects(r, std::move(c));
  EXPECT_EQ(r.verdict(), StageStatus::fail);
  EXPECT_EQ(r.verdict_stage(), StageId::talk);
  const auto fs = doctor_findings(r, Lang::en);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].finding.id, "http.redirect_loop");
  EXPECT_EQ(fs[0].finding.summary,
            "http://lab.test:8080/ redirects in a loop: http://lab.test:8080/ -301-> https://lab.test/ -301-> "
            "http://lab.test:8080/");
}

}  // namespace
}  // namespace connscope::rules
