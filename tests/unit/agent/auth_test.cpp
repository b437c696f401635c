// The agent's access check: which binds need a token, how the token is compared, and what a
// request without it, with a wrong one or with the right one gets.
#include "agent/auth.h"

#include <gtest/gtest.h>

#include "http_support.h"

namespace connscope::agent {
namespace {

using test::header;

HttpRequest get(std::string target, std::string authorization = "", std::string cookie = "") {
  HttpRequest r = test::request("GET", std::move(target));
  r.authorization = std::move(authorization);
  r.cookie = std::move(cookie);
  return r;
}

TEST(AgentAuth, LoopbackBindsAreTheOnesWithoutAToken) {
  EXPECT_TRUE(is_loopback(Endpoint{AF_INET, "127.0.0.1", 9600}));
  EXPECT_TRUE(is_loopback(Endpoint{AF_INET, "127.3.2.1", 9600}));
  EXPECT_TRUE(is_loopback(Endpoint{AF_INET6, "::1", 9600}));
  EXPECT_FALSE(is_loopback(Endpoint{AF_INET, "0.0.0.0", 9600}));
  EXPECT_FALSE(is_loopback(Endpoint{AF_INET, "10.0.0.1", 9600}));
  EXPECT_FALSE(is_loopback(Endpoint{AF_INET6, "::", 9600}));
  EXPECT_FALSE(is_loopback(Endpoint{AF_INET6, "::ffff:127.0.0.1", 9600}));
}

TEST(AgentAuth, BearerTokenComparison) {
  EXPECT_TRUE(bearer_matches("Bearer s3cret", "s3cret"));
  EXPECT_FALSE(bearer_matches("Bearer s3cre", "s3cret"));
  EXPECT_FALSE(bearer_matches("Bearer s3creT", "s3cret"));
  EXPECT_FALSE(bearer_matches("bearer s3cret", "s3cret"));
  EXPECT_FALSE(bearer_matches("s3cret", "s3cret"));
  EXPECT_FALSE(bearer_matches("", "s3cret"));
  EXPECT_FALSE(bearer_matches("Bearer ", ""));  // no token configured never matches
}

TEST(AgentAuth, TokenCookieComparison) {
  EXPECT_TRUE(cookie_matches("connscope_token=s3cret", "s3cret"));
  EXPECT_TRUE(cookie_matches("a=b; connscope_token=s3cret; c=d", "s3cret"));
  EXPECT_TRUE(cookie_matches("connscope_token=old;connscope_token=s3cret", "s3cret"));
  EXPECT_FALSE(cookie_matches("connscope_token=s3cre", "s3cret"));
  EXPECT_FALSE(cookie_matches("xconnscope_token=s3cret", "s3cret"));
  EXPECT_FALSE(cookie_matches("connscope_token", "s3cret"));
  EXPECT_FALSE(cookie_matches("", "s3cret"));
  EXPECT_FALSE(cookie_matches("connscope_token=", ""));
}

TEST(AgentAuth, WithoutATokenEveryRequestPasses) {
  const Auth open(std::nullopt);
  for (const char* target : {"/", "/metrics", "/api/v1/snapshot", "/assets/app.js", "/nowhere", "/?token=x"}) {
    EXPECT_FALSE(open.check(get(target)).has_value()) << target;
  }
}

TEST(AgentAuth, WithATokenNoPathIsPublic) {
  const Auth auth(std::string("s3cret"));
  for (const char* target : {"/", "/index.html", "/assets/app.js", "/metrics", "/api/v1/snapshot",
                             "/api/v1/events", "/api/v1/history?series=x", "/nowhere"}) {
    const auto missing = auth.check(get(target));
    ASSERT_TRUE(missing.has_value()) << target;
    EXPECT_EQ(missing->status, 401u) << target;
    EXPECT_EQ(header(*missing, "WWW-Authenticate"), "Bearer") << target;
    EXPECT_NE(missing->body.find("Authorization: Bearer"), std::string::npos) << missing->body;
    const auto wrong = auth.check(get(target, "Bearer s3creT", "connscope_token=s3cre"));
    ASSERT_TRUE(wrong.has_value()) << target;
    EXPECT_EQ(wrong->status, 401u) << target;
  }
}

TEST(AgentAuth, TheRightTokenPassesAsHeaderOrCookie) {
  const Auth auth(std::string("s3cret"));
  EXPECT_FALSE(auth.check(get("/metrics", "Bearer s3cret")).has_value());
  EXPECT_FALSE(auth.check(get("/api/v1/events", "", "a=b; connscope_token=s3cret")).has_value());
  // A right header with a wrong cookie (an old one) still passes, and the other way round.
  EXPECT_FALSE(auth.check(get("/", "Bearer s3cret", "connscope_token=old")).has_value());
  EXPECT_FALSE(auth.check(get("/", "Bearer old", "connscope_token=s3cret")).has_value());
}

TEST(AgentAuth, OnlyThePageTakesTheTokenFromTheQueryAndMovesItIntoACookie) {
  const Auth auth(std::string("s3cret"));
  const auto first = auth.check(get("/?token=s3cret"));
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->status, 303u);
  EXPECT_EQ(header(*first, "Location"), "/");
  EXPECT_EQ(header(*first, "Set-Cookie"), "connscope_token=s3cret; Path=/; HttpOnly; SameSite=Strict");
  const auto wrong = auth.check(get("/?token=s3creT"));
  ASSERT_TRUE(wrong.has_value());
  EXPECT_EQ(wrong->status, 401u);
  EXPECT_EQ(header(*wrong, "Set-Cookie"), "<absent>");
  for (const char* target : {"/metrics?token=s3cret", "/api/v1/snapshot?token=s3cret", "/index.html?token=s3cret"}) {
    const auto elsewhere = auth.check(get(target));
    ASSERT_TRUE(elsewhere.has_value()) << target;
    EXPECT_EQ(elsewhere->status, 401u) << target;
  }
}

}  // namespace
}  // namespace connscope::agent
