#pragma once
// `connscope agent`: samples this machine (a Sampler: sampler.h; eBPF, bpf_sampler.h, or the
// tiers of tier_sampler.h), keeps a history (history_writer.h), probes targets and its own listeners
// (probes.h), and serves what it saw over HTTP (the routes: router.h; docs/json.md).
//
// The Agent is the composition, and nothing else: options → auth (auth.h) + router (router.h) +
// sampler + history + probes + HTTP server (http_server.h). Its core keeps the latest samples in
// the view the router reads, hands them to the history writer, the probes and the event
// streams, and is touched on the server's thread only.
//
// Security: a bind to anything but a loopback address requires the bearer token on every
// request (401 without it).

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "agent/auth.h"
#include "agent/history.h"
#include "agent/http_server.h"
#include "agent/history_series.h"
#include "agent/probes.h"
#include "agent/sampler.h"
#include "core/endpoint.h"
#include "core/error.h"
#include "core/text.h"

namespace connscope::agent {

struct AgentOptions {
  Endpoint listen{AF_INET, "127.0.0.1", 9600};
  std::chrono::milliseconds fast_interval{1000};
  std::chrono::milliseconds full_interval{10000};
  // The full dump's share of one core, on average: when a dump costs more than this share of
  // full_interval (about 125 ms of CPU at the default 10 s, some 90,000 sockets), the next one
  // waits until the average is back within it. 0: always full_interval.
  double full_cpu_budget = 0.0125;
  HttpLimits limits;
  std::optional<std::string> token;  // required when set (the caller sets it for non-loopback binds)
  bool owners = false;               // the full tier's /proc/<pid>/fd scan
  // The history database (normally <data dir>/history.db); none: no history, and the history
  // routes answer 503.
  std::optional<std::filesystem::path> history_file;
  HistoryOptions history;
  ListenerSeriesGate::Options charted_listeners;  // which listeners get history series
  ProbeSchedulerOptions probes;  // the configured targets and the own listeners' settings
  Lang lang = Lang::en;
  // Sample with eBPF (bpf_sampler.h) when it can: start() tries it and, when the kernel programs
  // cannot run (no privilege, no BTF, a load error), falls back to the tiers with the error as
  // bpf_off_reason.
  bool bpf = false;
  std::chrono::milliseconds check_interval{600'000};  // with eBPF: the full dump's interval
  // Why BPF sampling is off, for the snapshot's `sampler.bpf.reason` and the dashboard; empty:
  // not said (null).
  std::string bpf_off_reason;
};

// Owns the HTTP server, the sampler, the history, the probes. Start and stop on the thread that
// runs `io` (or before it runs): the agent's state is that thread's (checked in debug builds).
class Agent {
 public:
  // With the BPF sampler when options.bpf and it can run, else the sampler by tiers
  // (tier_sampler.h), made from `options`.
  static Result<std::unique_ptr<Agent>> start(boost::asio::io_context& io, AgentOptions options);
  // With a sampler of the caller's, made on `io`'s executor and not started yet. The options'
  // sampling fields (intervals, budget, owners) are the sampler's business then, not the agent's.
  static Result<std::unique_ptr<Agent>> start(boost::asio::io_context& io, AgentOptions options,
                                              std::unique_ptr<Sampler> sampler);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  [[nodiscard]] Endpoint local() const;
  // How it samples (the snapshot's `sampler`): eBPF or tiers, and why eBPF is off.
  [[nodiscard]] SamplerInfo sampler() const;
  void stop();

  struct State;

 private:
  Agent() = default;
  std::shared_ptr<State> state_;
};

}  // namespace connscope::agent
