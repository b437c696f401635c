#include "agent/probes.h"

#include <algorithm>
#include <arpa/inet.h>
#include <exception>
#include <netinet/in.h>
#include <set>
#include <tuple>
#include <utility>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>

#include "agent/history.h"
#include "core/target.h"
#include "core/thread_owner.h"
#include "probe/talk.h"
#include "rules/findings_json.h"

namespace connscope::agent {

namespace asio = boost::asio;
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

json run_json(const ProbeRun& r) {
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
  json findings = rules::findings_json(plain);
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

json probe_json(const ProbeStatus& s) {
  return {{"target", s.target},
          {"source", probe_source_name(s.source)},
          {"interval_ms", s.interval.count()},
          {"timeout_ms", s.timeout.count()},
          {"runs", s.runs},
          {"failures", s.failures},
          {"consecutive_failures", s.consecutive_failures},
          {"last", s.last ? run_json(*s.last) : json(nullptr)}};
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
  const Target& t = p.parsed;
  probe::DoctorOptions o;
  o.target = t;
  o.port = t.port.value_or(0);  // config.cpp rejects a target without a port
  // As the CLI: without a scheme, the port may suggest one (5432 → postgres, 443 → TLS).
  o.protocol = target_protocol(t, o.port);
  o.tls = target_tls(t, o.port);
  o.http_path = t.http_path.empty() ? "/" : t.http_path;
  o.timeout = p.timeout;
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

ProbeSchedulerOptions probe_scheduler_options(const AgentConfig& config) {
  ProbeSchedulerOptions o;
  o.probes = config.probes;
  o.probe_own_listeners = config.probe_own_listeners;
  o.listener_interval = config.probe_interval;
  o.listener_timeout = config.probe_timeout;
  return o;
}

// ---- the scheduler ----

namespace {

struct Entry {
  ProbeStatus status;
  probe::DoctorOptions doctor;
  Endpoint address;  // listeners: what is probed (their identity across set_own_listeners)
  Clock::time_point due{};
  bool running = false;
  bool removed = false;  // its listener went away: a result still in flight is dropped
  // The running run's; replaced only when the next run starts, so it outlives the run it
  // cancels (emitting on it after the run ended would reach a finished coroutine).
  std::unique_ptr<asio::cancellation_signal> cancel;
};

}  // namespace

struct ProbeScheduler::Impl : std::enable_shared_from_this<ProbeScheduler::Impl> {
  Impl(asio::any_io_executor e, ProbeSchedulerOptions o, ResultHandler h)
      : ex(std::move(e)), options(std::move(o)), on_result(std::move(h)), timer(ex) {}

  asio::any_io_executor ex;
  ProbeSchedulerOptions options;
  ResultHandler on_result;
  asio::steady_timer timer;
  std::vector<std::shared_ptr<Entry>> configured;
  std::vector<std::shared_ptr<Entry>> listeners;  // in own_listener_targets order
  std::vector<Endpoint> listener_set;             // the last derived list, for the cheap check
  // Each probed address's listener as the latest fast sample saw it (its accept queue).
  std::vector<std::pair<Endpoint, rules::ListenerEvidence>> listener_queues;
  std::size_t running = 0;
  bool started = false;
  bool stopped = false;
  std::optional<Clock::time_point> armed_for;  // the timer's expiry while it waits
  ThreadOwner owner;  // the executor's thread

  void launch(const std::shared_ptr<Entry>& e) {
    e->running = true;
    ++running;
    e->cancel = std::make_unique<asio::cancellation_signal>();
    auto self = shared_from_this();
    const auto started_at = Clock::now();
    // A run can complete inside co_spawn (an address literal, a refused connect and no ICMP
    // socket never suspend), and so inside rearm(): the bookkeeping that must not wait is done
    // here, the rest is posted so that rearm() and on_result never run inside rearm().
    asio::co_spawn(ex, probe::run_doctor(ex, e->doctor),
                   asio::bind_cancellation_slot(
                       e->cancel->slot(),
                       [self, e, started_at](std::exception_ptr error, probe::DoctorReport report) {
                         e->running = false;  // from now on its signal must not be emitted
                         --self->running;
                         asio::post(self->ex, [self, e, started_at, error, r = std::move(report)]() mutable {
                           self->finished(*e, started_at, error, std::move(r));
                         });
                       }));
  }

  void finished(Entry& e, Clock::time_point started_at, std::exception_ptr error,
                probe::DoctorReport report) {
    owner.check();
    if (stopped || e.removed) return;
    e.due = std::max(started_at + std::chrono::duration_cast<Clock::duration>(e.status.interval),
                     Clock::now());
    if (error) {
      // run_doctor reports network and system errors as stage results; an exception is
      // bad_alloc or the like. The run happened and did not get through: a failure with no
      // stage to blame beyond the first.
      report = probe::DoctorReport{};
      for (StageId id : {StageId::resolve, StageId::route, StageId::reach, StageId::connect,
                         StageId::secure, StageId::talk, StageId::close}) {
        report.stages.push_back({id, StageStatus::skipped, {}});
      }
      report.stages.front().status = StageStatus::fail;
      report.total = Clock::now() - started_at;
    }
    auto findings = error ? std::vector<rules::StageFinding>{}
                          : rules::doctor_findings(report, options.lang);
    auto run = summarize_run(report, std::move(findings), e.status.source, std::chrono::system_clock::now());
    if (e.status.source == ProbeSource::listener) {
      // The latest fast sample's queue (at most a second old) for what was probed.
      for (const auto& [address, queue] : listener_queues) {
        if (address == e.address) attribute_to_accept_queue(run, queue, options.lang);
      }
    }
    record_run(e.status, std::move(run));
    if (on_result) on_result(e.status);
    rearm();
  }

  // Starts what is due (while slots are free) and sets the timer for the next probe due later.
  // A due probe left without a slot starts when a running one finishes (finished() rearms).
  void rearm() {
    if (stopped || !started) return;
    const auto now = Clock::now();
    std::optional<Clock::time_point> next;
    for (auto* list : {&configured, &listeners}) {
      for (const auto& e : *list) {
        if (e->running) continue;
        if (e->due <= now) {
          if (running < options.max_in_flight) launch(e);
          continue;
        }
        if (!next || e->due < *next) next = e->due;
      }
    }
    if (!next) {
      if (armed_for) {
        timer.cancel();
        armed_for.reset();
      }
      return;
    }
    if (armed_for && *armed_for == *next) return;
    armed_for = *next;
    timer.expires_at(*next);  // cancels the wait for an earlier setting
    timer.async_wait([weak = weak_from_this(), at = *next](boost::system::error_code ec) {
      auto self = weak.lock();
      if (!self || ec == asio::error::operation_aborted) return;
      if (self->armed_for == at) self->armed_for.reset();
      self->rearm();
    });
  }

  void cancel_run(Entry& e) {
    if (e.running && e.cancel) e.cancel->emit(asio::cancellation_type::terminal);
  }

  // The i-th of n first runs comes i/n of its interval after now.
  static void stagger(std::span<const std::shared_ptr<Entry>> fresh, Clock::time_point now) {
    const auto n = static_cast<long>(fresh.size());
    for (long i = 0; i < n; ++i) {
      auto& e = *fresh[static_cast<std::size_t>(i)];
      e.due = now + std::chrono::duration_cast<Clock::duration>(e.status.interval) * i / n;
    }
  }

  void set_listeners(std::vector<Endpoint> wanted) {
    if (wanted == listener_set) return;
    std::vector<std::shared_ptr<Entry>> kept;
    std::vector<std::shared_ptr<Entry>> fresh;
    kept.reserve(wanted.size());
    std::size_t old = 0;  // both lists are in the same order: one merge pass
    const auto key = [](const Endpoint& e) { return std::tie(e.port, e.family, e.address); };
    for (const auto& w : wanted) {
      while (old < listeners.size() && key(listeners[old]->address) < key(w)) {
        listeners[old]->removed = true;
        cancel_run(*listeners[old]);
        ++old;
      }
      if (old < listeners.size() && listeners[old]->address == w) {
        kept.push_back(listeners[old++]);
        continue;
      }
      auto e = std::make_shared<Entry>();
      e->address = w;
      e->status.target = w.to_string();
      e->status.source = ProbeSource::listener;
      e->status.interval = options.listener_interval;
      e->status.timeout = options.listener_timeout;
      e->doctor = listener_doctor_options(w, options.listener_timeout);
      kept.push_back(e);
      fresh.push_back(std::move(e));
    }
    for (; old < listeners.size(); ++old) {
      listeners[old]->removed = true;
      cancel_run(*listeners[old]);
    }
    stagger(fresh, Clock::now());
    listeners = std::move(kept);
    listener_set = std::move(wanted);
    rearm();
  }
};

Result<std::unique_ptr<ProbeScheduler>> ProbeScheduler::create(asio::any_io_executor ex,
                                                               ProbeSchedulerOptions options,
                                                               ResultHandler on_result) {
  if (options.max_in_flight == 0) return fail("probe scheduler", "max_in_flight must be at least 1");
  if (options.listener_interval <= Ms::zero() || options.listener_timeout <= Ms::zero()) {
    return fail("probe scheduler", "the listeners' interval and timeout must be positive");
  }
  for (const auto& p : options.probes) {
    if (p.interval <= Ms::zero() || p.timeout <= Ms::zero()) {
      return fail(fmt::format("probe {}", p.target), "interval and timeout must be positive");
    }
    if (!p.parsed.port) return fail(fmt::format("probe {}", p.target), "no port");
  }
  auto impl = std::make_shared<Impl>(std::move(ex), std::move(options), std::move(on_result));
  for (const auto& p : impl->options.probes) {
    auto e = std::make_shared<Entry>();
    e->status.target = p.target;
    e->status.source = ProbeSource::config;
    e->status.interval = p.interval;
    e->status.timeout = p.timeout;
    e->doctor = doctor_options_for(p);
    impl->configured.push_back(std::move(e));
  }
  return std::unique_ptr<ProbeScheduler>(new ProbeScheduler(std::move(impl)));
}

ProbeScheduler::~ProbeScheduler() { stop(); }

void ProbeScheduler::start() {
  impl_->owner.check();
  if (impl_->started || impl_->stopped) return;
  impl_->started = true;
  const auto now = Clock::now();
  Impl::stagger(impl_->configured, now);
  Impl::stagger(impl_->listeners, now);  // any set before start()
  impl_->rearm();
}

void ProbeScheduler::stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->owner.check();
  impl_->stopped = true;
  impl_->timer.cancel();
  impl_->armed_for.reset();
  for (auto* list : {&impl_->configured, &impl_->listeners}) {
    for (const auto& e : *list) impl_->cancel_run(*e);
  }
}

void ProbeScheduler::set_own_listeners(std::span<const inspect::ListenerRow> listeners) {
  impl_->owner.check();
  if (!impl_->options.probe_own_listeners || impl_->stopped) return;
  std::vector<Endpoint> listening;
  listening.reserve(listeners.size());
  impl_->listener_queues.clear();
  for (const auto& l : listeners) {
    listening.push_back(l.local);
    if (auto at = listener_probe_address(l.local)) {
      rules::ListenerEvidence q;
      q.address = l.local.to_string();
      q.port = l.local.port;
      q.accept_queue = l.accept_queue;
      q.accept_queue_limit = l.accept_queue_limit;
      impl_->listener_queues.emplace_back(*at, std::move(q));
    }
  }
  set_own_listener_addresses(listening);
}

void ProbeScheduler::set_own_listener_addresses(std::span<const Endpoint> listening) {
  impl_->owner.check();
  if (!impl_->options.probe_own_listeners || impl_->stopped) return;
  impl_->set_listeners(own_listener_targets(listening, impl_->options.probes, impl_->options.max_listeners));
}

std::vector<ProbeStatus> ProbeScheduler::snapshot() const {
  impl_->owner.check();
  std::vector<ProbeStatus> out;
  out.reserve(impl_->configured.size() + impl_->listeners.size());
  for (const auto& e : impl_->configured) out.push_back(e->status);
  for (const auto& e : impl_->listeners) out.push_back(e->status);
  return out;
}

std::size_t ProbeScheduler::in_flight() const {
  impl_->owner.check();
  return impl_->running;
}

}  // namespace connscope::agent
