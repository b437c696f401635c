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

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <nlohmann/json.hpp>

#include "agent/config.h"
#include "agent/prometheus.h"
#include "core/endpoint.h"
#include "core/error.h"
#include "core/text.h"
#include "inspect/aggregate.h"
#include "probe/doctor.h"
#include "probe/stage.h"
#include "rules/doctor_findings.h"
#include "rules/server_rules.h"

namespace connscope::agent {

enum class ProbeSource { config, listener };
std::string_view probe_source_name(ProbeSource s);  // "config", "listener"

// One finished run, reduced to what the API and the metrics show.
struct ProbeRun {
  std::chrono::system_clock::time_point time;  // when the run ended
  probe::StageStatus verdict = probe::StageStatus::ok;  // ok, warn or fail
  // The verdict's stage; for an ok run the last stage that ran.
  probe::StageId stage = probe::StageId::resolve;
  probe::Clock::duration duration{};            // the run's wall time
  std::vector<probe::StageRow> stages;          // all seven, skipped ones too
  std::vector<rules::StageFinding> findings;    // in stage order

  [[nodiscard]] bool ok() const { return verdict != probe::StageStatus::fail; }
};

// A probe's state: what /api/v1/probes shows for it.
struct ProbeStatus {
  std::string target;  // as configured, or the address a listener is probed on ("127.0.0.1:22")
  ProbeSource source = ProbeSource::config;
  std::chrono::milliseconds interval{30'000};
  std::chrono::milliseconds timeout{3000};  // per stage
  std::uint64_t runs = 0;
  std::uint64_t failures = 0;  // runs whose verdict was fail (a warning is not a failure)
  std::uint64_t consecutive_failures = 0;
  std::optional<ProbeRun> last;  // none before the first run ends
};

// ---- pure parts ----


// The PROBE object of the HTTP API (/tmp/s7/api.md, docs/json.md).
nlohmann::json probe_json(const ProbeStatus& status);

// connscope_probe_success{target}                         gauge 1/0, after the first run
// connscope_probe_duration_seconds{target}                gauge, the last run's wall time
// connscope_probe_stage_duration_seconds{target,stage}    gauge, each stage the last run ran
// connscope_probe_failure_info{target,stage,finding}      gauge 1 per finding id and stage of a
//                                                         last run that failed or warned
// connscope_probe_runs_total{target}                      counter
// connscope_probe_failures_total{target}                  counter
// Every family is present (HELP and TYPE) even with no probes, so a dashboard's query finds the
// name; samples only where there is something to say.
std::vector<prom::MetricFamily> probe_metric_families(std::span<const ProbeStatus> statuses);

// The doctor options for a configured probe: what `connscope doctor TARGET --timeout T` uses
// (the target's port; the scheme's protocol and TLS, or the ones its port suggests when it has
// no scheme; the URL's path).
probe::DoctorOptions doctor_options_for(const ProbeConfig& probe);

// The doctor options for an own listener probed on `address` (see the file comment): banner,
// no TLS, one ICMP echo (loopback answers at once; a reach stage is still a stage).
probe::DoctorOptions listener_doctor_options(const Endpoint& address,
                                             std::chrono::milliseconds timeout);

// Where a listener is probed from this machine: 0.0.0.0 on 127.0.0.1, :: on ::1, a specific
// address on itself. None for an IPv6 link-local address (the dump has no zone to reach it by).
std::optional<Endpoint> listener_probe_address(const Endpoint& listening);

// The own listeners to probe: each listening address mapped by listener_probe_address, without
// duplicates (SO_REUSEPORT groups, :: and 0.0.0.0 on one port stay two: they are two
// addresses), without those a configured probe already covers (the same literal address and
// port; "localhost" covers 127.0.0.1 and ::1), ordered by port, then IPv4 before IPv6, then
// address; at most `max` of them (the lowest ports).
std::vector<Endpoint> own_listener_targets(std::span<const Endpoint> listening,
                                           std::span<const ProbeConfig> configured,
                                           std::size_t max);

// Reduces a finished doctor run to a ProbeRun. For an own listener the talk stage's verdicts
// that only say "this is not the protocol we guessed" or "it waits for its client" (no_response,
// an incomplete or unexpected reply, the protocol's own refusal, an HTTP 4xx) count as ok and
// their findings are dropped: the listener accepted the connection. What still counts: a
// listener that refuses or drops the handshake, resets or closes an accepted connection before
// saying anything, a 5xx, a first byte later than slow_first_byte, and any earlier stage.
ProbeRun summarize_run(const probe::DoctorReport& report, std::vector<rules::StageFinding> findings,
                       ProbeSource source, std::chrono::system_clock::time_point ended);

// An own listener whose connect timed out (tcp.filtered) while its accept queue was full: the
// kernel dropped the SYN because the queue was full, not a firewall. The connect stage's
// findings become the server rule's listen.accept_queue_full for that listener (the same
// finding, cause and fix `inspect` gives). Anything else is left as it is.
void attribute_to_accept_queue(ProbeRun& run, const rules::ListenerEvidence& listener, Lang lang);

// Adds a finished run to a probe's status: the counters and `last`.
void record_run(ProbeStatus& status, ProbeRun run);

// ---- the scheduler ----

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
