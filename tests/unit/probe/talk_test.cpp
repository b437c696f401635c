#include "probe/talk.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <cstdint>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "sys/unique_fd.h"

namespace connscope::probe {
namespace {

using namespace std::string_literals;
using namespace std::chrono_literals;
using P = AppProtocol;
using O = TalkOutcome;
using R = ReplyProgress;

std::string mysql_packet(const std::string& payload) {
  std::string p{static_cast<char>(payload.size() & 0xff),
                static_cast<char>((payload.size() >> 8) & 0xff),
                static_cast<char>((payload.size() >> 16) & 0xff), '\0'};
  return p + payload;
}

const std::string kMysqlHello = mysql_packet(
    "\x0a"
    "8.0.35\0"s +
    "\x0b\0\0\0"s + "abcdefgh\0"s);
const std::string kMysqlDenied =
    mysql_packet("\xff\x6a\x04"s + "Host 'x' is not allowed to connect");
// 'E', length 0x17 (23: itself and 19 bytes of fields), severity, code, message, terminator.
const std::string kPgError = "E\0\0\0\x17SFATAL\0C28000\0Mno\0\0"s;

struct ProgressRow {
  P protocol;
  std::string bytes;
  R want;
};

TEST(ReplyProgress, KnowsWhenAReplyIsWholeOrClearlyForeign) {
  const std::vector<ProgressRow> rows = {
      {P::ssh, "", R::need_more},
      {P::ssh, "SSH-2.0-Open", R::need_more},
      {P::ssh, "SSH-2.0-OpenSSH_9.2p1\r\n", R::complete},
      {P::ssh, "Welcome\r\n", R::need_more},  // text before the version line is allowed
      {P::ssh, "Welcome\r\nSSH-2.0-x\r\n", R::complete},
      {P::ssh, "HTTP/1.1 400 Bad Request\r\n", R::complete},  // another protocol
      {P::ssh, "220 mx ESMTP\r\n", R::complete},
      {P::ssh, "\x00\x01"s, R::complete},              // binary: not a line protocol
      {P::ssh, std::string(3000, 'A'), R::need_more},  // the byte cap ends this one
      {P::smtp, "220 mx ESMTP\r\n", R::complete},
      {P::smtp, "220 mx ESMTP", R::need_more},
      {P::smtp, "220-mx ESMTP\r\n", R::need_more},
      {P::smtp, "220-mx ESMTP\r\n220 ready\r\n", R::complete},
      {P::smtp, "554 go away\r\n", R::complete},
      {P::smtp, "SSH-2.0-x\r\n", R::complete},
      {P::ftp, "120 ready in 5 minutes\r\n", R::need_more},
      {P::ftp, "120 ready in 5 minutes\r\n220 ok\r\n", R::complete},
      {P::redis, "+PO", R::need_more},
      {P::redis, "+PONG\r\n", R::complete},
      {P::redis, "-NOAUTH Authentication required.\r\n", R::complete},
      {P::redis, "\x15\x03\x03"s, R::complete},
      {P::mysql, "\x4a\0\0"s, R::need_more},
      {P::mysql, kMysqlHello.substr(0, 10), R::need_more},
      {P::mysql, kMysqlHello, R::complete},
      {P::mysql, kMysqlDenied, R::complete},
      {P::mysql, "SSH-2.0-x\r\n", R::complete},  // sequence byte '-' is not 0
      {P::postgres, "N", R::complete},
      {P::postgres, "S", R::complete},
      {P::postgres, "E\0\0"s, R::need_more},
      {P::postgres, kPgError.substr(0, 12), R::need_more},
      {P::postgres, kPgError, R::complete},
      {P::postgres, "EFATAL:  no", R::need_more},  // protocol 2: up to the NUL
      {P::postgres, "EFATAL:  no\0"s, R::complete},
      {P::postgres, "HTTP/1.1 400 Bad Request\r\n", R::complete},
      {P::banner, "hello", R::need_more},
      {P::banner, "hello\n", R::complete},
      {P::banner, "\x01"s, R::complete},
  };
  for (const auto& row : rows) {
    EXPECT_EQ(reply_progress(row.protocol, row.bytes), row.want)
        << protocol_name(row.protocol) << " " << escape_preview(row.bytes, 40);
  }
}

struct JudgeRow {
  const char* name;
  P protocol;
  std::string bytes;
  ReadEnd end;
  std::optional<unsigned> status;
  bool slow;
  O want;
};

TEST(Judge, Table) {
  const std::string ok200 = "HTTP/1.1 200 OK\r\n\r\n";
  const std::vector<JudgeRow> rows = {
      {"http 200", P::http, ok200, ReadEnd::complete, 200, false, O::ok},
      {"http 200 slow", P::http, ok200, ReadEnd::complete, 200, true, O::slow_first_byte},
      {"http 301", P::http, "HTTP/1.1 301 Moved\r\n\r\n", ReadEnd::complete, 301, false, O::ok},
      {"http 404", P::http, "HTTP/1.1 404 Not Found\r\n\r\n", ReadEnd::complete, 404, false,
       O::http_4xx},
      {"http 404 slow", P::http, "HTTP/1.1 404 Not Found\r\n\r\n", ReadEnd::complete, 404, true,
       O::http_4xx},
      {"http 503", P::http, "HTTP/1.1 503 Busy\r\n\r\n", ReadEnd::complete, 503, false,
       O::http_5xx},
      {"http 599", P::http, "HTTP/1.1 599 x\r\n\r\n", ReadEnd::complete, 599, false, O::http_5xx},
      {"http 600", P::http, "HTTP/1.1 600 x\r\n\r\n", ReadEnd::complete, 600, false,
       O::unexpected_reply},
      {"http got ssh", P::http, "SSH-2.0-x\r\n", ReadEnd::invalid, std::nullopt, false,
       O::unexpected_reply},
      {"http header too long", P::http, std::string(100, 'A'), ReadEnd::limit, std::nullopt, false,
       O::unexpected_reply},
      {"http drip", P::http, "HTT", ReadEnd::deadline, std::nullopt, false, O::timeout},
      {"http half header then FIN", P::http, "HTTP/1.1 200 OK\r\nSer", ReadEnd::eof, std::nullopt,
       false, O::closed_by_peer},
      {"silence", P::http, "", ReadEnd::deadline, std::nullopt, false, O::no_response},
      {"silent ssh", P::ssh, "", ReadEnd::deadline, std::nullopt, false, O::no_response},
      {"fin first", P::ssh, "", ReadEnd::eof, std::nullopt, false, O::closed_by_peer},
      {"rst first", P::smtp, "", ReadEnd::reset, std::nullopt, false, O::reset_by_peer},
      {"rst mid-reply", P::smtp, "220-a\r\n", ReadEnd::reset, std::nullopt, false,
       O::reset_by_peer},
      {"local error", P::ssh, "SSH-", ReadEnd::error, std::nullopt, false, O::failed},
      {"ssh", P::ssh, "SSH-2.0-OpenSSH_9.2p1\r\n", ReadEnd::complete, std::nullopt, false, O::ok},
      {"ssh slow", P::ssh, "SSH-2.0-OpenSSH_9.2p1\r\n", ReadEnd::complete, std::nullopt, true,
       O::slow_first_byte},
      {"ssh got http", P::ssh, "HTTP/1.1 400 Bad\r\n", ReadEnd::complete, std::nullopt, false,
       O::unexpected_reply},
      {"ssh endless line", P::ssh, std::string(4096, 'x'), ReadEnd::limit, std::nullopt, false,
       O::unexpected_reply},
      {"ssh drip", P::ssh, "SSH-2", ReadEnd::deadline, std::nullopt, false, O::timeout},
      {"smtp 220", P::smtp, "220 mx ESMTP\r\n", ReadEnd::complete, std::nullopt, false, O::ok},
      {"smtp 421", P::smtp, "421 busy\r\n", ReadEnd::complete, std::nullopt, false, O::app_error},
      {"smtp 250", P::smtp, "250 what\r\n", ReadEnd::complete, std::nullopt, false,
       O::unexpected_reply},
      {"smtp got ssh", P::smtp, "SSH-2.0-x\r\n", ReadEnd::complete, std::nullopt, false,
       O::unexpected_reply},
      {"ftp 220", P::ftp, "220 FTP ready\r\n", ReadEnd::complete, std::nullopt, false, O::ok},
      {"ftp 530", P::ftp, "530 not allowed\r\n", ReadEnd::complete, std::nullopt, false,
       O::app_error},
      {"redis pong", P::redis, "+PONG\r\n", ReadEnd::complete, std::nullopt, false, O::ok},
      {"redis noauth", P::redis, "-NOAUTH Authentication required.\r\n", ReadEnd::complete,
       std::nullopt, false, O::ok},
      {"redis denied", P::redis, "-DENIED protected mode\r\n", ReadEnd::complete, std::nullopt,
       false, O::app_error},
      {"redis err", P::redis, "-ERR unknown command\r\n", ReadEnd::complete, std::nullopt, false,
       O::app_error},
      {"redis integer", P::redis, ":1\r\n", ReadEnd::complete, std::nullopt, false,
       O::unexpected_reply},
      {"redis got http", P::redis, "HTTP/1.1 400 Bad\r\n", ReadEnd::complete, std::nullopt, false,
       O::unexpected_reply},
      {"mysql", P::mysql, kMysqlHello, ReadEnd::complete, std::nullopt, false, O::ok},
      {"mysql denied", P::mysql, kMysqlDenied, ReadEnd::complete, std::nullopt, false,
       O::app_error},
      {"mysql got text", P::mysql, "hello\r\n", ReadEnd::complete, std::nullopt, false,
       O::unexpected_reply},
      {"postgres N", P::postgres, "N", ReadEnd::complete, std::nullopt, false, O::ok},
      {"postgres S", P::postgres, "S", ReadEnd::complete, std::nullopt, false, O::ok},
      {"postgres error", P::postgres, kPgError, ReadEnd::complete, std::nullopt, false,
       O::app_error},
      {"postgres got http", P::postgres, "HTTP/1.1 400 Bad\r\n", ReadEnd::complete, std::nullopt,
       false, O::unexpected_reply},
      {"banner anything", P::banner, "\x01\x02"s, ReadEnd::complete, std::nullopt, false, O::ok},
      {"banner then FIN", P::banner, "bye", ReadEnd::eof, std::nullopt, false, O::ok},
      {"banner partial", P::banner, "hel", ReadEnd::deadline, std::nullopt, false, O::ok},
      {"banner silence", P::banner, "", ReadEnd::deadline, std::nullopt, false, O::no_response},
  };
  for (const auto& row : rows) {
    const auto got = judge(row.protocol, row.end, describe_reply(row.bytes), row.status, row.slow);
    EXPECT_EQ(outcome_name(got), outcome_name(row.want)) << row.name;
  }
}

TEST(Judge, InterimAnswersWithoutAFinalOneAreNoFinalResponse) {
  const auto interim = describe_reply("HTTP/1.1 100 Continue\r\n\r\n");
  // Silence after them, or more of them than we wait for.
  EXPECT_EQ(judge(P::http, ReadEnd::deadline, interim, std::nullopt, false, 1), O::http_no_final);
  EXPECT_EQ(judge(P::http, ReadEnd::complete, interim, std::nullopt, false, 32), O::http_no_final);
  // A FIN or RST after them is the peer's ending, as without them.
  EXPECT_EQ(judge(P::http, ReadEnd::eof, interim, std::nullopt, false, 1), O::closed_by_peer);
  // A final status after interim ones is judged by itself (interim_only is 0 then).
  EXPECT_EQ(judge(P::http, ReadEnd::complete, describe_reply("HTTP/1.1 200 OK\r\n\r\n"), 200, false, 0), O::ok);
}

TEST(FindingId, MapsOutcomesToCatalogIds) {
  const std::tuple<O, std::size_t, std::string_view> rows[] = {
      {O::ok, 10, ""},
      {O::no_response, 0, "app.no_response"},
      {O::http_5xx, 100, "app.http_5xx"},
      {O::http_4xx, 100, "app.http_4xx"},
      {O::slow_first_byte, 100, "app.slow_first_byte"},
      {O::closed_by_peer, 0, "tcp.closed_after_accept"},
      {O::closed_by_peer, 5, "app.truncated_reply"},
      {O::reset_by_peer, 0, "tcp.reset_after_accept"},
      {O::reset_by_peer, 5, "app.truncated_reply"},
      {O::http_no_final, 25, "http.no_final_response"},
      {O::silent, 0, "app.silent"},
      {O::unexpected_reply, 5, "app.unexpected_reply"},
      {O::app_error, 40, "app.error_reply"},
      {O::timeout, 5, "app.incomplete_reply"},
      {O::failed, 0, ""},
  };
  for (const auto& [outcome, bytes, id] : rows) {
    TalkResult r;
    r.outcome = outcome;
    r.bytes_received = bytes;
    EXPECT_EQ(finding_id(r), id) << outcome_name(outcome);
  }
}

TEST(OpeningBytes, RedisPingAndPostgresSslRequest) {
  EXPECT_EQ(opening_bytes(P::redis), "PING\r\n");
  const auto ssl = opening_bytes(P::postgres);
  ASSERT_EQ(ssl.size(), 8u);
  auto be32 = [&](std::size_t at) {
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < 4; ++i) v = v << 8 | static_cast<unsigned char>(ssl[at + i]);
    return v;
  };
  EXPECT_EQ(be32(0), 8u);
  EXPECT_EQ(be32(4), 80877103u);
  for (P p : {P::http, P::ssh, P::smtp, P::ftp, P::mysql, P::banner})
    EXPECT_EQ(opening_bytes(p), "");
}

TEST(TalkOptionsFor, ATarget) {
  auto t = parse_target("https://Example.com:8443/health?full=1");
  ASSERT_TRUE(t.has_value());
  const auto o = talk_options(*t);
  EXPECT_EQ(o.protocol, P::http);
  EXPECT_EQ(o.http_host, "example.com:8443");
  EXPECT_EQ(o.http_path, "/health?full=1");
  const auto s = talk_options(*parse_target("ssh://gw"));
  EXPECT_EQ(s.protocol, P::ssh);
  EXPECT_EQ(s.http_path, "/");
}

TEST(Names, AreTheJsonSpellings) {
  EXPECT_EQ(outcome_name(O::slow_first_byte), "slow_first_byte");
  EXPECT_EQ(outcome_name(O::reset_by_peer), "reset_by_peer");
  EXPECT_EQ(read_end_name(ReadEnd::deadline), "deadline");
  EXPECT_EQ(peer_close_name(PeerClose::rst), "rst");
}

// --- The coroutine over a local socket pair, with a scripted peer on a thread: no network, but
// the real read loop, Beast's parser, the deadline and the caps. The lab tests do it over TCP.

struct Peer {
  sys::UniqueFd fd;
  std::jthread thread;
};

// `script` runs on its own thread with the peer's end of the pair.
template <class F>
std::pair<sys::UniqueFd, Peer> pair_with(F script) {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  sys::UniqueFd ours(fds[0]);
  Peer peer{sys::UniqueFd(fds[1]), {}};
  peer.thread = std::jthread([fd = peer.fd.get(), script] { script(fd); });
  return {std::move(ours), std::move(peer)};
}

void send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const auto n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

std::string recv_some(int fd) {
  char buf[4096];
  const auto n = ::recv(fd, buf, sizeof buf, 0);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

TalkResult run(sys::UniqueFd fd, TalkOptions o) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket s(io);
  // The socket calls used (recv, send, close) work the same on an AF_UNIX stream.
  s.assign(boost::asio::ip::tcp::v4(), fd.release());
  auto f = boost::asio::co_spawn(io, talk(s, std::move(o)), boost::asio::use_future);
  io.run();
  return f.get();
}

TalkOptions opts(P p, std::chrono::milliseconds deadline = 1000ms) {
  TalkOptions o;
  o.protocol = p;
  o.http_host = "example.test";
  o.deadline = deadline;
  o.slow_first_byte = 5000ms;
  return o;
}

TEST(TalkOverSocketPair, HttpSkipsInterimAnswersAndKeepsTheRedirect) {
  std::promise<std::string> request;
  auto [fd, peer] = pair_with([&](int p) {
    request.set_value(recv_some(p));
    send_all(p, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n");
    send_all(p,
             "HTTP/1.1 301 Moved Permanently\r\nServer: test\x80srv\r\nLocation: "
             "https://example.test/\r\n"
             "Content-Length: 0\r\n\r\n");
  });
  auto o = opts(P::http);
  o.http_path = "/health";
  const auto r = run(std::move(fd), o);
  const auto req = request.get_future().get();
  EXPECT_TRUE(req.starts_with("GET /health HTTP/1.1\r\n")) << req;
  EXPECT_NE(req.find("Host: example.test\r\n"), std::string::npos) << req;
  EXPECT_NE(req.find("User-Agent: connscope/0.1\r\n"), std::string::npos) << req;
  EXPECT_NE(req.find("Connection: close\r\n"), std::string::npos) << req;
  EXPECT_EQ(outcome_name(r.outcome), "ok");
  ASSERT_TRUE(r.http.has_value());
  EXPECT_EQ(r.http->status, 301u);
  EXPECT_EQ(r.http->interim, 1u);
  EXPECT_EQ(r.http->location, "https://example.test/");
  EXPECT_EQ(r.http->server, "test\\x80srv");
  EXPECT_EQ(r.http->content_length, 0u);
  EXPECT_EQ(r.bytes_sent, req.size());
  EXPECT_TRUE(r.first_byte.has_value());
}

TEST(TalkOverSocketPair, HttpHeaderOverTheLimitIsAnUnexpectedReply) {
  auto [fd, peer] = pair_with([](int p) {
    recv_some(p);
    send_all(p, "HTTP/1.1 200 OK\r\n");
    send_all(p, "X-Long: " + std::string(64 * 1024, 'a'));  // stops when we close
  });
  auto o = opts(P::http);
  o.http_header_limit = 4096;
  const auto r = run(std::move(fd), o);
  EXPECT_EQ(outcome_name(r.outcome), "unexpected_reply");
  EXPECT_LE(r.bytes_received, 4096u);
  EXPECT_EQ(r.reply.kind, ReplyKind::http_response);
}

TEST(TalkOverSocketPair, HttpToAServerThatSpeaksFirstEndsAtOnce) {
  std::promise<void> done;
  auto [fd, peer] = pair_with([f = done.get_future().share()](int p) {
    send_all(p, "SSH-2.0-OpenSSH_9.2p1\r\n");
    f.wait_for(5s);  // then waits for us, as a real SSH server does
  });
  const auto r = run(std::move(fd), opts(P::http, 2000ms));
  done.set_value();
  EXPECT_EQ(outcome_name(r.outcome), "unexpected_reply");
  EXPECT_EQ(read_end_name(r.end), "invalid");
  EXPECT_EQ(r.reply.kind, ReplyKind::ssh_banner);
  EXPECT_LT(r.elapsed, 500ms);
  ASSERT_TRUE(r.error.has_value());
  EXPECT_NE(r.error->message().find("not an HTTP response"), std::string::npos);
}

TEST(TalkOverSocketPair, SilenceEndsAtTheDeadline) {
  std::promise<void> done;
  auto [fd, peer] = pair_with([f = done.get_future().share()](int) { f.wait_for(5s); });
  const auto start = std::chrono::steady_clock::now();
  const auto r = run(std::move(fd), opts(P::ssh, 300ms));
  const auto took = std::chrono::steady_clock::now() - start;
  done.set_value();
  EXPECT_EQ(outcome_name(r.outcome), "no_response");
  EXPECT_EQ(read_end_name(r.end), "deadline");
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 330ms + 100ms);
  EXPECT_FALSE(r.first_byte.has_value());
}

TEST(TalkOverSocketPair, PeerFinBeforeAnythingIsClosedByPeer) {
  auto [fd, peer] = pair_with([](int p) { ::shutdown(p, SHUT_WR); });
  const auto r = run(std::move(fd), opts(P::smtp));
  EXPECT_EQ(outcome_name(r.outcome), "closed_by_peer");
  EXPECT_EQ(peer_close_name(r.peer_close), "fin");
  EXPECT_EQ(finding_id(r), "tcp.closed_after_accept");
}

TEST(TalkOverSocketPair, RedisSendsPingAndPostgresAnSslRequest) {
  std::promise<std::string> got;
  auto [fd, peer] = pair_with([&](int p) {
    got.set_value(recv_some(p));
    send_all(p, "-NOAUTH Authentication required.\r\n");
  });
  const auto r = run(std::move(fd), opts(P::redis));
  EXPECT_EQ(got.get_future().get(), "PING\r\n");
  EXPECT_EQ(outcome_name(r.outcome), "ok");
  EXPECT_EQ(r.reply.state, "NOAUTH");

  std::promise<std::string> got_pg;
  auto [fd2, peer2] = pair_with([&](int p) {
    got_pg.set_value(recv_some(p));
    send_all(p, "S");
  });
  const auto pg = run(std::move(fd2), opts(P::postgres));
  EXPECT_EQ(got_pg.get_future().get(), opening_bytes(P::postgres));
  EXPECT_EQ(outcome_name(pg.outcome), "ok");
  EXPECT_EQ(pg.postgres_tls, true);
}

TEST(TalkOverSocketPair, MysqlGreetingInPiecesIsReadWhole) {
  auto [fd, peer] = pair_with([](int p) {
    send_all(p, kMysqlHello.substr(0, 6));
    std::this_thread::sleep_for(50ms);
    send_all(p, kMysqlHello.substr(6));
  });
  const auto r = run(std::move(fd), opts(P::mysql));
  EXPECT_EQ(outcome_name(r.outcome), "ok");
  EXPECT_EQ(r.reply.software, "8.0.35");
  EXPECT_EQ(r.bytes_received, kMysqlHello.size());
}

TEST(TalkOverSocketPair, SlowFirstByteIsMeasured) {
  auto [fd, peer] = pair_with([](int p) {
    std::this_thread::sleep_for(200ms);
    send_all(p, "SSH-2.0-x\r\n");
  });
  auto o = opts(P::ssh);
  o.slow_first_byte = 100ms;
  const auto r = run(std::move(fd), o);
  EXPECT_EQ(outcome_name(r.outcome), "slow_first_byte");
  ASSERT_TRUE(r.first_byte.has_value());
  // The peer's 200 ms start when its thread does, a little before the stage's clock.
  EXPECT_GE(*r.first_byte, 150ms);
  EXPECT_LT(*r.first_byte, 400ms);
  EXPECT_TRUE(r.slow);
}

TEST(ObserveClose, SeesTheFinAfterOurs) {
  auto [fd, peer] = pair_with([](int p) {
    recv_some(p);  // returns "" at our FIN
    send_all(p, "tail");
    ::shutdown(p, SHUT_WR);
  });
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket s(io);
  s.assign(boost::asio::ip::tcp::v4(), fd.release());
  auto f = boost::asio::co_spawn(io, observe_close(s, 1000ms), boost::asio::use_future);
  io.run();
  const auto c = f.get();
  EXPECT_EQ(peer_close_name(c.how), "fin");
  EXPECT_EQ(c.bytes_discarded, 4u);
  EXPECT_FALSE(c.error.has_value());
}

}  // namespace
}  // namespace connscope::probe
