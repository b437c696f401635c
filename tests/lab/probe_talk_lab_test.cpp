// The talk and close stages in the lab: `connscope serve` (and, for peers it has no mode for, a
// scripted server of the test's own) in the server namespace; talk runs in the client namespace,
// two routers away, in both families. Every verdict is exact, with its evidence and its timing.

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <cstring>
#include <functional>
#include <iostream>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "core/endpoint.h"
#include "lab/lab.h"
#include "lab/scripted_peer.h"
#include "probe/talk.h"
#include "sys/unique_fd.h"

namespace connscope::lab {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using probe::TalkOptions;
using probe::TalkOutcome;
using probe::TalkResult;
using sys::UniqueFd;
using Clock = std::chrono::steady_clock;

constexpr std::uint16_t kPort = 8080;        // connscope serve
constexpr std::uint16_t kScriptPort = 9090;  // ScriptedPeer
constexpr Family kFamilies[] = {Family::v4, Family::v6};
constexpr std::string_view kSshBanner = "SSH-2.0-OpenSSH_9.2p1 Debian-2";

int af(Family f) { return f == Family::v4 ? AF_INET : AF_INET6; }

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

std::string describe(const TalkResult& r) {
  return std::string(probe::outcome_name(r.outcome)) + " (end " +
         std::string(probe::read_end_name(r.end)) + ", " + std::to_string(r.bytes_received) +
         " B: " + probe::summarize(r.reply) + (r.error ? ", error " + r.error->message() : "") +
         ")";
}


// Blocks until the peer closes, the stop is requested or 10 s pass.
void wait_for_close(int fd, const std::stop_token& stop) {
  const auto until = Clock::now() + std::chrono::seconds(10);
  char buf[4096];
  while (!stop.stop_requested() && Clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) == 1 && ::recv(fd, buf, sizeof buf, MSG_DONTWAIT) <= 0) return;
  }
}

// Reads what the client sends first (up to `want` bytes or 2 s).
std::string read_request(int fd, std::size_t want) {
  std::string got;
  const auto until = Clock::now() + std::chrono::seconds(2);
  char buf[512];
  while (got.size() < want && Clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) != 1) continue;
    const auto n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got;
}

void send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const auto n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

class TalkLab : public LabTest {
 protected:
  std::string server(Family f) { return lab().addr(Node::server, f); }

  // connscope serve on both server addresses, kPort.
  Process serve(const std::vector<std::string>& args) {
    std::vector<std::string> argv{
        CONNSCOPE_BIN, "serve",
        "--listen",    Endpoint{AF_INET, server(Family::v4), kPort}.to_string(),
        "--listen",    Endpoint{AF_INET6, server(Family::v6), kPort}.to_string()};
    argv.insert(argv.end(), args.begin(), args.end());
    Process p = lab().spawn(Node::server, argv);
    if (!lab().wait_for_tcp_listen(Node::server, kPort, std::chrono::seconds(3))) {
      ADD_FAILURE() << "serve did not listen: " << p.err();
    }
    return p;
  }

  // A blocking connect from the client namespace (3 s at most).
  UniqueFd connect_from_client(Family f, std::uint16_t port) {
    return lab().in_ns(Node::client, [&]() -> UniqueFd {
      sockaddr_storage ss{};
      const socklen_t len = Endpoint{af(f), server(f), port}.to_sockaddr(ss);
      UniqueFd fd(::socket(af(f), SOCK_STREAM | SOCK_CLOEXEC, 0));
      timeval tv{3, 0};
      ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) return UniqueFd();
      return fd;
    });
  }

  struct Timed {
    TalkResult result;
    Clock::duration took{};
  };

  // Connects, then runs the talk stage on its own io_context; `took` is the stage's wall time.
  Timed talk_to(Family f, std::uint16_t port, TalkOptions o) {
    UniqueFd fd = connect_from_client(f, port);
    if (!fd) {
      ADD_FAILURE() << "connect to " << server(f) << ":" << port << ": " << std::strerror(errno);
      return {};
    }
    asio::io_context io;
    tcp::socket s(io);
    s.assign(f == Family::v4 ? tcp::v4() : tcp::v6(), fd.release());
    const auto start = Clock::now();
    auto future = asio::co_spawn(io, probe::talk(s, std::move(o)), asio::use_future);
    io.run();
    Timed t{future.get(), Clock::now() - start};
    std::cout << "[talk " << to_string(f) << "] " << describe(t.result) << " in " << ms(t.took)
              << " ms, first byte "
              << (t.result.first_byte ? std::to_string(ms(*t.result.first_byte)) + " ms" : "none")
              << "\n";
    return t;
  }
};

