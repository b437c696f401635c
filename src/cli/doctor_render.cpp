#include "cli/doctor_render.h"

#include <chrono>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/doctor_text.h"
#include "cli/findings_text.h"
#include "core/display_width.h"
#include "core/duration.h"
#include "rules/findings_json.h"
#include "watch/format.h"
#include "watch/host_events.h"

namespace connscope::cli {

namespace {

using nlohmann::json;
using probe::Clock;
using probe::StageId;
using probe::StageStatus;

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }
std::string dur(Clock::duration d) {
  return format_elapsed(std::chrono::duration_cast<std::chrono::nanoseconds>(d));
}

// ---- evidence per stage, for JSON and for the stage lines ----

json resolve_json(const probe::DnsResult& d) {
  json j;
  j["name"] = d.name;
  j["source"] = probe::dns_source_name(d.source);
  j["failure"] = probe::dns_failure_name(d.failure);
  j["server"] = d.server ? json(d.server->to_string()) : json(nullptr);
  j["rcode"] = d.rcode ? json(probe::rcode_name(*d.rcode)) : json(nullptr);
  json cnames = json::array();
  for (const auto& c : d.cnames) cnames.push_back({{"alias", c.alias}, {"target", c.target}, {"ttl", c.ttl}});
  j["cnames"] = cnames;
  json addrs = json::array();
  for (const auto& a : d.addresses) {
    addrs.push_back({{"family", a.family == AF_INET6 ? "ipv6" : "ipv4"},
                     {"address", a.address},
                     {"ttl", a.ttl ? json(*a.ttl) : json(nullptr)}});
  }
  j["addresses"] = addrs;
  json servers = json::array();
  for (const auto& s : d.servers) servers.push_back(s.to_string());
  j["servers"] = servers;
  json attempts = json::array();
  for (const auto& a : d.attempts) {
    json queries = json::array();
    for (const auto& q : a.queries) {
      queries.push_back({{"type", probe::record_type_name(q.type)},
                         {"status", probe::ares_status_name(q.ares_status)},
                         {"rcode", q.rcode ? json(probe::rcode_name(*q.rcode)) : json(nullptr)},
                         {"failure", probe::dns_failure_name(q.failure)}});
    }
    attempts.push_back({{"server", a.server.to_string()},
                        {"failure", probe::dns_failure_name(a.failure)},
                        {"duration_ms", std::chrono::duration<double, std::milli>(a.elapsed).count()},
                        {"queries", queries}});
  }
  j["attempts"] = attempts;
  if (!d.detail.empty()) j["detail"] = d.detail;
  return j;
}


json route_json(const std::vector<probe::RouteResult>& routes) {
  json out = json::array();
  for (const auto& r : routes) {
    json j{{"destination", r.destination}, {"outcome", probe::route_outcome_name(r.outcome)}};
    if (r.outcome == probe::RouteOutcome::ok || r.outcome == probe::RouteOutcome::local) {
      j["interface"] = r.interface;
      j["source"] = r.source ? json(*r.source) : json(nullptr);
      j["gateway"] = r.gateway ? json(*r.gateway) : json(nullptr);
      j["table"] = r.table;
      j["type"] = probe::route_type_name(r.route_type);
      j["route_mtu"] = r.route_mtu ? json(*r.route_mtu) : json(nullptr);
      j["link_mtu"] = r.link_mtu ? json(*r.link_mtu) : json(nullptr);
      j["link_up"] = r.link_up ? json(*r.link_up) : json(nullptr);
    } else {
      j["errno"] = r.kernel_error;
      if (!r.kernel_message.empty()) j["kernel_message"] = r.kernel_message;
      if (r.error) j["error"] = r.error->message();
    }
    j["duration_ms"] = std::chrono::duration<double, std::milli>(r.duration).count();
    out.push_back(std::move(j));
  }
  return {{"routes", out}};
}


json reach_json(const probe::ReachResult& r) {
  json j{{"destination", r.destination},
         {"outcome", probe::reach_outcome_name(r.outcome)},
         {"method", probe::reach_method_name(r.method)},
         {"sent", r.stats.sent},
         {"received", r.stats.received},
         {"loss_percent", r.stats.loss_percent}};
  auto ms_of = [](const std::optional<std::chrono::microseconds>& v) {
    return v ? json(std::chrono::duration<double, std::milli>(*v).count()) : json(nullptr);
  };
  j["rtt_min_ms"] = ms_of(r.stats.rtt_min);
  j["rtt_avg_ms"] = ms_of(r.stats.rtt_avg);
  j["rtt_max_ms"] = ms_of(r.stats.rtt_max);
  json errors = json::array();
  for (const auto& e : r.errors) {
    errors.push_back({{"origin", probe::origin_name(e.origin)}, {"type", e.type}, {"code", e.code},
                      {"from", e.from}, {"sequence", e.sequence}});
  }
  j["errors"] = errors;
  if (r.reason) j["reason"] = r.reason->message();
  return j;
}


json connect_json(const std::vector<probe::ConnectAttempt>& attempts) {
  json out = json::array();
  for (const auto& a : attempts) {
    json j;
    j["remote"] = a.remote.to_string();
    j["local"] = a.local ? json(a.local->to_string()) : json(nullptr);
    j["result"] = probe::connect_failure_name(a.failure);
    j["duration_ms"] = std::chrono::duration<double, std::milli>(a.elapsed).count();
    j["syns_sent"] = a.syns_sent();
    j["syn_retransmits"] = a.syn_retransmits ? json(*a.syn_retransmits) : json(nullptr);
    j["timed_out"] = a.timed_out;
    if (a.queued) {
      j["icmp"] = {{"origin", probe::origin_name(a.queued->origin)},
                   {"type", a.queued->type},
                   {"code", a.queued->code},
                   {"from", a.queued->offender ? json(*a.queued->offender) : json(nullptr)},
                   {"from_trace", a.icmp_from_trace}};
    }
    if (a.error != 0) j["errno"] = a.error;
    if (!a.failed_op.empty()) j["failed_op"] = a.failed_op;
    if (a.rtt) j["rtt_ms"] = std::chrono::duration<double, std::milli>(*a.rtt).count();
    if (a.snd_mss) j["mss"] = *a.snd_mss;
    out.push_back(std::move(j));
  }
  return {{"attempts", out}};
}


// The doctor's trace, short: where the path ends.
json doctor_trace_json(const probe::TraceResult& t) {
  json hops = json::array();
  for (const auto& h : t.hops) {
    hops.push_back({{"ttl", h.ttl},
                    {"responders", h.responders},
                    {"received", h.stats.received},
                    {"destination", h.destination}});
  }
  const auto end = probe::path_end(t);
  return {{"destination", t.destination.to_string()},
          {"result", probe::trace_verdict_name(t.verdict)},
          {"hop", t.info.hop},
          {"reporter", t.info.reporter ? json(*t.info.reporter) : json(nullptr)},
          {"path_end_hop", end.hop},
          {"path_end", end.address ? json(*end.address) : json(nullptr)},
          {"last_responding_hop", t.last_responding_hop()},
          {"last_responder", t.last_responder() ? json(*t.last_responder()) : json(nullptr)},
          {"hops", hops},
          {"error", t.error ? json(t.error->message()) : json(nullptr)},
          {"duration_ms", std::chrono::duration<double, std::milli>(t.duration).count()}};
}


json repeat_json(const probe::HandshakeStats& st) {
  const auto t = probe::summarize_times(st.times);
  auto msd = [](std::chrono::microseconds v) { return std::chrono::duration<double, std::milli>(v).count(); };
  return {{"attempts", st.attempts},
          {"connected", st.connected},
          {"with_retransmits", st.with_retransmits},
          {"syns_sent", st.syns_sent},
          {"syn_retransmits", st.syn_retransmits},
          {"syn_loss_percent", st.syn_loss_percent()},
          {"time_min_ms", msd(t.min)},
          {"time_median_ms", msd(t.median)},
          {"time_mean_ms", msd(t.mean)},
          {"time_max_ms", msd(t.max)}};
}

json secure_json(const probe::TlsResult& t) {
  json j;
  j["outcome"] = probe::outcome_name(t.outcome);
  j["version"] = t.version.empty() ? json(nullptr) : json(t.version);
  j["cipher"] = t.cipher.empty() ? json(nullptr) : json(t.cipher);
  j["alpn"] = t.alpn.empty() ? json(nullptr) : json(t.alpn);
  j["sni"] = t.sni.empty() ? json(nullptr) : json(t.sni);
  j["verified"] = t.verified;
  j["verify_code"] = t.verify_code;
  j["verify_error"] = t.verify_error.empty() ? json(nullptr) : json(t.verify_error);
  j["insecure"] = t.insecure;
  j["ocsp"] = probe::ocsp_status_name(t.ocsp.status);
  j["days_to_expiry"] = t.days_to_expiry ? json(*t.days_to_expiry) : json(nullptr);
  json chain = json::array();
  for (const auto& c : t.chain) {
    chain.push_back({{"subject", c.subject}, {"issuer", c.issuer}, {"not_before", c.not_before},
                     {"not_after", c.not_after}, {"san", c.san}, {"key", c.key}});
  }
  j["chain"] = chain;
  if (t.alert_received) {
    j["alert_received"] = {{"description", t.alert_received->description},
                           {"name", t.alert_received->name},
                           {"after_handshake", t.alert_after_handshake}};
  }
  j["certificate_requested"] = t.certificate_requested;
  j["client_certificate"] = t.client_certificate.empty() ? json(nullptr) : json(t.client_certificate);
  if (t.peer_reply.kind != probe::ReplyKind::none) j["peer_reply"] = probe::summarize(t.peer_reply);
  if (t.out_of_order_at_deadline) j["out_of_order_at_deadline"] = *t.out_of_order_at_deadline;
  if (t.error) j["error"] = t.error->message();
  return j;
}


json talk_json(const probe::TalkResult& t) {
  json j;
  j["protocol"] = protocol_name(t.protocol);
  j["outcome"] = probe::outcome_name(t.outcome);
  j["end"] = probe::read_end_name(t.end);
  j["first_byte_ms"] = t.first_byte ? json(ms(*t.first_byte)) : json(nullptr);
  j["bytes_sent"] = t.bytes_sent;
  j["bytes_received"] = t.bytes_received;
  j["reply_kind"] = probe::reply_kind_name(t.reply.kind);
  j["reply"] = t.reply.kind == probe::ReplyKind::none ? json(nullptr) : json(probe::summarize(t.reply));
  if (t.http) {
    j["http"] = {{"version", fmt::format("{}.{}", t.http->version / 10, t.http->version % 10)},
                 {"status", t.http->status},
                 {"reason", t.http->reason},
                 {"server", t.http->server},
                 {"location", t.http->location.empty() ? json(nullptr) : json(t.http->location)},
                 {"content_type", t.http->content_type}};
  }
  if (t.peer_close != probe::PeerClose::none) j["peer_close"] = probe::peer_close_name(t.peer_close);
  if (t.out_of_order_at_deadline) j["out_of_order_at_deadline"] = *t.out_of_order_at_deadline;
  if (t.http_interim > 0) j["http_interim"] = {{"count", t.http_interim}, {"first_status", t.http_first_interim}};
  if (t.error) j["error"] = t.error->message();
  return j;
}

json identified_json(const probe::Identification& id) {
  return {{"speaks", probe::speaks_name(id.speaks)},
          {"greeting_wait_ms", id.greeting_wait.count()},
          {"tried", id.tried}};
}



json close_json(const probe::CloseResult& c) {
  json j{{"how", probe::peer_close_name(c.how)}, {"after_ms", ms(c.after)}, {"bytes_discarded", c.bytes_discarded}};
  if (c.error) j["error"] = c.error->message();
  return j;
}


json mtu_retry_json(const probe::MtuRetry& m) {
  json j{{"mss", m.mss},
         {"out_of_order", m.out_of_order},
         {"connected", m.connect.connected()},
         {"tls", m.tls ? json(probe::outcome_name(*m.tls)) : json(nullptr)},
         {"talk", m.talk ? json(probe::outcome_name(*m.talk)) : json(nullptr)},
         {"confirmed", m.confirmed},
         {"duration_ms", ms(m.elapsed)}};
  return j;
}



// The kernel's events as evidence: each finding of the deciding stage that names an address gets
// the events of that address (a name's IPv6 address can be dropped by a rule while its IPv4 one is
// refused); the lead finding, when it names none, gets them all.
void attach_host_events(std::vector<rules::StageFinding>& findings, const rules::StageFinding* lead,
                        const std::vector<watch::Event>& events) {
  if (lead == nullptr || events.empty()) return;
  for (auto& sf : findings) {
    if (sf.stage != lead->stage) continue;
    const auto address = sf.finding.evidence.find("address");
    if (address == sf.finding.evidence.end()) {
      if (&sf == lead) sf.finding.evidence["host_kernel_events"] = watch::events_summary(events);
      continue;
    }
    std::vector<watch::Event> own;
    for (const auto& e : events) {
      const bool to = e.destination && e.destination->address == address->second;
      const bool from = e.source && e.source->address == address->second;
      if (to || from) own.push_back(e);
    }
    if (!own.empty()) sf.finding.evidence["host_kernel_events"] = watch::events_summary(own);
  }
}

}  // namespace

