#include "agent/probe_status.h"

#include <algorithm>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <set>
#include <tuple>
#include <utility>

#include <nlohmann/json.hpp>

#include "agent/history.h"
#include "core/target.h"
#include "probe/doctor_defaults.h"
#include "rules/findings_json.h"

namespace connscope::agent {

using nlohmann::json;
using probe::Clock;
using probe::StageId;
using probe::StageStatus;
using Ms = std::chrono::milliseconds;

std::string_view probe_source_name(ProbeSource s) {
  return s == ProbeSource::listener ? "listener" : "config";
}

namespace {

double ms_of(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }
double seconds_of(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

json run_json(const ProbeRun& r, Lang lang) {
  json stages = json::array();
  for (const auto& s : r.stages) {
    stages.push_back({{"stage", probe::stage_name(s.stage)},
                      {"status", probe::status_name(s.status)},
                      {"duration_ms", ms_of(s.duration)}});
  }
  std::vector<rules::Finding> plain;
  plain.reserve(r.findings.size());
  for (const auto& f : r.findings) plain.push_back(f.finding);
  // The common FINDING shape (rules/findings_json.h), plus the stage it belongs to.
  json findings = rules::findings_json(plain, lang);
  for (std::size_t i = 0; i < r.findings.size(); ++i) {
    findings[i]["stage"] = probe::stage_name(r.findings[i].stage);
  }
  return {{"time_ms", unix_ms(r.time)},
          {"ok", r.ok()},
          {"verdict", probe::status_name(r.verdict)},
          {"stage", probe::stage_name(r.stage)},
          {"duration_ms", ms_of(r.duration)},
          {"stages", std::move(stages)},
          {"findings", std::move(findings)}};
}

bool is_v6_link_local(const std::string& address) {
  in6_addr a{};
  return ::inet_pton(AF_INET6, address.c_str(), &a) == 1 && IN6_IS_ADDR_LINKLOCAL(&a);
}

// Does a configured probe already connect to `e`? Only literal addresses (and "localhost") can
// be compared without resolving, and resolving here would block the loop.
bool covered_by(const ProbeConfig& p, const Endpoint& e) {
  if (!p.parsed.port || *p.parsed.port != e.port) return false;
  if (p.parsed.kind == HostKind::name) {
    return p.parsed.host == "localhost" && (e.address == "127.0.0.1" || e.address == "::1");
  }
  return p.parsed.host == e.address;
}

// Talk outcomes that say nothing against a listener whose protocol we did not know.
bool benign_for_listener(probe::TalkOutcome o) {
  using probe::TalkOutcome;
  return o == TalkOutcome::no_response || o == TalkOutcome::timeout ||
         o == TalkOutcome::unexpected_reply || o == TalkOutcome::app_error ||
         o == TalkOutcome::http_4xx;
}

}  // namespace

json probe_json(const ProbeStatus& s, Lang lang) {
  return {{"target", s.target},
          {"source", probe_source_name(s.source)},
          {"interval_ms", s.interval.count()},
          {"timeout_ms", s.timeout.count()},
          {"runs", s.runs},
          {"failures", s.failures},
          {"consecutive_failures", s.consecutive_failures},
          {"last", s.last ? run_json(*s.last, lang) : json(nullptr)}};
}

std::vector<prom::MetricFamily> probe_metric_families(std::span<const ProbeStatus> statuses) {
  using prom::Label;
  using prom::MetricFamily;
  using prom::MetricType;
  MetricFamily success{"connscope_probe_success",
                       "Whether the probe's last run got through (1) or failed (0); a warning counts as success.",
                       MetricType::gauge, {}};
  MetricFamily duration{"connscope_probe_duration_seconds", "Wall time of the probe's last run.",
                        MetricType::gauge, {}};
  MetricFamily stage{"connscope_probe_stage_duration_seconds",
                     "Time of each stage the probe's last run went through.", MetricType::gauge, {}};
  MetricFamily failure{"connscope_probe_failure_info",
                       "1 for each finding (by id and stage) of a last run that failed or warned.",
                       MetricType::gauge, {}};
  MetricFamily runs{"connscope_probe_runs_total", "Probe runs completed.", MetricType::counter, {}};
  MetricFamily failures{"connscope_probe_failures_total", "Probe runs that failed.",
                        MetricType::counter, {}};
  for (const auto& s : statuses) {
    runs.samples.push_back({{Label{"target", s.target}}, static_cast<double>(s.runs)});
    failures.samples.push_back({{Label{"target", s.target}}, static_cast<double>(s.failures)});
    if (!s.last) continue;
    const ProbeRun& r = *s.last;
    success.samples.push_back({{Label{"target", s.target}}, r.ok() ? 1.0 : 0.0});
    duration.samples.push_back({{Label{"target", s.target}}, seconds_of(r.duration)});
    for (const auto& row : r.stages) {
      if (row.status == StageStatus::skipped) continue;
      stage.samples.push_back({{Label{"target", s.target}, Label{"stage", std::string(probe::stage_name(row.stage))}},
                               seconds_of(row.duration)});
    }
    if (r.verdict == StageStatus::ok) continue;
    // Two addresses refusing alike give the same id twice on one stage: one sample per pair.
    std::set<std::pair<StageId, std::string>> seen;
    for (const auto& f : r.findings) {
      if (!seen.emplace(f.stage, f.finding.id).second) continue;
      failure.samples.push_back({{Label{"target", s.target},
                                  Label{"stage", std::string(probe::stage_name(f.stage))},
                                  Label{"finding", f.finding.id}},
                                 1.0});
    }
  }
  std::vector<MetricFamily> out;
  out.reserve(6);
  out.push_back(std::move(success));
  out.push_back(std::move(duration));
  out.push_back(std::move(stage));
  out.push_back(std::move(failure));
  out.push_back(std::move(runs));
  out.push_back(std::move(failures));
  return out;
}

probe::DoctorOptions doctor_options_for(const ProbeConfig& p) {
  // The CLI's own defaults for the target (probe/doctor_defaults.h); config.cpp rejects a target
  // without a port.
  probe::DoctorOptions o = probe::doctor_defaults(p.parsed, p.parsed.port.value_or(0), p.timeout);
  o.ca_file = p.ca_file;
  if (p.cert && p.key) o.client_cert = probe::ClientCertificate{*p.cert, *p.key};
  return o;
}

probe::DoctorOptions listener_doctor_options(const Endpoint& address, Ms timeout) {
  probe::DoctorOptions o;
  Target t;
  t.host = address.address;
  t.kind = address.family == AF_INET6 ? HostKind::ipv6 : HostKind::ipv4;
  t.port = address.port;
  t.port_explicit = true;
  o.target = std::move(t);
  o.port = address.port;
  o.protocol = AppProtocol::banner;
  o.tls = false;
  o.echo_count = 1;
  o.timeout = timeout;
  return o;
}

std::optional<Endpoint> listener_probe_address(const Endpoint& listening) {
  Endpoint e = listening;
  if (e.family == AF_INET && e.address == "0.0.0.0") {
    e.address = "127.0.0.1";
  } else if (e.family == AF_INET6 && e.address == "::") {
    e.address = "::1";
  } else if (e.family == AF_INET6 && is_v6_link_local(e.address)) {
    return std::nullopt;
  }
  return e;
}

std::vector<Endpoint> own_listener_targets(std::span<const Endpoint> listening,
                                           std::span<const ProbeConfig> configured, std::size_t max) {
  std::vector<Endpoint> out;
  out.reserve(listening.size());
  for (const auto& l : listening) {
    auto e = listener_probe_address(l);
    if (!e) continue;
    if (std::any_of(configured.begin(), configured.end(),
                    [&](const ProbeConfig& p) { return covered_by(p, *e); })) {
      continue;
    }
    out.push_back(std::move(*e));
  }
  const auto key = [](const Endpoint& e) { return std::tie(e.port, e.family, e.address); };
  std::sort(out.begin(), out.end(), [&](const Endpoint& a, const Endpoint& b) { return key(a) < key(b); });
  out.erase(std::unique(out.begin(), out.end()), out.end());
  if (out.size() > max) out.resize(max);
  return out;
}

ProbeRun summarize_run(const probe::DoctorReport& report, std::vector<rules::StageFinding> findings,
                       ProbeSource source, std::chrono::system_clock::time_point ended) {
  ProbeRun r;
  r.time = ended;
  r.duration = report.total;
  r.stages = report.stages;
  r.findings = std::move(findings);
  if (source == ProbeSource::listener && report.talk && !report.mtu_retry &&
      benign_for_listener(report.talk->outcome)) {
    for (auto& row : r.stages) {
      if (row.stage == StageId::talk) row.status = StageStatus::ok;
    }
    const std::string_view id = probe::finding_id(*report.talk);
    std::erase_if(r.findings, [&](const rules::StageFinding& f) {
      return f.stage == StageId::talk && f.finding.id == id;
    });
  }
  // The verdict from the (possibly re-rated) rows, as DoctorReport::verdict_stage does it.
  std::optional<StageId> verdict_stage;
  for (StageStatus wanted : {StageStatus::fail, StageStatus::warn}) {
    for (const auto& row : r.stages) {
      if (row.status == wanted) {
        verdict_stage = row.stage;
        r.verdict = wanted;
        break;
      }
    }
    if (verdict_stage) break;
  }
  if (verdict_stage) {
    r.stage = *verdict_stage;
  } else {
    r.verdict = StageStatus::ok;
    for (const auto& row : r.stages) {
      if (row.status != StageStatus::skipped) r.stage = row.stage;
    }
  }
  return r;
}

void attribute_to_accept_queue(ProbeRun& run, const rules::ListenerEvidence& listener, Lang lang) {
  const bool filtered = std::any_of(run.findings.begin(), run.findings.end(), [](const rules::StageFinding& f) {
    return f.stage == StageId::connect && f.finding.id == "tcp.filtered";
  });
  if (!filtered) return;
  rules::ServerEvidence e;  // one sample: the rule needs no rates to call a full queue full
  e.listeners.push_back(listener);
  for (auto& f : rules::evaluate_server(e, lang)) {
    if (f.id != "listen.accept_queue_full" || f.severity != rules::Severity::critical) continue;
    std::erase_if(run.findings, [](const rules::StageFinding& sf) { return sf.stage == StageId::connect; });
    run.findings.insert(run.findings.begin(), rules::StageFinding{StageId::connect, std::move(f)});
    return;
  }
}

void record_run(ProbeStatus& status, ProbeRun run) {
  ++status.runs;
  if (run.ok()) {
    status.consecutive_failures = 0;
  } else {
    ++status.failures;
    ++status.consecutive_failures;
  }
  status.last = std::move(run);
}

}  // namespace connscope::agent