TalkOptions options(AppProtocol p,
                    std::chrono::milliseconds deadline = std::chrono::milliseconds(3000)) {
  TalkOptions o;
  o.protocol = p;
  o.deadline = deadline;
  o.slow_first_byte = std::chrono::milliseconds(1000);
  return o;
}

TalkOptions http_options(Family f,
                         std::chrono::milliseconds deadline = std::chrono::milliseconds(3000)) {
  TalkOptions o = options(AppProtocol::http, deadline);
  o.http_host = f == Family::v4 ? "198.18.3.2:8080" : "[2001:db8:3::2]:8080";
  return o;
}

TEST_F(TalkLab, Http200WithServerHeader) {
  Process p = serve({"--mode", "http"});
  for (Family f : kFamilies) {
    const auto [r, took] = talk_to(f, kPort, http_options(f));
    EXPECT_EQ(r.outcome, TalkOutcome::ok) << describe(r);
    ASSERT_TRUE(r.http.has_value()) << to_string(f);
    EXPECT_EQ(r.http->status, 200u);
    EXPECT_EQ(r.http->version, 11u);
    EXPECT_EQ(r.http->reason, "OK");
    EXPECT_EQ(r.http->server, "connscope-serve");
    EXPECT_EQ(r.http->content_type, "text/plain; charset=utf-8");
    EXPECT_TRUE(r.http->content_length.has_value());
    EXPECT_EQ(r.reply.kind, probe::ReplyKind::http_response);
    ASSERT_TRUE(r.first_byte.has_value());
    EXPECT_LT(*r.first_byte, std::chrono::milliseconds(500));
    EXPECT_FALSE(r.slow);
    EXPECT_GT(r.bytes_sent, 0u);
    EXPECT_EQ(probe::finding_id(r), "");
  }
}

TEST_F(TalkLab, Http503And404AreFindings) {
  {
    Process p = serve({"--mode", "http", "--http-status", "503"});
    for (Family f : kFamilies) {
      const auto [r, took] = talk_to(f, kPort, http_options(f));
      EXPECT_EQ(r.outcome, TalkOutcome::http_5xx) << describe(r);
      ASSERT_TRUE(r.http.has_value());
      EXPECT_EQ(r.http->status, 503u);
      EXPECT_EQ(r.http->reason, "Service Unavailable");
      EXPECT_EQ(probe::finding_id(r), "app.http_5xx");
    }
  }
  Process p = serve({"--mode", "http", "--http-status", "404"});
  for (Family f : kFamilies) {
    const auto [r, took] = talk_to(f, kPort, http_options(f));
    EXPECT_EQ(r.outcome, TalkOutcome::http_4xx) << describe(r);
    ASSERT_TRUE(r.http.has_value());
    EXPECT_EQ(r.http->status, 404u);
    EXPECT_EQ(probe::finding_id(r), "app.http_4xx");
  }
}

TEST_F(TalkLab, SlowFirstByteIsMeasured) {
  Process p = serve({"--mode", "slow-first-byte=1500ms"});
  for (Family f : kFamilies) {
    auto o = http_options(f, std::chrono::milliseconds(4000));
    o.slow_first_byte = std::chrono::milliseconds(500);
    const auto [r, took] = talk_to(f, kPort, o);
    EXPECT_EQ(r.outcome, TalkOutcome::slow_first_byte) << describe(r);
    ASSERT_TRUE(r.first_byte.has_value());
    EXPECT_GE(*r.first_byte, std::chrono::milliseconds(1500));
    EXPECT_LT(*r.first_byte, std::chrono::milliseconds(1800));
    EXPECT_TRUE(r.slow);
    ASSERT_TRUE(r.http.has_value());
    EXPECT_EQ(r.http->status, 200u);
    EXPECT_EQ(probe::finding_id(r), "app.slow_first_byte");
  }
}

