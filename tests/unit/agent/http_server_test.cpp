// The agent's HTTP server on loopback: keep-alive, read-only methods, malformed and oversized
// requests, slowloris connections cut at the request deadline while other clients are served,
// the connection limit, and the bearer-token comparison.
#include "agent/http_server.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <functional>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "sys/unique_fd.h"

namespace connscope::agent {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A server on 127.0.0.1 (kernel-chosen port) run by its own thread.
class Running {
 public:
  // Echoes the method and target; /events opens an event stream that starts with "start".
  explicit Running(HttpLimits limits) {
    auto s = HttpServer::listen(io_.get_executor(), Endpoint{AF_INET, "127.0.0.1", 0}, limits,
                                [](const HttpRequest& r) {
                                  HttpResponse res;
                                  if (r.target.starts_with("/events")) {
                                    res.stream = true;
                                    res.body = ": start\n\n";
                                    // /events?CHANNEL: a stream of that channel
                                    if (const auto q = r.target.find('?'); q != std::string::npos) {
                                      res.stream_channel = r.target.substr(q + 1);
                                    }
                                    return res;
                                  }
                                  res.body = r.method + " " + r.target + "\n";
                                  return res;
                                });
    EXPECT_TRUE(s.has_value()) << s.error().message();
    server_ = *s;
    port_ = server_->local().port;
    server_->start();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Running() {
    boost::asio::post(io_, [this] { server_->stop(); });
    work_.reset();
    io_.stop();
    thread_.join();
  }
  std::uint16_t port() const { return port_; }
  HttpStats stats() {
    std::promise<HttpStats> p;
    boost::asio::post(io_, [&] { p.set_value(server_->stats()); });
    return p.get_future().get();
  }
  // Counts the channels `make` was asked for.
  int publish_by_channel(std::function<std::string(std::string_view)> make) {
    std::promise<int> p;
    boost::asio::post(io_, [&] {
      int calls = 0;
      server_->publish([&](std::string_view channel) {
        ++calls;
        return make(channel);
      });
      p.set_value(calls);
    });
    return p.get_future().get();
  }
  void publish(std::string event) {
    std::promise<void> p;
    boost::asio::post(io_, [&] {
      server_->publish(event);
      p.set_value();
    });
    p.get_future().get();
  }
  // Waits until the server's stats satisfy `pred` (or 3 s pass).
  template <typename Pred>
  bool wait_stats(Pred pred) {
    const auto end = Clock::now() + 3s;
    while (Clock::now() < end) {
      if (pred(stats())) return true;
      std::this_thread::sleep_for(5ms);
    }
    return false;
  }

 private:
  boost::asio::io_context io_{1};
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
      io_.get_executor()};
  std::shared_ptr<HttpServer> server_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

sys::UniqueFd connect_to(std::uint16_t port) {
  sys::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  return fd;
}

void send_all(int fd, std::string_view s) {
  while (!s.empty()) {
    const ssize_t n = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    s.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Reads until `until` appears, the peer closes, or `limit` passes.
std::string read_until(int fd, std::string_view until, std::chrono::milliseconds limit = 3s) {
  std::string got;
  const auto end = Clock::now() + limit;
  while (Clock::now() < end && (until.empty() || got.find(until) == std::string::npos)) {
    pollfd p{fd, POLLIN, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
    if (::poll(&p, 1, static_cast<int>(std::max<long>(left.count(), 0))) <= 0) break;
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got;
}

bool closed_by_peer(int fd, std::chrono::milliseconds limit = 2s) {
  const auto end = Clock::now() + limit;
  while (Clock::now() < end) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return true;
  }
  return false;
}

TEST(AgentHttp, KeepAliveServesSeveralRequestsOnOneConnection) {
  Running srv({});
  auto fd = connect_to(srv.port());
  send_all(fd.get(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  const auto one = read_until(fd.get(), "GET /metrics\n");
  EXPECT_EQ(one.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << one;
  EXPECT_NE(one.find("Server: connscope-agent"), std::string::npos);
  send_all(fd.get(), "HEAD /api/v1/snapshot?x=1 HTTP/1.1\r\nHost: x\r\n\r\n");
  const auto two = read_until(fd.get(), "\r\n\r\n");
  EXPECT_EQ(two.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << two;
  EXPECT_NE(two.find("Content-Length: 26"), std::string::npos) << two;  // "HEAD /api/v1/snapshot?x=1\n"
  EXPECT_EQ(srv.stats().requests, 2u);
}

TEST(AgentHttp, ReadOnlyAndBadInput) {
  Running srv({});
  {
    auto fd = connect_to(srv.port());
    send_all(fd.get(), "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    EXPECT_EQ(read_until(fd.get(), "\r\n").rfind("HTTP/1.1 405", 0), 0u);
  }
  {
    auto fd = connect_to(srv.port());
    send_all(fd.get(), "this is not http\r\n\r\n");
    EXPECT_EQ(read_until(fd.get(), "\r\n").rfind("HTTP/1.1 400", 0), 0u);
    EXPECT_TRUE(closed_by_peer(fd.get()));
  }
  {
    // A 1 MiB header: 431 after the first 8 KiB, then closed.
    auto fd = connect_to(srv.port());
    std::string big = "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(1 << 20, 'a') + "\r\n\r\n";
    std::thread sender([&] { send_all(fd.get(), big); });
    EXPECT_EQ(read_until(fd.get(), "\r\n").rfind("HTTP/1.1 431", 0), 0u);
    ::shutdown(fd.get(), SHUT_RDWR);
    sender.join();
  }
}

TEST(AgentHttp, SlowlorisIsCutOffWhileOthersAreServed) {
  HttpLimits limits;
  limits.request_deadline = 500ms;
  Running srv(limits);
  // 1,000 connections that send half a request header and nothing more.
  std::vector<sys::UniqueFd> slow;
  for (int i = 0; i < 1000; ++i) {
    slow.push_back(connect_to(srv.port()));
    send_all(slow.back().get(), "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ");
  }
  const auto t0 = Clock::now();
  auto fd = connect_to(srv.port());
  send_all(fd.get(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  const auto reply = read_until(fd.get(), "GET /metrics\n", 1s);
  EXPECT_LT(Clock::now() - t0, 1s);
  EXPECT_EQ(reply.rfind("HTTP/1.1 200 OK", 0), 0u) << reply;
  // After the deadline every slow one is closed.
  EXPECT_TRUE(closed_by_peer(slow.front().get(), 2s));
  EXPECT_TRUE(closed_by_peer(slow.back().get(), 3s));
  const auto deadline = Clock::now() + 3s;
  while (srv.stats().cut_off < 1000 && Clock::now() < deadline) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(srv.stats().cut_off, 1000u);
}

TEST(AgentHttp, OverTheConnectionLimitANewConnectionIsClosed) {
  HttpLimits limits;
  limits.max_connections = 2;
  Running srv(limits);
  auto a = connect_to(srv.port());
  auto b = connect_to(srv.port());
  // Let the server accept both before the third arrives.
  const auto deadline = Clock::now() + 2s;
  while (srv.stats().connections < 2 && Clock::now() < deadline) std::this_thread::sleep_for(5ms);
  auto c = connect_to(srv.port());
  EXPECT_TRUE(closed_by_peer(c.get()));
  EXPECT_EQ(srv.stats().refused, 1u);
  send_all(a.get(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(read_until(a.get(), "GET /\n").rfind("HTTP/1.1 200", 0), 0u);
}

TEST(AgentHttp, EventStreamGetsItsStartThenEveryPublishedEventAndKeepAlives) {
  HttpLimits limits;
  limits.stream_keepalive = 200ms;
  Running srv(limits);
  auto fd = connect_to(srv.port());
  send_all(fd.get(), "GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
  const auto head = read_until(fd.get(), ": start\n\n");
  EXPECT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << head;
  EXPECT_NE(head.find("Content-Type: text/event-stream"), std::string::npos) << head;
  EXPECT_EQ(head.find("Content-Length"), std::string::npos) << head;  // ends with the connection
  ASSERT_TRUE(srv.wait_stats([](const HttpStats& s) { return s.streams == 1; }));
  srv.publish("event: fast\ndata: {\"n\":1}\n\n");
  srv.publish("event: fast\ndata: {\"n\":2}\n\n");
  const auto events = read_until(fd.get(), "{\"n\":2}\n\n");
  EXPECT_EQ(events, "event: fast\ndata: {\"n\":1}\n\nevent: fast\ndata: {\"n\":2}\n\n");
  EXPECT_EQ(read_until(fd.get(), ": keep-alive\n\n", 1s), ": keep-alive\n\n");
  // A client that goes away is noticed at a later write, and its stream ends.
  fd.reset();
  EXPECT_TRUE(srv.wait_stats([](const HttpStats& s) { return s.streams == 0 && s.connections == 0; }));
  EXPECT_EQ(srv.stats().streams_dropped, 0u);
}

TEST(AgentHttp, EachStreamGetsTheEventMadeForItsChannelMadeOncePerChannel) {
  Running srv(HttpLimits{});
  std::vector<sys::UniqueFd> fds;
  for (const char* target : {"/events?en", "/events?zh-CN", "/events?zh-CN"}) {
    fds.push_back(connect_to(srv.port()));
    send_all(fds.back().get(), std::string("GET ") + target + " HTTP/1.1\r\nHost: x\r\n\r\n");
    read_until(fds.back().get(), ": start\n\n");
  }
  ASSERT_TRUE(srv.wait_stats([](const HttpStats& s) { return s.streams == 3; }));
  const int made = srv.publish_by_channel(
      [](std::string_view channel) { return "event: full\ndata: \"" + std::string(channel) + "\"\n\n"; });
  EXPECT_EQ(made, 2);  // once per channel in use
  EXPECT_EQ(read_until(fds[0].get(), "\n\n"), "event: full\ndata: \"en\"\n\n");
  EXPECT_EQ(read_until(fds[1].get(), "\n\n"), "event: full\ndata: \"zh-CN\"\n\n");
  EXPECT_EQ(read_until(fds[2].get(), "\n\n"), "event: full\ndata: \"zh-CN\"\n\n");
}

TEST(AgentHttp, AReaderThatFallsBehindLosesItsStreamAndOthersAreServed) {
  HttpLimits limits;
  limits.stream_backlog = 64 * 1024;
  Running srv(limits);
  auto slow = connect_to(srv.port());
  const int small = 4096;
  ::setsockopt(slow.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  send_all(slow.get(), "GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(srv.wait_stats([](const HttpStats& s) { return s.streams == 1; }));
  const std::string event = "data: " + std::string(16 * 1024, 'x') + "\n\n";
  // The kernel takes a few MiB into socket buffers before the backlog starts to grow.
  for (int i = 0; i < 4000 && srv.stats().streams_dropped == 0; ++i) srv.publish(event);
  EXPECT_TRUE(srv.wait_stats([](const HttpStats& s) { return s.streams_dropped == 1 && s.streams == 0; }));
  auto other = connect_to(srv.port());
  send_all(other.get(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(read_until(other.get(), "GET /metrics\n").rfind("HTTP/1.1 200", 0), 0u);
}

TEST(AgentHttp, OverTheStreamLimitANewStreamGets503) {
  HttpLimits limits;
  limits.max_streams = 1;
  Running srv(limits);
  auto first = connect_to(srv.port());
  send_all(first.get(), "GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(srv.wait_stats([](const HttpStats& s) { return s.streams == 1; }));
  auto second = connect_to(srv.port());
  send_all(second.get(), "GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
  const auto busy = read_until(second.get(), "too many event streams\n");
  EXPECT_EQ(busy.rfind("HTTP/1.1 503", 0), 0u) << busy;
  EXPECT_TRUE(closed_by_peer(second.get()));
  EXPECT_EQ(srv.stats().streams, 1u);
}

}  // namespace
}  // namespace connscope::agent
