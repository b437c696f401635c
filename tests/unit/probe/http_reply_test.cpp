// The talk stage's HTTP reading without a socket (probe/http_reply.h): the same verdict whether
// the bytes come whole or a byte at a time, interim answers, the caps, bytes that are not HTTP.
#include "probe/http_reply.h"

#include <gtest/gtest.h>

#include <string>

namespace connscope::probe {
namespace {

// Feeds `bytes` in pieces of `step` bytes, as reads would bring them; when they run out before
// the reader is done, the peer's FIN ends the read.
TalkResult read_in_pieces(const std::string& bytes, std::size_t step, std::size_t limit = 16384) {
  TalkResult res;
  res.protocol = AppProtocol::http;
  HttpReplyReader reader(limit, limit);
  std::string got;
  while (reader.take(got, res) == ReplyProgress::need_more) {
    if (got.size() == bytes.size()) {
      res.end = ReadEnd::eof;
      break;
    }
    got += bytes.substr(got.size(), step);
  }
  conclude_talk(res, got);
  return res;
}

TEST(HttpReplyReader, AByteAtATimeIsTheSameAsWhole) {
  const std::string reply =
      "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 301 Moved Permanently\r\nServer: nginx\r\nLocation: /new\r\n"
      "Content-Length: 0\r\n\r\n";
  for (std::size_t step : {reply.size(), std::size_t{1}, std::size_t{7}}) {
    const TalkResult r = read_in_pieces(reply, step);
    ASSERT_TRUE(r.http.has_value()) << step;
    EXPECT_EQ(r.http->status, 301u);
    EXPECT_EQ(r.http->location, "/new");
    EXPECT_EQ(r.http->server, "nginx");
    EXPECT_EQ(r.http->interim, 1u);
    EXPECT_EQ(r.http_first_interim, 100u);
    EXPECT_EQ(r.end, ReadEnd::complete);
    EXPECT_EQ(r.outcome, TalkOutcome::ok);
  }
}

TEST(HttpReplyReader, NotHttpEndsAtTheFirstForeignByte) {
  const TalkResult r = read_in_pieces("SSH-2.0-OpenSSH_9.2\r\n", 1);
  EXPECT_EQ(r.end, ReadEnd::invalid);
  EXPECT_EQ(r.bytes_received, 1u);  // "S" cannot begin "HTTP/"
  EXPECT_EQ(r.outcome, TalkOutcome::unexpected_reply);
}

TEST(HttpReplyReader, AHeaderOverTheCapIsTheLimitOrBeastsRefusal) {
  const std::string reply = "HTTP/1.1 200 OK\r\nX-Long: " + std::string(100, 'a') + "\r\n\r\n";
  const TalkResult r = read_in_pieces(reply, 16, 64);
  EXPECT_TRUE(r.end == ReadEnd::limit || r.end == ReadEnd::invalid) << read_end_name(r.end);
  EXPECT_FALSE(r.http.has_value());
  EXPECT_EQ(r.outcome, TalkOutcome::unexpected_reply);
}

TEST(HttpReplyReader, ABadStatusLineEndsAtOnceHoweverItIsCut) {
  // Found by fuzz_talk: with one Beast parser kept across reads, "HTTP/#" then "\r\n" waited for
  // the rest of a header (Beast checks the status line early only in its first put), while the
  // same bytes in one read ended at once as not HTTP.
  for (std::size_t step : {std::size_t{1}, std::size_t{4}, std::size_t{6}, std::size_t{8}}) {
    const TalkResult r = read_in_pieces("HTTP/#\r\n", step);
    EXPECT_EQ(r.end, ReadEnd::invalid) << step;
    ASSERT_TRUE(r.error.has_value()) << step;
    EXPECT_EQ(r.error->message(), "talk http: the HTTP response cannot be parsed: bad version") << step;
    EXPECT_EQ(r.outcome, TalkOutcome::unexpected_reply) << step;
  }
}

TEST(HttpReplyReader, OnlyInterimAnswersThenFinIsNoFinalResponse) {
  const TalkResult r = read_in_pieces("HTTP/1.1 103 Early Hints\r\n\r\n", 5);
  EXPECT_FALSE(r.http.has_value());
  EXPECT_EQ(r.http_interim, 1u);
  EXPECT_EQ(r.end, ReadEnd::eof);
  EXPECT_EQ(r.peer_close, PeerClose::fin);
  EXPECT_EQ(r.outcome, TalkOutcome::closed_by_peer);
}

}  // namespace
}  // namespace connscope::probe
