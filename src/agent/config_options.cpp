// agent_options (config.h): the configuration → AgentOptions mapping, which `connscope agent`
// used to do itself.
#include "agent/agent.h"
#include "agent/config.h"
#include "agent/probes.h"

namespace connscope::agent {

AgentOptions agent_options(const AgentConfig& config, const RunChoices& choices) {
  AgentOptions o;
  o.listen = config.listen;
  // eBPF by default; Agent::start falls back to the tiers, with the reason, when it cannot run.
  o.bpf = config.sampling.bpf && !choices.no_bpf;
  if (!o.bpf) o.bpf_off_reason = tr(choices.lang, Msg::agent_bpf_turned_off);
  o.check_interval = config.sampling.check_interval;
  o.fast_interval = config.sampling.fast_interval;
  o.full_interval = config.sampling.full_interval;
  o.full_cpu_budget = config.sampling.full_cpu_budget_percent / 100.0;
  o.limits.max_connections = config.http.max_connections;
  o.limits.header_limit = config.http.header_limit;
  o.limits.request_deadline = config.http.request_deadline;
  o.limits.idle_timeout = config.http.idle_timeout;
  o.owners = choices.owners;
  o.lang = choices.lang;
  o.probes = probe_scheduler_options(config);
  o.probes.lang = choices.lang;
  o.history.raw_retention = config.history.raw_retention;
  o.history.rollup_retention = config.history.rollup_retention;
  o.charted_listeners = {config.history.listener_charted_after, config.history.max_charted_listeners};
  return o;
}

}  // namespace connscope::agent
