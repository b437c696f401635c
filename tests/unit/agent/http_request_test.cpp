// The agent server's intake of one request without a socket (agent/http_request.h): the answers
// it gives itself for what Beast's parser refused, 405 for other methods, and the request the
// handler sees.
#include "agent/http_request.h"

#include <gtest/gtest.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <string>

namespace connscope::agent {
namespace {

namespace http = boost::beast::http;

// The parser's error after putting `bytes` (then the end of input), and the parser.
boost::system::error_code parse(RequestParser& p, const std::string& bytes, const HttpLimits& limits = {}) {
  limit_request_parser(p, limits);
  boost::system::error_code ec;
  p.eager(true);
  p.put(boost::asio::buffer(bytes), ec);
  if (ec == http::error::need_more) p.put_eof(ec);
  return ec;
}

TEST(TakeRequest, AGetBecomesTheHandlersRequest) {
  RequestParser p;
  const auto ec = parse(p,
                        "GET /api/v1/texts?lang=de HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer t\r\n"
                        "Cookie: c=1\r\nAccept-Language: de\r\n\r\n");
  const RequestIntake in = take_request(ec, p.get());
  ASSERT_TRUE(in.request.has_value());
  EXPECT_FALSE(in.answer.has_value());
  EXPECT_TRUE(in.parsed);
  EXPECT_TRUE(in.keep_alive);
  EXPECT_FALSE(in.head);
  EXPECT_EQ(in.request->method, "GET");
  EXPECT_EQ(in.request->target, "/api/v1/texts?lang=de");
  EXPECT_EQ(in.request->authorization, "Bearer t");
  EXPECT_EQ(in.request->cookie, "c=1");
  EXPECT_EQ(in.request->accept_language, "de");
}

TEST(TakeRequest, HeadIsAHeadAndPostIs405) {
  RequestParser head;
  const RequestIntake h = take_request(parse(head, "HEAD / HTTP/1.0\r\n\r\n"), head.get());
  ASSERT_TRUE(h.request.has_value());
  EXPECT_TRUE(h.head);
  EXPECT_FALSE(h.keep_alive);
  EXPECT_EQ(h.request->method, "HEAD");

  RequestParser post;
  const RequestIntake p =
      take_request(parse(post, "POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nx"), post.get());
  ASSERT_TRUE(p.answer.has_value());
  EXPECT_EQ(p.answer->status, 405u);
  EXPECT_TRUE(p.parsed);
  EXPECT_TRUE(p.keep_alive);
}

TEST(TakeRequest, ParserRefusalsAre431And413And400) {
  HttpLimits limits;
  limits.header_limit = 64;
  limits.body_limit = 4;
  RequestParser big_header;
  const auto h = take_request(
      parse(big_header, "GET / HTTP/1.1\r\nX: " + std::string(100, 'a') + "\r\n\r\n", limits),
      big_header.get());
  ASSERT_TRUE(h.answer.has_value());
  EXPECT_EQ(h.answer->status, 431u);
  EXPECT_FALSE(h.parsed);
  EXPECT_FALSE(h.keep_alive);

  RequestParser big_body;
  const auto b = take_request(
      parse(big_body, "GET / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789", limits), big_body.get());
  ASSERT_TRUE(b.answer.has_value());
  EXPECT_EQ(b.answer->status, 413u);

  RequestParser bad;
  const auto x = take_request(parse(bad, "GET / HTTP/1.1\r\nHost a\r\n\r\n"), bad.get());
  ASSERT_TRUE(x.answer.has_value());
  EXPECT_EQ(x.answer->status, 400u);
  EXPECT_EQ(x.answer->body, "bad request\n");
}

}  // namespace
}  // namespace connscope::agent
