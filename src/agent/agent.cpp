#include "agent/agent.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "agent/api_query.h"
#include "agent/dashboard.h"
#include "agent/fast_tier.h"
#include "agent/full_tier.h"
#include "agent/history_series.h"
#include "agent/history_writer.h"
#include "agent/metrics.h"
#include "agent/prometheus.h"
#include "agent/snapshot_json.h"
#include "rules/findings_json.h"

namespace connscope::agent {

namespace asio = boost::asio;

namespace {

// One Server-Sent Event; JSON dumps have no line breaks, so the data is one line.
std::string sse_event(std::string_view name, const nlohmann::json& data) {
  std::string out = "event: ";
  out += name;
  out += "\ndata: ";
  out += data.dump();
  out += "\n\n";
  return out;
}

HttpResponse json_response(const nlohmann::json& j) {
  HttpResponse res;
  res.content_type = "application/json";
  res.body = j.dump();
  res.body += '\n';
  return res;
}

HttpResponse error_response(unsigned status, std::string message) {
  HttpResponse res;
  res.status = status;
  res.body = std::move(message);
  res.body += '\n';
  return res;
}

HistoryTime now_ms() { return history_time(std::chrono::system_clock::now()); }

}  // namespace

std::chrono::milliseconds full_wait(std::chrono::milliseconds interval, std::chrono::nanoseconds cost,
                                    double budget) {
  if (budget <= 0) return interval;
  const auto needed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::duration<double, std::nano>(static_cast<double>(cost.count()) / budget));
  return std::max(interval, needed);
}

