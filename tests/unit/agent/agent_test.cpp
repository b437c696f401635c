// The agent's core with a sampler of the test's own: whatever a Sampler delivers (on the server's
// thread) is what the routes show, its description included, and stop() stops it. This is the
// seam another sampler (BPF) plugs into.
#include "agent/agent.h"

#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <thread>

namespace connscope::agent {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

// Delivers what the test tells it to, when it tells it to.
class ScriptedSampler final : public Sampler {
 public:
  SampleSink sink;
  bool stopped = false;

  void start(SampleSink s) override {
    sink = std::move(s);
    auto first = std::make_shared<FastSample>();
    first->counters = {{"Tcp.CurrEstab", 42}};
    sink.fast(first);
  }
  void stop() override { stopped = true; }
  [[nodiscard]] SamplerInfo info() const override {
    return SamplerInfo{.kind = "scripted", .fast_interval = 1s, .full_interval = 600s, .bpf = true, .bpf_off_reason = ""};
  }
  [[nodiscard]] std::chrono::milliseconds full_wait() const override { return 600s; }
};

struct Reply {
  unsigned status = 0;
  std::string body;
};

// A GET from another thread while this one runs the agent's io_context.
Reply get(asio::io_context& io, std::uint16_t port, const std::string& target, const std::string& authorization = "") {
  Reply reply;
  std::string failure;
  std::atomic<bool> done{false};
  std::thread client([&] {
    try {
      asio::io_context cio;
      beast::tcp_stream s(cio);
      s.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
      http::request<http::empty_body> req(http::verb::get, target, 11);
      req.set(http::field::host, "127.0.0.1");
      if (!authorization.empty()) req.set(http::field::authorization, authorization);
      http::write(s, req);
      beast::flat_buffer buffer;
      http::response<http::string_body> res;
      http::read(s, buffer, res);
      reply = Reply{res.result_int(), res.body()};
    } catch (const std::exception& e) {
      failure = e.what();
    }
    done = true;
  });
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!done && std::chrono::steady_clock::now() < deadline) io.run_one_for(10ms);
  client.join();
  EXPECT_EQ(failure, "");
  return reply;
}

AgentOptions loopback_options() {
  AgentOptions o;
  o.listen = Endpoint{AF_INET, "127.0.0.1", 0};
  o.probes.probe_own_listeners = false;  // nothing on this machine is probed
  return o;
}

TEST(AgentCore, WhatTheSamplerDeliversIsWhatTheRoutesShow) {
  asio::io_context io(1);
  auto owned = std::make_unique<ScriptedSampler>();
  ScriptedSampler* sampler = owned.get();
  auto started = Agent::start(io, loopback_options(), std::move(owned));
  ASSERT_TRUE(started.has_value()) << started.error().message();
  auto& agent = **started;
  const auto port = agent.local().port;

  // The first fast sample came during start.
  auto first = get(io, port, "/api/v1/snapshot");
  ASSERT_EQ(first.status, 200u) << first.body;
  auto j = nlohmann::json::parse(first.body);
  EXPECT_EQ(j.at("fast").at("curr_estab"), 42);
  EXPECT_TRUE(j.at("full").is_null());
  EXPECT_EQ(j.at("sampler"), nlohmann::json::parse(R"({"kind":"scripted","fast_interval_ms":1000,
      "full_interval_ms":600000,"bpf":{"enabled":true,"reason":null}})"));

  auto full = std::make_shared<FullSample>();
  full->collected.snapshot.sockets = 7;
  sampler->sink.full(full);
  sampler->sink.error(SampleTier::fast, Error{"read /proc/net/snmp", 0, "gone"});
  j = nlohmann::json::parse(get(io, port, "/api/v1/snapshot").body);
  EXPECT_EQ(j.at("full").at("sockets"), 7);
  EXPECT_EQ(j.at("full_wait_ms"), 600000);
  EXPECT_EQ(j.at("fast").at("curr_estab"), 42);  // the previous good one stays
  EXPECT_EQ(j.at("fast_error"), "read /proc/net/snmp: gone");
  EXPECT_TRUE(j.at("history").is_null());

  const auto metrics = get(io, port, "/metrics");
  EXPECT_EQ(metrics.status, 200u);
  EXPECT_NE(metrics.body.find("connscope_tcp_established_or_close_wait 42\n"), std::string::npos) << metrics.body;

  agent.stop();
  EXPECT_TRUE(sampler->stopped);
}

TEST(AgentCore, WithATokenEveryRouteAsksForIt) {
  asio::io_context io(1);
  auto o = loopback_options();
  o.token = "s3cret-s3cret-s3cret";
  auto started = Agent::start(io, o, std::make_unique<ScriptedSampler>());
  ASSERT_TRUE(started.has_value()) << started.error().message();
  const auto port = (*started)->local().port;
  EXPECT_EQ(get(io, port, "/api/v1/snapshot").status, 401u);
  EXPECT_EQ(get(io, port, "/api/v1/snapshot", "Bearer s3cret-s3cret-s3cret").status, 200u);
}

}  // namespace
}  // namespace connscope::agent
