#include "agent/probes.h"

#include <exception>
#include <tuple>
#include <utility>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>

#include "core/thread_owner.h"
#include "probe/doctor.h"

namespace connscope::agent {

namespace asio = boost::asio;
using probe::Clock;
using probe::StageId;
using probe::StageStatus;
using Ms = std::chrono::milliseconds;

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