bool is_loopback(const Endpoint& e) {
  if (e.family == AF_INET) {
    in_addr a{};
    return ::inet_pton(AF_INET, e.address.c_str(), &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
  }
  in6_addr a{};
  return ::inet_pton(AF_INET6, e.address.c_str(), &a) == 1 && IN6_IS_ADDR_LOOPBACK(&a);
}

struct Agent::State : std::enable_shared_from_this<Agent::State> {
  State(asio::io_context& io, AgentOptions o, sys::SockDiagSocket fast_dumps)
      : options(std::move(o)), ex(io.get_executor()), timer(io), fast_socket(std::move(fast_dumps)), fast(fast_socket) {}

  AgentOptions options;
  asio::any_io_executor ex;
  std::unique_ptr<HistoryWriter> history;  // any thread queues; null without history
  std::optional<HistoryStore> reader;      // the server's thread only: history queries
  std::unique_ptr<ProbeScheduler> probes;  // the server's thread only
  std::shared_ptr<HttpServer> server;
  asio::steady_timer timer;
  sys::SockDiagSocket fast_socket;
  FastTier fast;
  std::shared_ptr<const FastSample> latest_fast;  // the server's thread only
  std::optional<Error> fast_error;

  std::mutex mu;  // guards latest_full, full_error, stopping
  std::condition_variable wake;
  std::shared_ptr<const FullSample> latest_full;
  std::optional<Error> full_error;
  bool stopping = false;
  std::chrono::milliseconds next_full{};  // the wait after the latest full sample
  std::thread full_thread;

  void sample_fast() {
    auto s = fast.sample();
    if (s) {
      latest_fast = std::make_shared<const FastSample>(std::move(*s));
      fast_error.reset();
      if (history) history->samples(history_time(latest_fast->time), fast_series(*latest_fast));
      if (probes) probes->set_own_listeners(latest_fast->listeners);
      if (has_streams()) server->publish(sse_event("fast", fast_json(*latest_fast)));
    } else {
      fast_error = s.error();
    }
  }

  // On the server's thread, after every probe run.
  void probe_done(const ProbeStatus& status) {
    const auto j = probe_json(status);
    if (has_streams()) server->publish(sse_event("probe", j));
    if (history && status.last) {
      ProbeEvent e;
      e.time = history_time(status.last->time);
      e.target = status.target;
      e.ok = status.last->ok();
      e.stage = std::string(probe::stage_name(status.last->stage));
      if (!status.last->findings.empty()) e.finding_id = status.last->findings.front().finding.id;
      e.stages_json = j.at("last").at("stages").dump();
      history->probe(std::move(e));
    }
  }

  // On the server's thread, after the full thread took a sample.
  void full_taken(const std::shared_ptr<const FullSample>& full) {
    if (has_streams()) server->publish(sse_event("full", full_json(*full)));
  }

  // Events are rendered only when someone listens (the server's thread).
  [[nodiscard]] bool has_streams() const { return server && server->stats().streams > 0; }

  void schedule() {
    timer.expires_after(options.fast_interval);
    timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec) return;
      self->sample_fast();
      self->schedule();
    });
  }

  void full_loop() {
    auto dumps = sys::SockDiagSocket::open();
    FullTierOptions fo;
    fo.owners = options.owners;
    fo.lang = options.lang;
    std::unique_lock lock(mu);
    while (!stopping) {
      lock.unlock();
      Result<FullSample> s = dumps ? take_full_sample(*dumps, fo) : Result<FullSample>(std::unexpected(dumps.error()));
      const auto cost = s ? s->cpu : std::chrono::nanoseconds{};
      std::shared_ptr<const FullSample> taken;
      if (s) {
        taken = std::make_shared<const FullSample>(std::move(*s));
        if (history) {
          const auto t = history_time(taken->time);
          history->samples(t, full_series(*taken));
          history->findings(t, finding_observations(taken->findings));
        }
        asio::post(ex, [weak = weak_from_this(), taken] {
          if (auto self = weak.lock()) self->full_taken(taken);
        });
      }
      lock.lock();
      if (taken) {
        latest_full = std::move(taken);
        full_error.reset();
      } else {
        full_error = s.error();
      }
      next_full = full_wait(options.full_interval, cost, options.full_cpu_budget);
      wake.wait_for(lock, next_full, [this] { return stopping; });
    }
  }

  HttpResponse handle(const HttpRequest& r) {
    HttpResponse res;
    const std::string path = r.target.substr(0, r.target.find('?'));
    if (options.token && !bearer_matches(r.authorization, *options.token) &&
        !cookie_matches(r.cookie, *options.token)) {
      const auto from_query = path == "/" ? query_param(r.target, "token") : std::nullopt;
      if (from_query && bearer_matches("Bearer " + *from_query, *options.token)) {
        // The dashboard's first visit: the token moves from the address bar into a cookie.
        res.status = 303;
        res.headers.emplace_back("Location", "/");
        res.headers.emplace_back("Set-Cookie", std::string(kTokenCookie) + "=" + *options.token +
                                                   "; Path=/; HttpOnly; SameSite=Strict");
        return res;
      }
      res.status = 401;
      res.body = "a bearer token is required: Authorization: Bearer <token from the data dir> "
                 "(the dashboard: open /?token=<token>)\n";
      res.headers.emplace_back("WWW-Authenticate", "Bearer");
      return res;
    }
    if (path == "/api/v1/snapshot") {
      nlohmann::json j;
      j["fast"] = latest_fast ? fast_json(*latest_fast) : nlohmann::json(nullptr);
      j["fast_error"] = fast_error ? nlohmann::json(fast_error->message()) : nlohmann::json(nullptr);
      std::optional<Error> ferr;
      const auto full = full_sample(&ferr);
      j["full"] = full ? full_json(*full) : nlohmann::json(nullptr);
      {
        std::lock_guard lock(mu);
        j["full_wait_ms"] = next_full.count();
      }
      if (history) {
        const auto hs = history->stats();
        j["history"] = {{"file", options.history_file->string()},
                        {"writes", hs.jobs_done},
                        {"failed", hs.jobs_failed},
                        {"dropped", hs.jobs_dropped},
                        {"last_error", hs.last_error ? nlohmann::json(hs.last_error->message()) : nlohmann::json(nullptr)}};
      } else {
        j["history"] = nullptr;
      }
      j["full_error"] = ferr ? nlohmann::json(ferr->message()) : nlohmann::json(nullptr);
      return json_response(j);
    }
    if (path == "/api/v1/events") {
      // The stream starts with the latest samples, so a page draws at once.
      res.stream = true;
      res.body = "retry: 2000\n\n";
      if (latest_fast) res.body += sse_event("fast", fast_json(*latest_fast));
      if (const auto full = full_sample()) res.body += sse_event("full", full_json(*full));
      return res;
    }
    if (const DashboardAsset* asset = dashboard_asset(path)) {
      res.content_type = std::string(asset->content_type);
      res.body = std::string(asset->body);
      res.headers.emplace_back("ETag", std::string(asset->etag));
      // The page and its files are embedded: no-cache plus the ETag revalidates them cheaply.
      res.headers.emplace_back("Cache-Control", "no-cache");
      return res;
    }
    if (path == "/api/v1/history") return history_route(r.target);
    if (path == "/api/v1/probes") {
      nlohmann::json list = nlohmann::json::array();
      if (probes) {
        for (const auto& p : probes->snapshot()) list.push_back(probe_json(p));
      }
      return json_response({{"probes", std::move(list)}});
    }
    if (path == "/api/v1/findings") return findings_route(r.target);
    if (path == "/metrics") {
      const auto full = full_sample();
      auto families = metric_families(latest_fast.get(), full.get());
      if (probes) {
        const auto statuses = probes->snapshot();
        for (auto& f : probe_metric_families(statuses)) families.push_back(std::move(f));
      }
      auto page = prom::render(families);
      if (!page) {
        res.status = 500;
        res.body = page.error().message() + "\n";
        return res;
      }
      res.content_type = std::string(prom::kContentType);
      res.body = std::move(*page);
      return res;
    }
    res.status = 404;
    res.body = "not found: " + path + "\n";
    return res;
  }

  std::shared_ptr<const FullSample> full_sample(std::optional<Error>* error = nullptr) {
    std::lock_guard lock(mu);
    if (error != nullptr) *error = full_error;
    return latest_full;
  }

  HttpResponse history_route(const std::string& target) {
    if (!reader) return error_response(503, "history is off (no data dir)");
    auto req = parse_history_request(target, now_ms());
    if (!req) return error_response(400, req.error().message());
    if (req->series.empty()) return json_response({{"series_names", reader->series_names()}});
    std::vector<HistorySeries> out;
    for (const auto& name : req->series) {
      auto s = reader->query(HistoryQuery{name, req->from, req->to, req->step});
      if (!s) return error_response(400, s.error().message());
      out.push_back(std::move(*s));
    }
    return json_response(history_json(*req, out));
  }

  HttpResponse findings_route(const std::string& target) {
    const auto full = full_sample();
    nlohmann::json j;
    j["current"] = full ? rules::findings_json(full->findings) : nlohmann::json::array();
    if (!reader) {
      j["events"] = nullptr;
      return json_response(j);
    }
    auto q = parse_event_request(target, now_ms(), std::chrono::hours(1));
    if (!q) return error_response(400, q.error().message());
    auto events = reader->findings(*q);
    if (!events) return error_response(500, events.error().message());
    j["events"] = finding_events_json(*events);
    return json_response(j);
  }
};

