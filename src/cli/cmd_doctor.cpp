// `connscope doctor TARGET`: parses the target and options, runs probe::run_doctor on one
// io_context, asks rules::doctor_findings what the results mean, and renders the verdict line,
// one line per stage and the findings (or JSON, docs/json.md).

#include "cli/cmd_doctor.h"
#include "cli/doctor_text.h"
#include "cli/findings_text.h"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/App.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "rules/findings_json.h"
#include "core/display_width.h"
#include "core/duration.h"
#include "core/target.h"
#include "probe/doctor.h"
#include "rules/doctor_findings.h"
#include "watch/format.h"
#include "watch/host_events.h"

namespace connscope::cli {

namespace {

namespace asio = boost::asio;
using nlohmann::json;
using probe::Clock;
using probe::StageId;
using probe::StageStatus;

struct DoctorFlags {
  std::string target;
  std::optional<int> port;
  bool v4 = false;
  bool v6 = false;
  std::string resolver;
  std::string proto;
  std::string http_path;
  std::string sni;
  bool tls = false;
  bool no_tls = false;
  std::string ca_file;
  std::string cert;
  std::string key;
  bool insecure = false;
  int repeat = 1;
  bool follow = false;
};

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }
std::string dur(Clock::duration d) {
  return format_elapsed(std::chrono::duration_cast<std::chrono::nanoseconds>(d));
}

std::optional<AppProtocol> parse_protocol(std::string_view name) {
  for (AppProtocol p : {AppProtocol::banner, AppProtocol::http, AppProtocol::ssh, AppProtocol::smtp,
                        AppProtocol::ftp, AppProtocol::redis, AppProtocol::postgres, AppProtocol::mysql}) {
    if (protocol_name(p) == name) return p;
  }
  return std::nullopt;
}

// The options, or a usage error naming the input.
Result<probe::DoctorOptions> make_options(const GlobalOptions& g, const DoctorFlags& f) {
  auto target = parse_target(f.target);
  if (!target) return std::unexpected(target.error());
  probe::DoctorOptions o;
  o.target = *target;
  if (f.port) {
    if (*f.port < 1 || *f.port > 65535) {
      return fail("--port \"" + std::to_string(*f.port) + "\"", "not a port (1-65535)");
    }
    o.port = static_cast<std::uint16_t>(*f.port);
  } else if (target->port) {
    o.port = *target->port;
  } else {
    return fail("target \"" + f.target + "\"", tr(g.lang, Msg::doctor_no_port));
  }
  if (f.v4 && f.v6) return fail("-4 and -6", "choose one");
  o.family = f.v4 ? probe::DnsFamily::v4 : f.v6 ? probe::DnsFamily::v6 : probe::DnsFamily::any;
  if ((target->kind == HostKind::ipv4 && f.v6) || (target->kind == HostKind::ipv6 && f.v4)) {
    return fail("target \"" + f.target + "\"", f.v6 ? "an IPv4 address with -6" : "an IPv6 address with -4");
  }
  if (!f.resolver.empty()) {
    auto r = probe::parse_resolver(f.resolver);
    if (!r) return std::unexpected(r.error());
    o.resolver = *r;
  }
  // Without a scheme, the port may suggest one (5432 → postgres); --port counts too.
  o.protocol = target_protocol(*target, o.port);
  if (!f.proto.empty()) {
    auto p = parse_protocol(f.proto);
    if (!p) {
      return fail("--proto \"" + f.proto + "\"",
                  "unknown protocol (banner, http, ssh, smtp, ftp, redis, postgres, mysql)");
    }
    o.protocol = *p;
  }
  o.http_path = target->http_path.empty() ? "/" : target->http_path;
  if (!f.http_path.empty()) {
    if (f.http_path.front() != '/') return fail("--http-path \"" + f.http_path + "\"", "must start with /");
    o.http_path = f.http_path;
  }
  if (f.tls && f.no_tls) return fail("--tls and --no-tls", "choose one");
  // Without a scheme, a TLS port (443, 465, 8443) implies TLS too.
  o.tls = f.tls || (!f.no_tls && target_tls(*target, o.port));
  if (!f.sni.empty()) o.sni = f.sni;
  // Nothing says what the service speaks: the doctor finds out (probe::Identification).
  o.identify = target->scheme == Scheme::none && f.proto.empty() && !f.tls && !f.no_tls &&
               o.protocol == AppProtocol::banner;
  o.insecure = f.insecure;
  if (!f.ca_file.empty()) o.ca_file = f.ca_file;
  if (f.cert.empty() != f.key.empty()) return fail(f.cert.empty() ? "--key" : "--cert", "needs --cert and --key together");
  if (!f.cert.empty()) o.client_cert = probe::ClientCertificate{f.cert, f.key};
  // Checked here so that a wrong file is a usage error naming it; the secure stage loads them.
  if (auto check = probe::check_tls_files(o.ca_file, o.client_cert); !check) return std::unexpected(check.error());
  if (f.repeat < 1 || f.repeat > 1000) {
    return fail("--repeat \"" + std::to_string(f.repeat) + "\"", "must be 1 to 1000");
  }
  o.repeat = f.repeat;
  o.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(g.timeout);
  if (o.timeout.count() == 0) o.timeout = std::chrono::milliseconds(1);
  return o;
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



// The target's addresses when it is this host (an address of it, or localhost), with the port.
std::vector<Endpoint> local_targets(const probe::DoctorOptions& o) {
  std::vector<Endpoint> out;
  if (o.target.kind == HostKind::ipv4 || o.target.kind == HostKind::ipv6) {
    Endpoint e{o.target.kind == HostKind::ipv4 ? AF_INET : AF_INET6, o.target.host, o.port};
    if (watch::is_local_address(e)) out.push_back(e);
  } else if (o.target.host == "localhost") {
    out.push_back(Endpoint{AF_INET, "127.0.0.1", o.port});
    out.push_back(Endpoint{AF_INET6, "::1", o.port});
  }
  return out;
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

int run_doctor_cmd(const GlobalOptions& g, const DoctorFlags& f) {
  auto options = make_options(g, f);
  if (!options) return report(g, options.error(), ExitCode::usage);

  // Like curl_global_init: outside the secure stage's time, which then compares with curl's.
  if (options->tls || f.follow || options->identify || options->ca_file || options->client_cert) {
    probe::init_tls_library();
  }
  auto run_once = [](const probe::DoctorOptions& o) {
    asio::io_context io(1);
    auto future = asio::co_spawn(io, probe::run_doctor(io.get_executor(), o), asio::use_future);
    io.run();
    return future.get();
  };
  // A target on this host: the kernel's drops and resets of the doctor's own connections are
  // evidence (a firewall rule here, nothing listening). Needs the privilege to load BPF. Each run
  // (each --follow hop: another address, another port) attaches tracers of its own.
  struct TracedRun {
    probe::DoctorReport report;
    std::vector<watch::Event> events;
    bool traced = false;
    std::optional<Error> off;  // why the tracers could not be attached
  };
  const auto traced_run = [&](const probe::DoctorOptions& o) {
    TracedRun t;
    std::optional<watch::ConnectionEvents> host;
    if (auto targets = local_targets(o); !targets.empty()) {
      auto started = watch::ConnectionEvents::start(std::move(targets));
      if (started) {
        host.emplace(std::move(*started));
      } else {
        t.off = started.error();
      }
    }
    t.report = run_once(o);
    if (host) {
      std::vector<std::uint16_t> ports;
      for (const auto& a : t.report.connect)
        if (a.local) ports.push_back(a.local->port);
      t.events = host->collect(ports);
      t.traced = true;
    }
    return t;
  };
  TracedRun run = traced_run(*options);
  probe::DoctorReport& r = run.report;
  // --follow: each 3xx with a Location starts a new run at the URL it names. Options that name
  // this target (--port, --sni, --http-path, --proto) do not carry over to the next.
  probe::RedirectChain chain;
  chain.final_target = f.target;
  while (f.follow && r.talk && r.talk->http) {
    const auto& h = *r.talk->http;
    const bool redirect = h.status == 301 || h.status == 302 || h.status == 303 || h.status == 307 || h.status == 308;
    if (!redirect || h.location.empty()) break;
    auto next = redirect_url(r.options.target, h.location);
    if (!next) {
      chain.stop = probe::RedirectStop::unfollowable;
      chain.note = next.error().message();
      break;
    }
    chain.hops.push_back({chain.final_target, h.status, *next});
    bool loop = false;
    for (const auto& rd : chain.hops) loop = loop || rd.url == *next;
    if (loop) {
      chain.stop = probe::RedirectStop::loop;
      break;
    }
    if (chain.hops.size() > probe::kMaxRedirects) {
      chain.stop = probe::RedirectStop::too_many;
      break;
    }
    DoctorFlags hop = f;
    hop.target = *next;
    hop.port.reset();
    hop.sni.clear();
    hop.http_path.clear();
    hop.proto.clear();
    hop.tls = hop.no_tls = false;
    auto hop_options = make_options(g, hop);
    if (!hop_options) {
      chain.stop = probe::RedirectStop::unfollowable;
      chain.note = hop_options.error().message();
      break;
    }
    chain.final_target = *next;
    run = traced_run(*hop_options);
  }
  const std::string current = chain.final_target;
  if (f.follow) probe::apply_redirects(r, std::move(chain));
  auto findings = rules::doctor_findings(r, g.lang);
  const std::vector<watch::Event>& kernel_events = run.events;

  const auto verdict_stage = r.verdict_stage();
  const StageStatus verdict = r.verdict();
  // The finding that speaks for the verdict: the first of the deciding stage.
  rules::StageFinding* lead = nullptr;
  for (auto& sf : findings) {
    if (verdict_stage && sf.stage == *verdict_stage) {
      lead = &sf;
      break;
    }
  }
  attach_host_events(findings, lead, kernel_events);

  if (g.json) {
    json j;
    j["target"] = f.target;
    if (r.redirects) {
      json rj = json::array();
      for (const auto& rd : r.redirects->hops) rj.push_back({{"url", rd.url}, {"status", rd.status}, {"location", rd.location}});
      j["redirects"] = rj;
      j["final_target"] = current;
      if (r.redirects->stop != probe::RedirectStop::none) {
        j["redirect_stopped"] = {{"reason", probe::redirect_stop_name(r.redirects->stop)},
                                 {"detail", r.redirects->note.empty() ? json(nullptr) : json(r.redirects->note)}};
      }
    }
    j["port"] = options->port;
    j["verdict"] = {{"status", probe::status_name(verdict)},
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
    for (const auto& sf : findings) plain.push_back(sf.finding);
    json fj = rules::findings_json(plain);
    for (std::size_t i = 0; i < fj.size() && i < findings.size(); ++i) {
      fj[i]["stage"] = probe::stage_name(findings[i].stage);
    }
    j["findings"] = fj;
    if (run.traced || run.off) {
      json ev = json::array();
      for (const auto& e : kernel_events) ev.push_back(watch::event_json(e, g.lang));
      j["host_events"] = {{"events", ev},
                          {"off", run.off ? json(run.off->message()) : json(nullptr)}};
    }
    j["duration_ms"] = ms(r.total);
    fmt::print("{}\n", j.dump(2));
  } else {
    const Style st{g.color};
    if (r.redirects) {
      for (const auto& rd : r.redirects->hops) {
        fmt::print("{}\n", tr(g.lang, Msg::d_redirect, fmt::arg("status", rd.status), fmt::arg("url", rd.url),
                              fmt::arg("location", rd.location)));
      }
      if (r.redirects->stop == probe::RedirectStop::unfollowable) {
        fmt::print("{}\n", tr(g.lang, Msg::d_redirect_unfollowable, fmt::arg("note", r.redirects->note)));
      }
    }
    std::string what;
    if (lead != nullptr) {
      what = lead->finding.summary;
    } else if (verdict_stage) {
      what = stage_summary(r, *verdict_stage, g.lang);
    }
    if (!verdict_stage) {
      fmt::print("{}\n", st.green(tr(g.lang, Msg::doctor_all_ok, fmt::arg("target", current),
                                     fmt::arg("total", dur(r.total)))));
    } else {
      const auto name = probe::stage_name(*verdict_stage);
      if (verdict == StageStatus::fail) {
        fmt::print("{}\n", st.red(tr(g.lang, Msg::doctor_verdict_fail, fmt::arg("stage", name), fmt::arg("what", what))));
      } else {
        fmt::print("{}\n", st.yellow(tr(g.lang, Msg::doctor_verdict_warn, fmt::arg("stage", name), fmt::arg("what", what))));
      }
    }
    for (const auto& row : r.stages) {
      // Padded before colouring, so the escape codes do not shift the columns.
      const std::string status = pad_right(status_text(g.lang, row.status), 7);
      std::string painted = status;
      if (row.status == StageStatus::ok) painted = st.green(status);
      if (row.status == StageStatus::warn) painted = st.yellow(status);
      if (row.status == StageStatus::fail) painted = st.red(status);
      if (row.status == StageStatus::skipped) painted = st.dim(status);
      const bool ran = row.status != StageStatus::skipped || (row.stage == StageId::reach && r.reach);
      std::string line = fmt::format("  {:<8} {} {:>9}  {}", probe::stage_name(row.stage), painted,
                                     ran ? dur(row.duration) : "", ran ? stage_summary(r, row.stage, g.lang) : "");
      while (!line.empty() && line.back() == ' ') line.pop_back();
      fmt::print("{}\n", line);
    }
    if (!findings.empty()) {
      fmt::print("\n{}\n", st.bold(tr(g.lang, Msg::doctor_findings_title)));
      for (const auto& sf : findings) {
        const auto& fd = sf.finding;
        fmt::print("  {} {} ({}): {}\n", severity_text(g.lang, fd.severity), fd.id,
                   probe::stage_name(sf.stage), fd.summary);
        fmt::print("{}\n", why_and_fix(fd, g.lang));
      }
    }
    if (!kernel_events.empty()) {
      fmt::print("\n{}\n", st.bold(tr(g.lang, Msg::doctor_host_events_title)));
      for (const auto& e : kernel_events) fmt::print("  {}\n", watch::format_line(e, g.lang, watch::LineOptions{g.color, false}));
    } else if (run.off && g.verbose > 0) {
      fmt::print("{}\n", st.dim(tr(g.lang, Msg::doctor_host_events_off, run.off->message())));
    }
  }
  return static_cast<int>(verdict == StageStatus::ok ? ExitCode::healthy : ExitCode::problems);
}

}  // namespace

std::function<int()> register_doctor(CLI::App& app, const GlobalOptions& global) {
  auto flags = std::make_shared<DoctorFlags>();
  const Lang lang = global.lang;
  auto* cmd = app.add_subcommand("doctor", tr(lang, Msg::help_doctor));
  cmd->add_option("target", flags->target, tr(lang, Msg::help_doctor_target))->required()->type_name("TARGET");
  cmd->add_option("--port", flags->port, tr(lang, Msg::help_doctor_port))->type_name("PORT");
  cmd->add_flag("-4", flags->v4, tr(lang, Msg::help_doctor_v4));
  cmd->add_flag("-6", flags->v6, tr(lang, Msg::help_doctor_v6));
  cmd->add_option("--resolver", flags->resolver, tr(lang, Msg::help_doctor_resolver))->type_name("IP[:PORT]");
  cmd->add_option("--proto", flags->proto, tr(lang, Msg::help_doctor_proto))->type_name("PROTO");
  cmd->add_option("--http-path", flags->http_path, tr(lang, Msg::help_doctor_http_path))->type_name("PATH");
  cmd->add_option("--repeat", flags->repeat, tr(lang, Msg::help_doctor_repeat))->type_name("N");
  cmd->add_flag("--follow", flags->follow, tr(lang, Msg::help_doctor_follow));
  cmd->add_option("--sni", flags->sni, tr(lang, Msg::help_doctor_sni))->type_name("NAME");
  cmd->add_flag("--tls", flags->tls, tr(lang, Msg::help_doctor_tls));
  cmd->add_flag("--no-tls", flags->no_tls, tr(lang, Msg::help_doctor_no_tls));
  cmd->add_option("--ca-file", flags->ca_file, tr(lang, Msg::help_doctor_ca_file))->type_name("FILE");
  cmd->add_flag("--insecure", flags->insecure, tr(lang, Msg::help_doctor_insecure));
  cmd->add_option("--cert", flags->cert, tr(lang, Msg::help_doctor_cert))->type_name("FILE");
  cmd->add_option("--key", flags->key, tr(lang, Msg::help_doctor_key))->type_name("FILE");
  return [cmd, flags, &global]() -> int {
    if (!cmd->parsed()) return -1;
    return run_doctor_cmd(global, *flags);
  };
}

}  // namespace connscope::cli
