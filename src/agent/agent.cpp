#include "agent/agent.h"

#include <nlohmann/json.hpp>

#include "agent/bpf_sampler.h"
#include "agent/history_series.h"
#include "agent/history_writer.h"
#include "agent/router.h"
#include "agent/snapshot_json.h"
#include "agent/tier_sampler.h"
#include "core/thread_owner.h"

namespace connscope::agent {

namespace {

HistoryTime now_ms() { return history_time(std::chrono::system_clock::now()); }

}  // namespace

// The agent's core: what it has seen (the router's view) and where each new thing goes. The
// server's thread only: the sampler, the probes and the server call it there.
struct Agent::State : std::enable_shared_from_this<Agent::State> {
  explicit State(AgentOptions o) : options(std::move(o)), auth(options.token) {}

  AgentOptions options;
  Auth auth;
  ThreadOwner owner;
  AgentView view;
  std::unique_ptr<HistoryWriter> history;  // any thread may queue; null without history
  ListenerSeriesGate charted_listeners{options.charted_listeners};
  std::optional<HistoryReader> reader;     // the history routes' queries
  std::unique_ptr<Sampler> sampler;
  std::unique_ptr<ProbeScheduler> probes;
  std::shared_ptr<HttpServer> server;
  bool stopped = false;

  // Events are rendered only when someone listens.
  [[nodiscard]] bool has_streams() const { return server && server->stats().streams > 0; }

  void fast_taken(std::shared_ptr<const FastSample> s) {
    owner.check();
    view.fast = std::move(s);
    view.fast_error.reset();
    if (history) {
      const auto t = history_time(view.fast->time);
      charted_listeners.update(view.fast->listeners, t);
      history->samples(t, fast_series(*view.fast, charted_listeners));
    }
    if (probes) probes->set_own_listeners(view.fast->listeners);
    if (has_streams()) server->publish(sse_event("fast", fast_json(*view.fast)));
  }

  void full_taken(std::shared_ptr<const FullSample> s) {
    owner.check();
    view.full = std::move(s);
    view.full_error.reset();
    view.full_wait = sampler->full_wait();
    if (history) {
      const auto t = history_time(view.full->time);
      // With BPF the census writes the states every second (fast_series): not twice.
      if (!view.sampler.bpf) history->samples(t, full_series(*view.full));
      history->findings(t, finding_observations(view.full->findings));
    }
    if (has_streams()) {
      // Each stream's channel is its reader's language (router.cpp: events_route).
      server->publish([&](std::string_view channel) {
        return sse_event("full", full_json(*view.full, lang_from_name(channel).value_or(options.lang)));
      });
    }
  }

  void sample_failed(SampleTier tier, const Error& e) {
    owner.check();
    if (tier == SampleTier::fast) {
      view.fast_error = e;
    } else {
      view.full_error = e;
      view.full_wait = sampler->full_wait();
    }
  }

  // After every probe run.
  void probe_done(const ProbeStatus& status) {
    owner.check();
    // Each stream's channel is its reader's language (router.cpp: events_route).
    if (has_streams()) {
      server->publish([&](std::string_view channel) {
        return sse_event("probe", probe_json(status, lang_from_name(channel).value_or(options.lang)));
      });
    }
    if (history && status.last) {
      ProbeEvent e;
      e.time = history_time(status.last->time);
      e.target = status.target;
      e.ok = status.last->ok();
      e.stage = std::string(probe::stage_name(status.last->stage));
      if (!status.last->findings.empty()) e.finding_id = status.last->findings.front().finding.id;
      e.stages_json = probe_json(status, options.lang).at("last").at("stages").dump();
      history->probe(std::move(e));
    }
  }