const std::string& DoctorResult::final_target() const {
  return report.redirects && !report.redirects->final_target.empty() ? report.redirects->final_target : target;
}

DoctorResult doctor_result(std::string target, std::uint16_t port, probe::DoctorReport report,
                           std::vector<watch::Event> host_events, bool traced,
                           std::optional<Error> tracing_off, Lang lang) {
  DoctorResult d;
  d.target = std::move(target);
  d.port = port;
  d.report = std::move(report);
  d.findings = rules::doctor_findings(d.report, lang);
  d.host_events = std::move(host_events);
  d.traced = traced;
  d.tracing_off = std::move(tracing_off);
  const auto verdict_stage = d.report.verdict_stage();
  for (std::size_t i = 0; i < d.findings.size(); ++i) {
    if (verdict_stage && d.findings[i].stage == *verdict_stage) {
      d.lead = i;
      break;
    }
  }
  attach_host_events(d.findings, d.lead ? &d.findings[*d.lead] : nullptr, d.host_events);
  return d;
}

json render_json(const DoctorResult& d, Lang lang) {
  const probe::DoctorReport& r = d.report;
  const auto verdict_stage = r.verdict_stage();
  const rules::StageFinding* lead = d.lead ? &d.findings[*d.lead] : nullptr;
  json j;
  j["target"] = d.target;
  if (r.redirects) {
    json rj = json::array();
    for (const auto& rd : r.redirects->hops) rj.push_back({{"url", rd.url}, {"status", rd.status}, {"location", rd.location}});
    j["redirects"] = rj;
    j["final_target"] = d.final_target();
    if (r.redirects->stop != probe::RedirectStop::none) {
      j["redirect_stopped"] = {{"reason", probe::redirect_stop_name(r.redirects->stop)},
                               {"detail", r.redirects->note.empty() ? json(nullptr) : json(r.redirects->note)}};
    }
  }
  j["port"] = d.port;
  j["verdict"] = {{"status", probe::status_name(r.verdict())},
                  {"stage", verdict_stage ? json(probe::stage_name(*verdict_stage)) : json(nullptr)},
                  {"finding", lead != nullptr ? json(lead->finding.id) : json(nullptr)}};
  json stages = json::array();
  for (const auto& row : r.stages) {
    json s{{"stage", probe::stage_name(row.stage)},
           {"status", probe::status_name(row.status)},
           {"duration_ms", ms(row.duration)}};
    json evidence = json::object();
    // reach keeps its evidence when skipped: the reason ICMP could not be used.
    if (row.stage == StageId::reach && r.reach) evidence = reach_json(*r.reach);
    if (row.status != StageStatus::skipped) {
      if (row.stage == StageId::resolve) evidence = resolve_json(r.dns);
      if (row.stage == StageId::route) evidence = route_json(r.routes);
      if (row.stage == StageId::connect) {
        evidence = connect_json(r.connect);
        evidence["addresses_not_tried"] = r.addresses_not_tried;
        if (r.repeat) evidence["repeat"] = repeat_json(*r.repeat);
        if (r.trace) evidence["trace"] = doctor_trace_json(*r.trace);
      }
      if (row.stage == StageId::secure && r.tls) evidence = secure_json(*r.tls);
      if (row.stage == StageId::talk && r.talk) evidence = talk_json(*r.talk);
      if ((row.stage == StageId::talk || row.stage == StageId::secure) && r.identified) {
        evidence["identified"] = identified_json(*r.identified);
      }
      if (row.stage == StageId::close && r.close) evidence = close_json(*r.close);
      if (r.mtu_retry && r.mtu_retry->stalled == row.stage) evidence["mtu_retry"] = mtu_retry_json(*r.mtu_retry);
    }
    s["evidence"] = evidence;
    stages.push_back(std::move(s));
  }
  j["stages"] = stages;
  std::vector<rules::Finding> plain;
  for (const auto& sf : d.findings) plain.push_back(sf.finding);
  json fj = rules::findings_json(plain);
  for (std::size_t i = 0; i < fj.size() && i < d.findings.size(); ++i) {
    fj[i]["stage"] = probe::stage_name(d.findings[i].stage);
  }
  j["findings"] = fj;
  if (d.traced || d.tracing_off) {
    json ev = json::array();
    for (const auto& e : d.host_events) ev.push_back(watch::event_json(e, lang));
    j["host_events"] = {{"events", ev},
                        {"off", d.tracing_off ? json(d.tracing_off->message()) : json(nullptr)}};
  }
  j["duration_ms"] = ms(r.total);
  return j;
}

