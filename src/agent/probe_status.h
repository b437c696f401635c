#pragma once
// The agent's continuous probes, their results: a probe's status and last run, their JSON
// (the PROBE objects of /api/v1/probes and the SSE `probe` event) and metric families (the
// connscope_probe_* families of /metrics), and the pure policy the scheduler (probes.h) applies:
// the doctor options of a configured target or an own listener, which listeners are probed, how a
// finished run is summarized. Without Asio or nlohmann/json.hpp: the router includes this.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "agent/config.h"
#include "agent/prometheus.h"
#include "core/endpoint.h"
#include "core/text.h"
#include "inspect/aggregate.h"
#include "probe/doctor_result.h"
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

// The PROBE object of the HTTP API (/tmp/s7/api.md, docs/json.md).
nlohmann::json probe_json(const ProbeStatus& status, Lang lang);

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

}  // namespace connscope::agent