TEST_F(TalkLab, SshBannerIsRecognisedWithItsVersion) {
  Process p = serve({"--mode", "banner=" + std::string(kSshBanner)});
  for (Family f : kFamilies) {
    const auto [r, took] = talk_to(f, kPort, options(AppProtocol::ssh));
    EXPECT_EQ(r.outcome, TalkOutcome::ok) << describe(r);
    EXPECT_EQ(r.reply.kind, probe::ReplyKind::ssh_banner);
    EXPECT_EQ(r.reply.version, "2.0");
    EXPECT_EQ(r.reply.software, "OpenSSH_9.2p1");
    EXPECT_EQ(r.reply.text, "Debian-2");
    EXPECT_EQ(probe::summarize(r.reply), kSshBanner);
    EXPECT_EQ(r.bytes_received, kSshBanner.size() + 2);
    EXPECT_EQ(r.bytes_sent, 0u);
    EXPECT_LT(took, std::chrono::milliseconds(500));
  }
}

TEST_F(TalkLab, HttpToAnSshServerIsAnUnexpectedReply) {
  Process p = serve({"--mode", "banner=" + std::string(kSshBanner)});
  for (Family f : kFamilies) {
    const auto [r, took] = talk_to(f, kPort, http_options(f));
    EXPECT_EQ(r.outcome, TalkOutcome::unexpected_reply) << describe(r);
    EXPECT_EQ(r.end, probe::ReadEnd::invalid);
    EXPECT_EQ(r.reply.kind, probe::ReplyKind::ssh_banner);
    EXPECT_TRUE(r.error.has_value()) << "the parser's complaint";
  }
}

TEST_F(TalkLab, SilentPeersAreNoResponseAtTheDeadline) {
  const auto deadline = std::chrono::milliseconds(1500);
  // never-accept: the kernel completes the handshake, the connection waits in the accept queue.
  // discard: accepted and read, never answered.
  for (const char* mode : {"never-accept", "discard"}) {
    Process p = serve({"--mode", mode});
    for (Family f : kFamilies) {
      for (AppProtocol proto : {AppProtocol::ssh, AppProtocol::http}) {
        auto o = proto == AppProtocol::http ? http_options(f, deadline) : options(proto, deadline);
        const auto [r, took] = talk_to(f, kPort, o);
        EXPECT_EQ(r.outcome, TalkOutcome::no_response) << mode << " " << describe(r);
        EXPECT_EQ(r.end, probe::ReadEnd::deadline) << mode;
        EXPECT_EQ(r.bytes_received, 0u);
        EXPECT_FALSE(r.first_byte.has_value());
        EXPECT_EQ(probe::finding_id(r), "app.no_response");
        EXPECT_GE(took, deadline) << mode;
        EXPECT_LT(took, deadline * 11 / 10) << mode;
        if (proto == AppProtocol::http) {
          EXPECT_GT(r.bytes_sent, 0u) << "the request was written";
        }
      }
    }
  }
}

TEST_F(TalkLab, DripEndsAtTheDeadlineWithWhatCame) {
  const auto deadline = std::chrono::milliseconds(2500);
  // The start of a valid response, one byte a second: neither protocol can tell it is wrong.
  Process p = serve({"--mode", "drip=1s", "--banner", "HTTP/1.1 200 OK"});
  for (Family f : kFamilies) {
    for (AppProtocol proto : {AppProtocol::ssh, AppProtocol::http}) {
      auto o = proto == AppProtocol::http ? http_options(f, deadline) : options(proto, deadline);
      const auto [r, took] = talk_to(f, kPort, o);
      EXPECT_EQ(r.outcome, TalkOutcome::timeout) << describe(r);
      EXPECT_EQ(r.end, probe::ReadEnd::deadline);
      // One byte at 0 s, 1 s and 2 s after the accept.
      EXPECT_EQ(r.bytes_received, 3u) << describe(r);
      EXPECT_EQ(r.reply.preview, "HTT");
      EXPECT_GE(took, deadline);
      EXPECT_LT(took, deadline * 11 / 10);
    }
  }
}