Result<std::unique_ptr<Agent>> Agent::start(asio::io_context& io, AgentOptions options) {
  auto dumps = sys::SockDiagSocket::open();
  if (!dumps) return std::unexpected(dumps.error());
  std::unique_ptr<Agent> agent(new Agent());
  agent->state_ = std::make_shared<State>(io, std::move(options), std::move(*dumps));
  auto& st = *agent->state_;
  if (st.options.history_file) {
    auto writer = HistoryWriter::start(*st.options.history_file, st.options.history);
    if (!writer) return std::unexpected(writer.error());
    st.history = std::move(*writer);
    auto reader = HistoryStore::open_reader(*st.options.history_file, st.options.history);
    if (!reader) return std::unexpected(reader.error());
    st.reader.emplace(std::move(*reader));
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
  st.sample_fast();  // the first sample before the first request (and the listeners to probe)
  st.server->start();
  st.probes->start();
  st.schedule();
  st.full_thread = std::thread([s = agent->state_] { s->full_loop(); });
  return agent;
}

Endpoint Agent::local() const { return state_->server->local(); }

void Agent::stop() {
  if (!state_) return;
  {
    std::lock_guard lock(state_->mu);
    if (state_->stopping) return;
    state_->stopping = true;
  }
  state_->wake.notify_all();
  state_->timer.cancel();
  if (state_->probes) state_->probes->stop();
  if (state_->server) state_->server->stop();  // none when start() failed before listening
  if (state_->full_thread.joinable()) state_->full_thread.join();
  // The reader first: the writer, closing last, checkpoints the WAL into the database file.
  state_->reader.reset();
  state_->history.reset();  // writes what is queued
}

Agent::~Agent() { stop(); }

}  // namespace connscope::agent