std::string render_text(const DoctorResult& d, Lang lang, const Style& st, bool verbose) {
  const probe::DoctorReport& r = d.report;
  const auto verdict_stage = r.verdict_stage();
  const StageStatus verdict = r.verdict();
  const rules::StageFinding* lead = d.lead ? &d.findings[*d.lead] : nullptr;
  std::string out;
  const auto line = [&out](const std::string& s) {
    out += s;
    out += '\n';
  };
  if (r.redirects) {
    for (const auto& rd : r.redirects->hops) {
      line(tr(lang, Msg::d_redirect, fmt::arg("status", rd.status), fmt::arg("url", rd.url),
              fmt::arg("location", rd.location)));
    }
    if (r.redirects->stop == probe::RedirectStop::unfollowable) {
      const std::string note = r.redirects->error ? r.redirects->error->message(lang) : r.redirects->note;
      line(tr(lang, Msg::d_redirect_unfollowable, fmt::arg("note", note)));
    }
  }
  std::string what;
  if (lead != nullptr) {
    what = lead->finding.summary;
  } else if (verdict_stage) {
    what = stage_summary(r, *verdict_stage, lang);
  }
  if (!verdict_stage) {
    line(st.green(tr(lang, Msg::doctor_all_ok, fmt::arg("target", d.final_target()), fmt::arg("total", dur(r.total)))));
  } else {
    const auto name = probe::stage_name(*verdict_stage);
    if (verdict == StageStatus::fail) {
      line(st.red(tr(lang, Msg::doctor_verdict_fail, fmt::arg("stage", name), fmt::arg("what", what))));
    } else {
      line(st.yellow(tr(lang, Msg::doctor_verdict_warn, fmt::arg("stage", name), fmt::arg("what", what))));
    }
  }
  for (const auto& row : r.stages) {
    // Padded before colouring, so the escape codes do not shift the columns.
    const std::string status = pad_right(status_text(lang, row.status), 7);
    std::string painted = status;
    if (row.status == StageStatus::ok) painted = st.green(status);
    if (row.status == StageStatus::warn) painted = st.yellow(status);
    if (row.status == StageStatus::fail) painted = st.red(status);
    if (row.status == StageStatus::skipped) painted = st.dim(status);
    const bool ran = row.status != StageStatus::skipped || (row.stage == StageId::reach && r.reach);
    std::string text = fmt::format("  {:<8} {} {:>9}  {}", probe::stage_name(row.stage), painted,
                                   ran ? dur(row.duration) : "", ran ? stage_summary(r, row.stage, lang) : "");
    while (!text.empty() && text.back() == ' ') text.pop_back();
    line(text);
  }
  if (!d.findings.empty()) {
    out += '\n';
    line(st.bold(tr(lang, Msg::doctor_findings_title)));
    for (const auto& sf : d.findings) {
      const auto& fd = sf.finding;
      line(fmt::format("  {} {} ({}): {}", severity_text(lang, fd.severity), fd.id, probe::stage_name(sf.stage),
                       fd.summary));
      line(why_and_fix(fd, lang));
    }
  }
  if (!d.host_events.empty()) {
    out += '\n';
    line(st.bold(tr(lang, Msg::doctor_host_events_title)));
    for (const auto& e : d.host_events) line("  " + watch::format_line(e, lang, watch::LineOptions{st.on, false}));
  } else if (d.tracing_off && verbose) {
    line(st.dim(tr(lang, Msg::doctor_host_events_off, d.tracing_off->message(lang))));
  }
  return out;
}

}  // namespace connscope::cli
