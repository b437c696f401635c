#include "rules/doctor_findings.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <system_error>
#include <map>
#include <set>
#include <string>

#include <fmt/format.h>

#include "core/duration.h"
#include "rules/client_findings.h"

namespace connscope::rules {

namespace {

using namespace probe;
using Evidence = std::map<std::string, std::string>;

std::string dur(Clock::duration d) {
  return format_elapsed(std::chrono::duration_cast<std::chrono::nanoseconds>(d));
}

// "any" is a token the texts render ("IPv4 or IPv6" in the reader's language).
std::string family_text(DnsFamily f) {
  if (f == DnsFamily::v4) return "IPv4";
  if (f == DnsFamily::v6) return "IPv6";
  return "any";
}

// An ICMP error as a token ("icmp:3:3", "icmp6:1:4"); the texts say it in words
// (rules/finding_text.h).
std::string icmp_token(ErrOrigin origin, std::uint8_t type, std::uint8_t code) {
  return fmt::format("{}:{}:{}", origin == ErrOrigin::icmp6 ? "icmp6" : "icmp", type, code);
}

// The URL of the run the findings are about.
std::string target_url(const DoctorReport& r) {
  if (r.redirects && !r.redirects->final_target.empty()) return r.redirects->final_target;
  return fmt::format("{}://{}{}", r.options.tls ? "https" : "http", r.options.target.http_host(), r.options.http_path);
}

// The address and port the stages after connect talked to.
std::string connected_endpoint(const DoctorReport& r) {
  return r.connect.empty() ? r.options.target.host : r.connect.back().remote.to_string();
}

void add(std::vector<StageFinding>& out, StageId stage, std::string_view id, Evidence evidence, Lang lang) {
  auto f = make_client_finding(id, std::move(evidence), lang);
  // Every id and its evidence is covered by the unit tests; a miss is a bug, shown as such
  // rather than dropped.
  if (!f) {
    Finding bug;
    bug.id = std::string(id);
    bug.severity = Severity::critical;
    bug.summary = f.error().message();
    out.push_back({stage, std::move(bug)});
    return;
  }
  out.push_back({stage, std::move(*f)});
}

void resolve_findings(const DoctorReport& r, Lang lang, std::vector<StageFinding>& out) {
  const auto& d = r.dns;
  const auto id = finding_id(d.failure);
  if (!id) return;
  Evidence e;
  e["name"] = d.name;
  e["family"] = family_text(d.family);
  e["timeout"] = dur(r.options.timeout);
  std::string servers;
  for (const auto& s : d.servers) servers += (servers.empty() ? "" : ", ") + s.to_string();
  e["servers"] = servers.empty() ? "none" : servers;
  // The server whose answer decided, else the first one asked.
  std::optional<Endpoint> server = d.server;
  if (!server && !d.attempts.empty()) server = d.attempts.front().server;
  if (!server && !d.servers.empty()) server = d.servers.front();
  e["server"] = server ? server->to_string() : "resolver";
  e["server_address"] = server ? server->address : "SERVER";
  if (d.rcode) e["rcode"] = std::string(rcode_name(*d.rcode));
  e["detail"] = d.detail;
  add(out, StageId::resolve, *id, std::move(e), lang);
}

void route_findings(const DoctorReport& r, Lang lang, std::vector<StageFinding>& out) {
  std::set<std::string> seen;
  for (const auto& rt : r.routes) {
    const auto id = route_finding_id(rt.outcome);
    if (!id || !seen.insert(std::string(*id)).second) continue;
    Evidence e;
    e["address"] = rt.destination;
    e["endpoint"] = Endpoint{rt.family, rt.destination, r.options.port}.to_string();
    e["port"] = std::to_string(r.options.port);
    e["route"] = rt.kernel_message.empty() ? std::string(route_outcome_name(rt.outcome))
                                           : fmt::format("{}: {}", route_outcome_name(rt.outcome), rt.kernel_message);
    // A prohibit route is this host's own refusal: it is the "router" that says no.
    e["from"] = "routing_table";
    e["icmp"] = "prohibit_route";
    add(out, StageId::route, *id, std::move(e), lang);
  }
}

void reach_findings(const DoctorReport& r, Lang lang, std::vector<StageFinding>& out) {
  if (!r.reach || r.row(StageId::reach).status != StageStatus::warn) return;
  const auto& re = *r.reach;
  auto id = reach_finding_id(re.outcome);
  if (!id && re.outcome == ReachOutcome::no_reply) id = "net.no_echo_reply";
  if (!id) return;
  Evidence e;
  e["address"] = re.destination;
  e["endpoint"] = Endpoint{re.family, re.destination, r.options.port}.to_string();
  e["port"] = std::to_string(r.options.port);
  e["sent"] = std::to_string(re.stats.sent);
  e["lost"] = std::to_string(re.stats.sent - re.stats.received);
  if (!re.errors.empty()) {
    const auto& err = re.errors.front();
    e["from"] = err.from.empty() ? "local" : err.from;
    e["icmp"] = icmp_token(err.origin, err.type, err.code);
  } else {
    e["from"] = re.destination;
    e["icmp"] = "none";
  }
  add(out, StageId::reach, *id, std::move(e), lang);
}

// The evidence a connect attempt's findings quote.
Evidence attempt_evidence(const DoctorReport& r, const ConnectAttempt& a) {
  Evidence e;
  e["endpoint"] = a.remote.to_string();
  e["address"] = a.remote.address;
  e["port"] = std::to_string(a.remote.port);
  e["timeout"] = dur(r.options.timeout);
  e["syns"] = std::to_string(a.syns_sent());
  e["retransmits"] = std::to_string(a.syn_retransmits.value_or(0));
  e["time"] = dur(a.elapsed);
  e["target"] = r.options.target.http_host();
  if (a.queued && a.queued->origin != ErrOrigin::local && a.queued->origin != ErrOrigin::none) {
    e["icmp"] = icmp_token(a.queued->origin, a.queued->type, a.queued->code);
    e["from"] = a.queued->offender.value_or(a.remote.address);
  } else {
    e["icmp"] = "none";
    e["from"] = a.remote.address;
  }
  if (a.error != 0) e["errno"] = std::to_string(a.error);
  // net.no_route at connect: the kernel refused the SYN itself.
  // The errno by its name ("connect: ENETUNREACH"), which reads the same in every language.
  const char* errno_name = a.error != 0 ? ::strerrorname_np(a.error) : nullptr;
  e["route"] = a.error == 0        ? std::string(connect_failure_name(a.failure))
               : errno_name != nullptr ? fmt::format("connect: {}", errno_name)
                                       : fmt::format("connect: errno {}", a.error);
  if (a.icmp_from_trace) e["icmp_from_trace"] = "yes";
  // The hop whose ICMP errors are rate-limited, if the trace met one (the texts' {icmp_note}).
  e["rate_limited_hop"] = "";
  if (r.trace && r.trace->destination.address == a.remote.address) {
    const auto end = path_end(*r.trace);
    e["last_hop"] = end.hop == 0 ? "none" : fmt::format("{} ({})", end.hop, end.address.value_or("?"));
    for (const auto& hop : r.trace->hops) {
      if (hop.loss == HopLoss::rate_limited && e["rate_limited_hop"].empty()) {
        e["rate_limited_hop"] = std::to_string(hop.ttl);
      }
    }
  }
  return e;
}

// Some addresses connected, this one did not: who is hit depends on the family.
void some_addresses_fail(const DoctorReport& r, const ConnectAttempt& a, std::string_view failure_id,
                         Evidence failure, Lang lang, std::vector<StageFinding>& out) {
  const bool v6 = a.remote.family == AF_INET6;
  const std::size_t failed = static_cast<std::size_t>(std::count_if(
      r.connect.begin(), r.connect.end(), [](const ConnectAttempt& x) { return !x.connected(); }));
  const bool other_family_works = std::any_of(r.connect.begin(), r.connect.end(), [&](const ConnectAttempt& x) {
    return x.connected() && x.remote.family != a.remote.family;
  });
  // The failing address's own evidence, so that its finding's summary ({failure}) renders too.
  Evidence e = std::move(failure);
  e["name"] = r.dns.name.empty() ? r.options.target.host : r.dns.name;
  e["port"] = std::to_string(a.remote.port);
  e["address"] = a.remote.address;
  e["family"] = v6 ? "IPv6" : "IPv4";
  e["record"] = v6 ? "AAAA" : "A";
  e["flag"] = v6 ? "-6" : "-4";
  e["total"] = std::to_string(r.connect.size());
  e["failed"] = std::to_string(failed);
  e["failure_id"] = std::string(failure_id);
  // Who is hit, as a token the texts say in words.
  e["who"] = !other_family_works ? "round_robin" : v6 ? "prefer_ipv6" : "ipv4_only";
  add(out, StageId::connect, "net.some_addresses_fail", std::move(e), lang);
}

void connect_findings(const DoctorReport& r, Lang lang, std::vector<StageFinding>& out) {
  const bool some_connected = std::any_of(r.connect.begin(), r.connect.end(),
                                          [](const ConnectAttempt& a) { return a.connected(); });
  std::set<std::string> seen;
  for (const auto& a : r.connect) {
    std::optional<std::string_view> id;
    if (a.connected()) {
      // Only the address the later stages used speaks for the handshake's speed.
      if (&a == &r.connect.back() && a.syn_retransmits.value_or(0) > 0) id = kSlowHandshakeFinding;
    } else {
      id = finding_id(a.failure);
    }
    if (!id) continue;
    Evidence e = attempt_evidence(r, a);
    if (some_connected && !a.connected()) {
      some_addresses_fail(r, a, *id, std::move(e), lang, out);
      continue;
    }
    // One finding per kind and sender: two addresses refused alike are one story.
    if (!seen.insert(std::string(*id) + e["from"]).second) continue;
    add(out, StageId::connect, *id, std::move(e), lang);
  }
}

// A confirmed path-MTU black hole, at the stage that stalled; false when there is none there.
bool mtu_finding(const DoctorReport& r, StageId stage, Lang lang, std::vector<StageFinding>& out) {
  if (!r.mtu_retry || !r.mtu_retry->confirmed || r.mtu_retry->stalled != stage) return false;
  const auto& m = *r.mtu_retry;
  Evidence e;
  e["endpoint"] = connected_endpoint(r);
  e["stalled"] = stage == StageId::secure ? "tls_handshake" : "reply";
  e["out_of_order"] = std::to_string(m.out_of_order);
  e["mss"] = std::to_string(m.mss);
  add(out, stage, "path.mtu_blackhole", std::move(e), lang);
  return true;
}

void secure_findings(const DoctorReport& r, Lang lang, std::vector<StageFinding>& out) {
  if (!r.tls) return;
  if (mtu_finding(r, StageId::secure, lang, out)) return;
  const auto& t = *r.tls;
  auto ids = tls_finding_ids(t);
  // The server ended the connection before it said anything: the accept-time ending, met by
  // the ClientHello (after a ServerHello it is the handshake's failure: generic, with the error).
  if (t.first_bytes.empty() && !t.handshake_complete && t.version_number == 0) {
    if (t.outcome == TlsOutcome::closed_by_peer && !t.alert_received) ids.insert(ids.begin(), "tcp.closed_after_accept");
    if (t.outcome == TlsOutcome::reset_by_peer) ids.insert(ids.begin(), "tcp.reset_after_accept");
  }
  for (std::string_view id : ids) {
    Evidence e;
    e["endpoint"] = connected_endpoint(r);
    e["port"] = std::to_string(r.options.port);
    e["sni"] = t.sni.empty() ? r.options.target.host : t.sni;
    e["version"] = t.version.empty() ? "none" : t.version;
    e["verify"] = t.verify_error.empty() ? "ok" : t.verify_error;
    e["verify_code"] = std::to_string(t.verify_code);
    e["reply"] = t.peer_reply.kind == ReplyKind::none ? "nothing" : summarize(t.peer_reply);
    e["alert"] = t.alert_received ? fmt::format("{} ({})", t.alert_received->name, t.alert_received->description)
                                  : "none";
    if (!t.chain.empty()) {
      const auto& leaf = t.chain.front();
      e["subject"] = leaf.subject;
      e["issuer"] = leaf.issuer;
      e["not_before"] = leaf.not_before;
      e["not_after"] = leaf.not_after;
      std::string names;
      for (const auto& san : leaf.san) names += (names.empty() ? "" : ", ") + san;
      e["names"] = names.empty() ? leaf.subject : names;
    } else {
      for (const char* k : {"subject", "issuer", "not_before", "not_after", "names"}) e[k] = "unknown";
    }
    e["days"] = t.days_to_expiry ? std::to_string(*t.days_to_expiry) : "unknown";
    e["client_cert"] = t.client_certificate.empty() ? "none" : t.client_certificate;
    if (t.alert_after_handshake) e["alert_after_handshake"] = "yes";
    if (t.error) e["error"] = t.error->message();
    add(out, StageId::secure, id, std::move(e), lang);
  }
}

void repeat_findings(const DoctorReport& r, Lang lang, std::vector<StageFinding>& out) {
  if (!r.repeat || r.connect.empty()) return;
  const auto& st = *r.repeat;
  if (st.connected == st.attempts && st.with_retransmits == 0) return;
  Evidence e;
  e["endpoint"] = r.connect.back().remote.to_string();
  e["port"] = std::to_string(r.options.port);
  e["attempts"] = std::to_string(st.attempts);
  e["failed"] = std::to_string(st.attempts - st.connected);
  e["retransmitted"] = std::to_string(st.with_retransmits);
  e["loss"] = fmt::format("{:.1f}", st.syn_loss_percent());
  const auto t = summarize_times(st.times);
  e["time_median"] = dur(t.median);
  e["time_max"] = dur(t.max);
  add(out, StageId::connect, "tcp.handshake_loss", std::move(e), lang);
}

void talk_findings(const DoctorReport& r, Lang lang, std::vector<StageFinding>& out) {
  if (!r.talk) return;
  // The stall is the path's, not the application's silence.
  if (mtu_finding(r, StageId::talk, lang, out)) return;
  const auto& t = *r.talk;
  const std::string_view id = finding_id(t);
  if (id.empty()) return;
  Evidence e;
  e["endpoint"] = connected_endpoint(r);
  e["port"] = std::to_string(r.options.port);
  e["timeout"] = dur(r.options.timeout);
  e["host"] = r.options.target.http_host();
  e["path"] = r.options.http_path;
  e["first_byte"] = t.first_byte ? dur(*t.first_byte) : "never";
  e["status"] = t.http ? std::to_string(t.http->status) : "";
  e["reason"] = t.http ? t.http->reason : "";
  e["bytes_received"] = std::to_string(t.bytes_received);
  e["protocol"] = std::string(protocol_name(t.protocol));
  e["reply"] = t.reply.kind == ReplyKind::none ? "nothing" : summarize(t.reply);
  e["url"] = target_url(r);
  e["interim"] = std::to_string(t.http_interim);
  e["first_status"] = std::to_string(t.http_first_interim);
  e["close"] = t.peer_close == PeerClose::rst ? "RST" : "FIN";
  // What was sent to a silent service, as tokens ("tls_client_hello,http_request"; "none").
  std::string tried;
  if (r.identified) {
    for (const auto& what : r.identified->tried) {
      std::string token;
      if (what == "TLS ClientHello") token = "tls_client_hello";
      if (what == "HTTP request") token = "http_request";
      if (token.empty()) continue;  // the greeting is a wait, not something sent
      tried += (tried.empty() ? "" : ",") + token;
    }
  }
  e["tried"] = tried.empty() ? "none" : tried;
  add(out, StageId::talk, id, std::move(e), lang);
}

void redirect_findings(const DoctorReport& r, Lang lang, std::vector<StageFinding>& out) {
  if (!r.redirects || r.redirects->hops.empty()) return;
  const auto& c = *r.redirects;
  std::string_view id;
  if (c.stop == RedirectStop::loop) id = "http.redirect_loop";
  if (c.stop == RedirectStop::too_many) id = "http.too_many_redirects";
  if (id.empty()) return;
  std::string chain = c.hops.front().url;
  for (const auto& h : c.hops) chain += fmt::format(" -{}-> {}", h.status, h.location);
  Evidence e;
  e["url"] = c.hops.front().url;
  e["chain"] = chain;
  e["count"] = std::to_string(c.hops.size());
  e["max"] = std::to_string(kMaxRedirects);
  add(out, StageId::talk, id, std::move(e), lang);
}

// --- the invariant: a stage that warned or failed speaks through a finding ---

// The raw error a stage ended with, for its generic finding.
std::string stage_error(const DoctorReport& r, StageId stage) {
  if (stage == StageId::resolve) {
    return r.dns.detail.empty() ? std::string(dns_failure_name(r.dns.failure)) : r.dns.detail;
  }
  if (stage == StageId::route) {
    for (const auto& rt : r.routes) {
      if (rt.error) return rt.error->message();
      if (rt.outcome != RouteOutcome::ok && rt.outcome != RouteOutcome::local) {
        return std::string(route_outcome_name(rt.outcome));
      }
    }
  }
  if (stage == StageId::reach && r.reach) {
    return r.reach->reason ? r.reach->reason->message() : std::string(reach_outcome_name(r.reach->outcome));
  }
  if (stage == StageId::connect && !r.connect.empty()) {
    const auto& a = r.connect.back();
    std::string text(connect_failure_name(a.failure));
    if (!a.failed_op.empty()) text += ": " + a.failed_op;
    if (a.error != 0) text += fmt::format(" ({})", std::system_category().message(a.error));
    return text;
  }
  if (stage == StageId::secure && r.tls) {
    return r.tls->error ? r.tls->error->message() : std::string(outcome_name(r.tls->outcome));
  }
  if (stage == StageId::talk && r.talk) {
    return r.talk->error ? r.talk->error->message()
                         : fmt::format("{} (read ended: {})", outcome_name(r.talk->outcome),
                                       read_end_name(r.talk->end));
  }
  if (stage == StageId::close && r.close && r.close->error) return r.close->error->message();
  return "no detail";
}

std::string_view generic_id(StageId stage) {
  if (stage == StageId::resolve) return "dns.failed";
  if (stage == StageId::route) return "net.route_failed";
  if (stage == StageId::reach) return "net.reach_failed";
  if (stage == StageId::connect) return "tcp.connect_failed";
  if (stage == StageId::secure) return "tls.handshake_failed";
  if (stage == StageId::talk) return "app.failed";
  return "tcp.close_failed";
}

void generic_findings(const DoctorReport& r, Lang lang, std::vector<StageFinding>& out) {
  for (const auto& row : r.stages) {
    if (row.status != StageStatus::warn && row.status != StageStatus::fail) continue;
    const bool spoken = std::any_of(out.begin(), out.end(), [&](const StageFinding& f) { return f.stage == row.stage; });
    if (spoken) continue;
    Evidence e;
    e["name"] = r.dns.name.empty() ? r.options.target.host : r.dns.name;
    e["address"] = r.routes.empty() ? r.options.target.host : r.routes.front().destination;
    e["endpoint"] = connected_endpoint(r);
    e["sni"] = r.tls && !r.tls->sni.empty() ? r.tls->sni : r.options.target.host;
    e["protocol"] = std::string(protocol_name(r.options.protocol));
    e["error"] = stage_error(r, row.stage);
    const auto before = out.size();
    add(out, row.stage, generic_id(row.stage), std::move(e), lang);
    // The generic finding is as grave as the stage's ending.
    if (out.size() > before) {
      out.back().finding.severity = row.status == StageStatus::fail ? Severity::critical : Severity::warning;
    }
  }
}

}  // namespace

std::vector<StageFinding> doctor_findings(const DoctorReport& report, Lang lang) {
  std::vector<StageFinding> out;
  resolve_findings(report, lang, out);
  route_findings(report, lang, out);
  reach_findings(report, lang, out);
  connect_findings(report, lang, out);
  repeat_findings(report, lang, out);
  secure_findings(report, lang, out);
  talk_findings(report, lang, out);
  redirect_findings(report, lang, out);
  generic_findings(report, lang, out);
  // In stage order: the generic findings came last.
  std::stable_sort(out.begin(), out.end(), [](const StageFinding& a, const StageFinding& b) {
    return static_cast<int>(a.stage) < static_cast<int>(b.stage);
  });
  return out;
}

}  // namespace connscope::rules