// Text without a line end (or an HTTP header without its end), as fast as the network takes it.
ScriptedPeer::Script endless(std::string prefix) {
  return [prefix](int fd, const std::stop_token& stop, std::string&) {
    const std::string chunk(16384, 'A');
    send_all(fd, prefix);
    while (!stop.stop_requested()) {
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, 50) != 1) continue;
      if (::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL | MSG_DONTWAIT) < 0 &&
          errno != EAGAIN)
        return;
    }
  };
}

TEST_F(TalkLab, EndlessBannerStopsAtTheByteCap) {
  const auto deadline = std::chrono::milliseconds(3000);
  {
    ScriptedPeer peer(lab(), kScriptPort, endless("SSH-2.0-"));
    for (Family f : kFamilies) {
      const auto [r, took] = talk_to(f, kScriptPort, options(AppProtocol::ssh, deadline));
      EXPECT_EQ(r.outcome, TalkOutcome::unexpected_reply) << describe(r);
      EXPECT_EQ(r.end, probe::ReadEnd::limit);
      EXPECT_TRUE(r.limit_reached);
      EXPECT_EQ(r.bytes_received, 4096u);
      EXPECT_LT(took, deadline);
    }
  }
  ScriptedPeer peer(lab(), kScriptPort, endless("HTTP/1.1 200 OK\r\nX-Filler: "));
  for (Family f : kFamilies) {
    const auto [r, took] = talk_to(f, kScriptPort, http_options(f, deadline));
    EXPECT_EQ(r.outcome, TalkOutcome::unexpected_reply) << describe(r);
    // Beast's header limit or our read cap, whichever trips first: both at 16 KiB.
    EXPECT_TRUE(r.end == probe::ReadEnd::invalid || r.end == probe::ReadEnd::limit) << describe(r);
    EXPECT_LE(r.bytes_received, 16384u);
    EXPECT_GE(r.bytes_received, 4096u);
    EXPECT_EQ(r.reply.kind, probe::ReplyKind::http_response);
    EXPECT_LT(took, deadline);
  }
}

TEST_F(TalkLab, MegabytesOfGarbageEndAtOnce) {
  ScriptedPeer peer(lab(), kScriptPort, [](int fd, const std::stop_token& stop, std::string&) {
    std::string chunk(65536, '\0');
    for (std::size_t i = 0; i < chunk.size(); ++i)
      chunk[i] = static_cast<char>((i * 131 + 7) & 0xff);
    for (int sent = 0; sent < 64 && !stop.stop_requested(); ++sent) {  // 4 MiB at most
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, 50) != 1) continue;
      if (::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL | MSG_DONTWAIT) < 0 &&
          errno != EAGAIN)
        return;
    }
  });
  for (Family f : kFamilies) {
    for (AppProtocol proto : {AppProtocol::ssh, AppProtocol::smtp, AppProtocol::redis,
                              AppProtocol::mysql, AppProtocol::postgres, AppProtocol::http}) {
      auto o = proto == AppProtocol::http ? http_options(f) : options(proto);
      const auto [r, took] = talk_to(f, kScriptPort, o);
      EXPECT_EQ(r.outcome, TalkOutcome::unexpected_reply)
          << protocol_name(proto) << " " << describe(r);
      EXPECT_EQ(r.reply.kind, probe::ReplyKind::binary) << protocol_name(proto);
      EXPECT_LE(r.bytes_received, 16384u);
      EXPECT_LT(took, std::chrono::milliseconds(500)) << protocol_name(proto);
    }
  }
}

