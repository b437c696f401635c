#include "agent/agent.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <boost/asio/steady_timer.hpp>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "agent/fast_tier.h"
#include "agent/full_tier.h"
#include "agent/metrics.h"
#include "agent/prometheus.h"
#include "agent/snapshot_json.h"

namespace connscope::agent {

namespace asio = boost::asio;

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
      : options(std::move(o)), timer(io), fast_socket(std::move(fast_dumps)), fast(fast_socket) {}

  AgentOptions options;
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
  std::thread full_thread;

  void sample_fast() {
    auto s = fast.sample();
    if (s) {
      latest_fast = std::make_shared<const FastSample>(std::move(*s));
      fast_error.reset();
    } else {
      fast_error = s.error();
    }
  }

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
      lock.lock();
      if (s) {
        latest_full = std::make_shared<const FullSample>(std::move(*s));
        full_error.reset();
      } else {
        full_error = s.error();
      }
      wake.wait_for(lock, options.full_interval, [this] { return stopping; });
    }
  }

  HttpResponse handle(const HttpRequest& r) {
    HttpResponse res;
    if (options.token && !bearer_matches(r.authorization, *options.token)) {
      res.status = 401;
      res.body = "a bearer token is required: Authorization: Bearer <token from the data dir>\n";
      res.headers.emplace_back("WWW-Authenticate", "Bearer");
      return res;
    }
    const std::string path = r.target.substr(0, r.target.find('?'));
    if (path == "/api/v1/snapshot") {
      nlohmann::json j;
      j["fast"] = latest_fast ? fast_json(*latest_fast) : nlohmann::json(nullptr);
      j["fast_error"] = fast_error ? nlohmann::json(fast_error->message()) : nlohmann::json(nullptr);
      std::shared_ptr<const FullSample> full;
      std::optional<Error> ferr;
      {
        std::lock_guard lock(mu);
        full = latest_full;
        ferr = full_error;
      }
      j["full"] = full ? full_json(*full) : nlohmann::json(nullptr);
      j["full_error"] = ferr ? nlohmann::json(ferr->message()) : nlohmann::json(nullptr);
      res.content_type = "application/json";
      res.body = j.dump();
      res.body += '\n';
      return res;
    }
    if (path == "/metrics") {
      std::shared_ptr<const FullSample> full;
      {
        std::lock_guard lock(mu);
        full = latest_full;
      }
      auto page = prom::render(metric_families(latest_fast.get(), full.get()));
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
};

Result<std::unique_ptr<Agent>> Agent::start(asio::io_context& io, AgentOptions options) {
  auto dumps = sys::SockDiagSocket::open();
  if (!dumps) return std::unexpected(dumps.error());
  std::unique_ptr<Agent> agent(new Agent());
  agent->state_ = std::make_shared<State>(io, std::move(options), std::move(*dumps));
  auto& st = *agent->state_;
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
  st.sample_fast();  // the first sample before the first request
  st.server->start();
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
  state_->server->stop();
  if (state_->full_thread.joinable()) state_->full_thread.join();
}

Agent::~Agent() { stop(); }

}  // namespace connscope::agent
