// The dashboard's words (web/app.js, web/index.html), served by the agent as /api/v1/texts in the
// reader's language. Only named placeholders, without format specs: the page fills them itself.
#define CONNSCOPE_DASHBOARD_MESSAGES(X)                                                           \
  X(dash_language, "Language")                                                                   \
  X(dash_fig_sockets, "sockets")                                                                 \
  X(dash_fig_listeners, "listeners")                                                             \
  X(dash_fig_findings, "findings")                                                               \
  X(dash_status_connecting, "connecting")                                                        \
  X(dash_status_live, "live")                                                                    \
  X(dash_status_reconnecting, "reconnecting")                                                    \
  X(dash_status_stale, "stale")                                                                  \
  X(dash_status_offline, "offline")                                                              \
  X(dash_updated, "sample {time}")                                                               \
  X(dash_sampling, "sampling: {kind} (fast {fast}, full {full})")                                \
  X(dash_sampling_bpf_on, "sampling: {kind} (fast {fast}, full {full}) — BPF on: exact states every second") \
  X(dash_sampling_bpf_off, "sampling: {kind} (fast {fast}, full {full}) — BPF off")              \
  X(dash_sampling_bpf_off_why, "sampling: {kind} (fast {fast}, full {full}) — BPF off: {reason}") \
  X(dash_minutes, "{n} min")                                                                     \
  X(dash_seconds, "{n} s")                                                                       \
  X(dash_ago_seconds, "{n}s ago")                                                                \
  X(dash_ago_minutes, "{n}m ago")                                                                \
  X(dash_ago_hours, "{n}h ago")                                                                  \
  X(dash_states_title, "TCP states")                                                             \
  X(dash_states_sub_full, "sockets per state, both families, last 15 min (full dump)")          \
  X(dash_states_sub_bpf, "sockets per state, both families, last 15 min (every second: eBPF census)") \
  X(dash_queues_title, "Accept queues")                                                          \
  X(dash_queues_sub, "fill per listener: queue length / limit, %")                               \
  X(dash_rates_title, "Kernel counters")                                                         \
  X(dash_rates_sub, "per second")                                                                \
  X(dash_drops_title, "Drops by reason")                                                         \
  X(dash_drops_sub, "packets the kernel dropped, per second (eBPF)")                             \
  X(dash_resets_title, "Resets and retransmits")                                                 \
  X(dash_resets_sub, "per second (eBPF)")                                                        \
  X(dash_resets_sent, "resets sent")                                                             \
  X(dash_resets_received, "resets received")                                                     \
  X(dash_retransmits, "retransmits")                                                             \
  X(dash_synack_retransmits, "SYN-ACK retransmits")                                              \
  X(dash_chart_time, "Time")                                                                     \
  X(dash_probes_title, "Probes")                                                                 \
  X(dash_probes_sub, "continuous doctor runs: stages, timings, finding")                        \
  X(dash_col_target, "target")                                                                   \
  X(dash_col_verdict, "verdict")                                                                 \
  X(dash_col_runs, "runs")                                                                       \
  X(dash_col_stages, "stages")                                                                   \
  X(dash_col_finding, "finding")                                                                 \
  X(dash_no_probes_yet, "no probes yet")                                                         \
  X(dash_no_probes, "no probes configured")                                                      \
  X(dash_probe_config, "config, every {interval}")                                               \
  X(dash_probe_listener, "listener, every {interval}")                                           \
  X(dash_probe_runs, "runs: {runs}")                                                             \
  X(dash_probe_failed, "failed: {failed}")                                                       \
  X(dash_no_finding, "no finding")                                                               \
  X(dash_not_run, "not run yet")                                                                 \
  X(dash_pending, "pending")                                                                     \
  X(dash_skipped, "skipped")                                                                     \
  X(dash_verdict_ok, "ok")                                                                       \
  X(dash_verdict_warn, "warn")                                                                   \
  X(dash_verdict_fail, "fail")                                                                   \
  X(dash_severity_critical, "critical")                                                          \
  X(dash_severity_warning, "warning")                                                            \
  X(dash_severity_info, "info")                                                                  \
  X(dash_cause, "cause")                                                                         \
  X(dash_fix, "fix")                                                                             \
  X(dash_findings_title, "Findings")                                                             \
  X(dash_findings_sub, "now, from the last full sample")                                         \
  X(dash_no_findings, "no findings")                                                             \
  X(dash_timeline_title, "Findings timeline")                                                    \
  X(dash_timeline_sub, "last hour")                                                              \
  X(dash_timeline_empty, "no findings in the last hour")                                         \
  X(dash_now, "now")                                                                             \
  X(dash_now_open, "now (open)")                                                                 \
  X(dash_error, "{what}: {error}")                                                               \
  X(dash_error_bad_json, "events: bad JSON in a {type} event")                                   \
  X(dash_error_refused, "events: the agent refused the event stream; retrying every 5 s")        \
  X(dash_error_fast, "fast tier: {error}")                                                       \
  X(dash_error_full, "full tier: {error}")