TEST_F(TalkLab, ResetAfterAcceptIsResetByPeer) {
  Process p = serve({"--mode", "reset-after-accept"});
  for (Family f : kFamilies) {
    for (AppProtocol proto : {AppProtocol::ssh, AppProtocol::http}) {
      auto o = proto == AppProtocol::http ? http_options(f) : options(proto);
      const auto [r, took] = talk_to(f, kPort, o);
      EXPECT_EQ(r.outcome, TalkOutcome::reset_by_peer) << describe(r);
      EXPECT_EQ(r.peer_close, probe::PeerClose::rst);
      EXPECT_EQ(r.bytes_received, 0u);
      EXPECT_EQ(probe::finding_id(r), "tcp.reset_after_accept");
      EXPECT_LT(took, std::chrono::milliseconds(500));
    }
  }
}

TEST_F(TalkLab, CloseAfterAcceptIsClosedByPeer) {
  Process p = serve({"--mode", "close-after-accept"});
  for (Family f : kFamilies) {
    const auto [r, took] = talk_to(f, kPort, options(AppProtocol::smtp));
    EXPECT_EQ(r.outcome, TalkOutcome::closed_by_peer) << describe(r);
    EXPECT_EQ(r.peer_close, probe::PeerClose::fin);
    EXPECT_EQ(probe::finding_id(r), "tcp.closed_after_accept");
    EXPECT_LT(took, std::chrono::milliseconds(500));
  }
}

TEST_F(TalkLab, GreetingsAndRequestsOfTheOtherProtocols) {
  // Each connection gets the next script in turn; both families run the same list.
  struct Step {
    AppProtocol protocol;
    std::size_t request_size;  // what the client must send first
    std::string reply;
  };
  const std::string mysql_hello = [] {
    const std::string payload = std::string("\x0a") + "8.0.35" + std::string(1, '\0') +
                                std::string("\x0b\0\0\0", 4) + "abcdefgh" + std::string(1, '\0');
    std::string p{static_cast<char>(payload.size()), '\0', '\0', '\0'};
    return p + payload;
  }();
  const std::vector<Step> steps = {
      {AppProtocol::smtp, 0, "220-mx.connscope.test ESMTP\r\n220 ready\r\n"},
      {AppProtocol::ftp, 0, "220 FTP ready\r\n"},
      {AppProtocol::redis, 6, "+PONG\r\n"},
      {AppProtocol::postgres, 8, "N"},
      {AppProtocol::mysql, 0, mysql_hello},
  };
  std::size_t next = 0;
  std::mutex m;
  ScriptedPeer peer(lab(), kScriptPort, [&](int fd, const std::stop_token& stop, std::string& request) {
    Step step;
    {
      const std::lock_guard lock(m);
      step = steps[next++ % steps.size()];
    }
    if (step.request_size > 0) request = read_request(fd, step.request_size);
    send_all(fd, step.reply);
    wait_for_close(fd, stop);
  });
  for (Family f : kFamilies) {
    for (const auto& step : steps) {
      const auto [r, took] = talk_to(f, kScriptPort, options(step.protocol));
      EXPECT_EQ(r.outcome, TalkOutcome::ok) << protocol_name(step.protocol) << " " << describe(r);
      EXPECT_EQ(r.bytes_received, step.reply.size()) << protocol_name(step.protocol);
      EXPECT_EQ(r.bytes_sent, step.request_size) << protocol_name(step.protocol);
      EXPECT_LT(took, std::chrono::milliseconds(500));
      if (step.protocol == AppProtocol::postgres) {
        EXPECT_EQ(r.postgres_tls, false);
      }
      if (step.protocol == AppProtocol::mysql) {
        EXPECT_EQ(r.reply.software, "8.0.35");
      }
      if (step.protocol == AppProtocol::smtp) {
        EXPECT_EQ(r.reply.code, 220);
      }
    }
  }
  // The scripted peer saw exactly the bytes each protocol must send first.
  const auto requests = peer.requests(2 * steps.size());
  ASSERT_EQ(requests.size(), 2 * steps.size());
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const auto& step = steps[i % steps.size()];
    EXPECT_EQ(requests[i], std::string(probe::opening_bytes(step.protocol)))
        << protocol_name(step.protocol);
  }
}