  HttpResponse handle(const HttpRequest& r) {
    owner.check();
    if (auto denied = auth.check(r)) return std::move(*denied);
    view.now = now_ms();
    if (view.history) {
      view.history->writer = history->stats();
      view.history->listeners_not_charted = charted_listeners.over_limit();
    }
    return route(r, view);
  }
};

Result<std::unique_ptr<Agent>> Agent::start(boost::asio::io_context& io, AgentOptions options) {
  if (options.bpf) {
    BpfSamplerOptions b;
    b.fast_interval = options.fast_interval;
    b.check_interval = options.check_interval;
    b.full.owners = options.owners;
    b.full.lang = options.lang;
    auto sampler = BpfSampler::create(io.get_executor(), std::move(b));
    if (sampler) return start(io, std::move(options), std::move(*sampler));
    options.bpf_off_reason = sampler.error().message();
  }
  TierSamplerOptions t;
  t.fast_interval = options.fast_interval;
  t.full_interval = options.full_interval;
  t.full_cpu_budget = options.full_cpu_budget;
  t.full.owners = options.owners;
  t.full.lang = options.lang;
  t.bpf_off_reason = options.bpf_off_reason;
  auto sampler = TierSampler::create(io.get_executor(), std::move(t));
  if (!sampler) return std::unexpected(sampler.error());
  return start(io, std::move(options), std::move(*sampler));
}

Result<std::unique_ptr<Agent>> Agent::start(boost::asio::io_context& io, AgentOptions options,
                                            std::unique_ptr<Sampler> sampler) {
  std::unique_ptr<Agent> agent(new Agent());
  agent->state_ = std::make_shared<State>(std::move(options));
  auto& st = *agent->state_;
  st.owner.check();
  st.sampler = std::move(sampler);
  st.view.sampler = st.sampler->info();
  st.view.lang = st.options.lang;
  if (st.options.history_file) {
    auto writer = HistoryWriter::start(*st.options.history_file, st.options.history);
    if (!writer) return std::unexpected(writer.error());
    st.history = std::move(*writer);
    auto reader = HistoryReader::open(*st.options.history_file, st.options.history);
    if (!reader) return std::unexpected(reader.error());
    st.reader.emplace(std::move(*reader));
    st.view.history = HistoryStatus{*st.options.history_file, {}};
    st.view.reader = &*st.reader;
  }
  std::weak_ptr<State> weak = agent->state_;
  auto server = HttpServer::listen(io.get_executor(), st.options.listen, st.options.limits,
                                   [weak](const HttpRequest& r) {
                                     if (auto s = weak.lock()) return s->handle(r);
                                     HttpResponse gone;
                                     gone.status = 503;
                                     return gone;
                                   });
  if (!server) return std::unexpected(server.error());
  st.server = *server;
  auto probes = ProbeScheduler::create(io.get_executor(), st.options.probes, [weak](const ProbeStatus& status) {
    if (auto s = weak.lock()) s->probe_done(status);
  });
  if (!probes) return std::unexpected(probes.error());
  st.probes = std::move(*probes);
  st.view.probes = [p = st.probes.get()] { return p->snapshot(); };
  // The first fast sample comes before start returns: before the first request, and with the
  // listeners to probe.
  st.sampler->start(SampleSink{
      .fast = [weak](std::shared_ptr<const FastSample> s) { if (auto self = weak.lock()) self->fast_taken(std::move(s)); },
      .full = [weak](std::shared_ptr<const FullSample> s) { if (auto self = weak.lock()) self->full_taken(std::move(s)); },
      .error = [weak](SampleTier tier, const Error& e) { if (auto self = weak.lock()) self->sample_failed(tier, e); },
  });
  st.server->start();
  st.probes->start();
  return agent;
}

Endpoint Agent::local() const { return state_->server->local(); }

SamplerInfo Agent::sampler() const { return state_->view.sampler; }

void Agent::stop() {
  if (!state_ || state_->stopped) return;
  auto& st = *state_;
  st.owner.check();
  st.stopped = true;
  if (st.sampler) st.sampler->stop();  // joins the full tier's thread
  if (st.probes) st.probes->stop();
  if (st.server) st.server->stop();  // none when start() failed before listening
  // The reader first: the writer, closing last, checkpoints the WAL into the database file.
  st.view.reader = nullptr;
  st.reader.reset();
  st.history.reset();  // writes what is queued
}

Agent::~Agent() { stop(); }

}  // namespace connscope::agent
