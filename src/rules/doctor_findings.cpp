#include "rules/doctor_findings.h"

#include <chrono>
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

std::string family_text(DnsFamily f) {
  if (f == DnsFamily::v4) return "IPv4";
  if (f == DnsFamily::v6) return "IPv6";
  return "IPv4 or IPv6";
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
  e["servers"] = servers.empty() ? "no server" : servers;
  // The server whose answer decided, else the first one asked.
  std::optional<Endpoint> server = d.server;
  if (!server && !d.attempts.empty()) server = d.attempts.front().server;
  if (!server && !d.servers.empty()) server = d.servers.front();
  e["server"] = server ? server->to_string() : "the resolver";
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
    e["from"] = "this host's routing table";
    e["icmp"] = "none (a prohibit route)";
    add(out, StageId::route, *id, std::move(e), lang);
  }
}

void reach_findings(const DoctorReport& r, Lang lang, std::vector<StageFinding>& out) {
  if (!r.reach || r.row(StageId::reach).status != StageStatus::warn) return;
  const auto& re = *r.reach;
  const auto id = reach_finding_id(re.outcome);
  if (!id) return;
  Evidence e;
  e["address"] = re.destination;
  e["endpoint"] = Endpoint{re.family, re.destination, r.options.port}.to_string();
  e["port"] = std::to_string(r.options.port);
  e["sent"] = std::to_string(re.stats.sent);
  e["lost"] = std::to_string(re.stats.sent - re.stats.received);
  if (!re.errors.empty()) {
    const auto& err = re.errors.front();
    e["from"] = err.from.empty() ? "this host" : err.from;
    e["icmp"] = probe::icmp_evidence(err.origin, err.type, err.code);
  } else {
    e["from"] = re.destination;
    e["icmp"] = "none";
  }
  add(out, StageId::reach, *id, std::move(e), lang);
}

void connect_findings(const DoctorReport& r, Lang lang, std::vector<StageFinding>& out) {
  std::set<std::string> seen;
  for (const auto& a : r.connect) {
    std::optional<std::string_view> id;
    if (a.connected()) {
      if (a.syn_retransmits.value_or(0) > 0) id = kSlowHandshakeFinding;
    } else {
      id = finding_id(a.failure);
    }
    if (!id) continue;
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
      e["icmp"] = probe::icmp_evidence(a.queued->origin, a.queued->type, a.queued->code);
      e["from"] = a.queued->offender.value_or(a.remote.address);
    } else {
      e["icmp"] = "none";
      e["from"] = a.remote.address;
    }
    if (a.error != 0) e["errno"] = std::to_string(a.error);
    if (r.trace && r.trace->destination.address == a.remote.address) {
      const auto end = path_end(*r.trace);
      e["last_hop"] = end.hop == 0 ? "none" : fmt::format("{} ({})", end.hop, end.address.value_or("?"));
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
  e["stalled"] = stage == StageId::secure ? "TLS handshake" : "reply";
  e["out_of_order"] = std::to_string(m.out_of_order);
  e["mss"] = std::to_string(m.mss);
  add(out, stage, "path.mtu_blackhole", std::move(e), lang);
  return true;
}

void secure_findings(const DoctorReport& r, Lang lang, std::vector<StageFinding>& out) {
  if (!r.tls) return;
  if (mtu_finding(r, StageId::secure, lang, out)) return;
  const auto& t = *r.tls;
  for (std::string_view id : tls_finding_ids(t)) {
    Evidence e;
    e["endpoint"] = connected_endpoint(r);
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
  add(out, StageId::talk, id, std::move(e), lang);
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
  return out;
}

}  // namespace connscope::rules