TEST_F(TalkLab, HttpOverTlsToNginxThenTheCloseStageSeesItsFin) {
  const auto& certs = lab().certs();
  Process nginx = lab().start_nginx_tls(certs.valid.cert, certs.valid.key, 443);
  for (Family f : kFamilies) {
    UniqueFd fd = connect_from_client(f, 443);
    ASSERT_TRUE(fd) << std::strerror(errno);
    asio::io_context io;
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    ctx.load_verify_file(certs.ca.string());
    ctx.set_verify_mode(asio::ssl::verify_peer);
    asio::ssl::stream<tcp::socket> tls(io, ctx);
    tls.next_layer().assign(f == Family::v4 ? tcp::v4() : tcp::v6(), fd.release());
    SSL_set_tlsext_host_name(tls.native_handle(), std::string(kServerName).c_str());
    TalkOptions o = options(AppProtocol::http);
    o.http_host = std::string(kServerName);
    o.http_path = "/status";
    auto future = asio::co_spawn(
        io,
        [&]() -> asio::awaitable<std::pair<TalkResult, probe::CloseResult>> {
          co_await tls.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
          auto r = co_await probe::talk(tls, o);
          auto c = co_await probe::observe_close(tls.next_layer(), std::chrono::milliseconds(2000));
          co_return std::pair{std::move(r), c};
        },
        asio::use_future);
    io.run();
    const auto [r, c] = future.get();
    std::cout << "[tls " << to_string(f) << "] " << describe(r) << "; close "
              << probe::peer_close_name(c.how) << " after " << ms(c.after) << " ms, "
              << c.bytes_discarded << " B discarded\n";
    EXPECT_EQ(r.outcome, TalkOutcome::ok) << describe(r);
    ASSERT_TRUE(r.http.has_value());
    EXPECT_EQ(r.http->status, 200u);
    EXPECT_TRUE(r.http->server.starts_with("nginx")) << r.http->server;
    EXPECT_EQ(c.how, probe::PeerClose::fin);
    EXPECT_FALSE(c.error.has_value());
  }
}

TEST_F(TalkLab, CloseStageSeesFinFromHttpAndNothingFromACloseWaitLeak) {
  for (const char* mode : {"http", "no-close"}) {
    Process p = serve({"--mode", mode});
    for (Family f : kFamilies) {
      UniqueFd fd = connect_from_client(f, kPort);
      ASSERT_TRUE(fd);
      asio::io_context io;
      tcp::socket s(io);
      s.assign(f == Family::v4 ? tcp::v4() : tcp::v6(), fd.release());
      const bool http = std::string_view(mode) == "http";
      auto future = asio::co_spawn(
          io,
          [&]() -> asio::awaitable<probe::CloseResult> {
            if (http) co_await probe::talk(s, http_options(f));
            co_return co_await probe::observe_close(s, std::chrono::milliseconds(1000));
          },
          asio::use_future);
      io.run();
      const auto c = future.get();
      std::cout << "[close " << mode << " " << to_string(f) << "] " << probe::peer_close_name(c.how)
                << " after " << ms(c.after) << " ms\n";
      EXPECT_FALSE(c.error.has_value()) << c.error->message();
      if (http) {
        // serve answered "Connection: close" with its FIN: already there, or right after ours.
        EXPECT_EQ(c.how, probe::PeerClose::fin) << mode;
        EXPECT_LT(c.after, std::chrono::milliseconds(500));
      } else {
        // no-close never closes after our FIN: the wait ends with the connection half-open.
        EXPECT_EQ(c.how, probe::PeerClose::none) << mode;
        EXPECT_GE(c.after, std::chrono::milliseconds(1000));
        EXPECT_LT(c.after, std::chrono::milliseconds(1100));
      }
    }
  }
}

}  // namespace
}  // namespace connscope::lab
