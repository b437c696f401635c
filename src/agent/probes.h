#pragma once
// The agent's continuous probes: every configured target ([[probes]] in the config) and, by
// default, every listener of this machine, each probed at its interval by a `doctor` run
// (probe::run_doctor: stages, timings, findings). The results become the PROBE objects of
// /api/v1/probes and the SSE `probe` event (probe_json), and the connscope_probe_* families of
// /metrics (probe_metric_families).
//
// Own listeners are asked less than configured targets. Their protocol is unknown (a port says
// little about what listens on it), so they are probed as a client that says nothing: connect,
// then read what the server says first (AppProtocol::banner), no TLS. A server that waits for its
// client (HTTP, TLS, most databases) therefore hears nothing and says nothing until the talk
// stage's deadline; one that speaks first (sshd, SMTP) is read. "Accepts connections" is what a
// healthy listener has to show: see rate_listener_run for which talk outcomes still count
// against it. A configured target gets the full run its scheme implies, exactly as
// `connscope doctor TARGET` would (https:// → TLS and HTTP; HOST:PORT → the protocol the port
// suggests, as the CLI guesses it).
//
// This header is the scheduler (Asio); the statuses, their JSON and metrics and the pure policy
// above are probe_status.h, which the router includes.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "agent/config.h"
#include "agent/probe_status.h"
#include "core/endpoint.h"
#include "core/error.h"
#include "core/text.h"
#include "inspect/aggregate.h"

namespace connscope::agent {

struct ProbeSchedulerOptions {
  std::vector<ProbeConfig> probes;  // the configured targets, in file order
  bool probe_own_listeners = true;
  std::chrono::milliseconds listener_interval{30'000};
  std::chrono::milliseconds listener_timeout{3000};
  // A machine with hundreds of listeners (a container host) would otherwise keep up to
  // max_in_flight connections open all the time; the lowest ports are probed.
  std::size_t max_listeners = 64;
  std::size_t max_in_flight = 16;  // runs at once; due runs beyond it wait for a free slot
  Lang lang = Lang::en;
};

// From the agent's configuration: the probes, probe_own_listeners, and probe_interval /
// probe_timeout for the listeners.
ProbeSchedulerOptions probe_scheduler_options(const AgentConfig& config);

// Owns the probes' schedules, their in-flight doctor runs and their statuses. Every member,
// create() included, is called on the one thread that runs the executor's io_context (or before
// it runs; checked in debug builds); on_result is called on that thread too. Nothing here
// blocks that thread for long: the runs are coroutines with the doctor's per-stage deadlines
// (the route lookup, one netlink request, is the one synchronous call).
//
// Scheduling: a probe's first run comes within its first interval, spread over it so that 50
// targets do not start at once (the i-th of n after i/n of the interval: the first at once);
// later runs start an interval after the previous one started, or as soon as it ended when it
// took longer. At most max_in_flight runs at once. A run cancelled by stop() or by its listener
// going away reports nothing.
class ProbeScheduler {
 public:
  // Called after every completed run with the probe's new status.
  using ResultHandler = std::function<void(const ProbeStatus&)>;

  // Errors: an interval or timeout that is not positive, max_in_flight 0.
  static Result<std::unique_ptr<ProbeScheduler>> create(boost::asio::any_io_executor ex,
                                                        ProbeSchedulerOptions options,
                                                        ResultHandler on_result);
  ~ProbeScheduler();  // stop()
  ProbeScheduler(const ProbeScheduler&) = delete;
  ProbeScheduler& operator=(const ProbeScheduler&) = delete;

  // Schedules the configured probes (and the listeners set so far). Once.
  void start();
  // Cancels every in-flight run and the schedule; results still arriving are dropped. After
  // stop() nothing is started again and on_result is not called.
  void stop();

  // The machine's listeners, after every fast sample. When the derived list has not changed
  // (the usual case) this is a comparison and nothing else; a listener that stays keeps its
  // schedule and counters, one that appears is probed at once, one that is gone loses its
  // probe (an in-flight run is cancelled) and leaves snapshot(). Ignored when
  // probe_own_listeners is off.
  void set_own_listeners(std::span<const inspect::ListenerRow> listeners);
  void set_own_listener_addresses(std::span<const Endpoint> listening);

  // Every probe's status: the configured ones in file order, then the listeners.
  [[nodiscard]] std::vector<ProbeStatus> snapshot() const;
  [[nodiscard]] std::size_t in_flight() const;

  struct Impl;

 private:
  explicit ProbeScheduler(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

}  // namespace connscope::agent
