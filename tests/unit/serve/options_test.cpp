#include "serve/options.h"

#include <gtest/gtest.h>

#include <string>

namespace connscope::serve {
namespace {

using namespace std::chrono_literals;

TEST(ParseMode, EveryModeByName) {
  for (Mode m : kAllModes) {
    auto spec = parse_mode(mode_name(m));
    ASSERT_TRUE(spec.has_value()) << mode_name(m);
    EXPECT_EQ(spec->mode, m);
    EXPECT_FALSE(spec->argument.has_value());
  }
}

TEST(ParseMode, ArgumentsOnlyWhereTheyMeanSomething) {
  auto banner = parse_mode("banner=SSH-2.0-OpenSSH_9.2");
  ASSERT_TRUE(banner.has_value());
  EXPECT_EQ(banner->mode, Mode::banner);
  EXPECT_EQ(banner->argument.value(), "SSH-2.0-OpenSSH_9.2");
  auto slow = parse_mode("slow-first-byte=2s");
  ASSERT_TRUE(slow.has_value());
  EXPECT_EQ(slow->argument.value(), "2s");
  auto echo = parse_mode("echo=1");
  ASSERT_FALSE(echo.has_value());
  EXPECT_EQ(echo.error().message(), "--mode \"echo=1\": echo takes no argument");
  auto unknown = parse_mode("teapot");
  ASSERT_FALSE(unknown.has_value());
  EXPECT_NE(unknown.error().message().find("unknown mode (one of: echo, discard, http"),
            std::string::npos);
}

TEST(ParseKeepalive, Forms) {
  auto k = parse_keepalive("60,10,5");
  ASSERT_TRUE(k.has_value());
  EXPECT_EQ(k->idle, 60s);
  EXPECT_EQ(k->interval, 10s);
  EXPECT_EQ(k->count, 5);
  auto k2 = parse_keepalive("2m,15s,9");
  ASSERT_TRUE(k2.has_value());
  EXPECT_EQ(k2->idle, 120s);
  const std::pair<const char*, const char*> bad[] = {
      {"60,10", "expected IDLE,INTVL,COUNT"},
      {"60,10,5,1", "expected IDLE,INTVL,COUNT"},
      {"500ms,10,5", "IDLE must be whole seconds"},
      {"60,x,5", "INTVL: not a duration"},
      {"60,10,0", "COUNT must be a whole number from 1 to 127"},
      {"60,10,200", "COUNT must be"},
      {"0,10,5", "IDLE must be whole seconds"},
  };
  for (const auto& [text, want] : bad) {
    auto r = parse_keepalive(text);
    ASSERT_FALSE(r.has_value()) << text;
    EXPECT_NE(r.error().message().find(std::string("--keepalive \"") + text + "\": " + want),
              std::string::npos)
        << r.error().message();
  }
}

TEST(ParseHttpStatus, Range) {
  EXPECT_EQ(parse_http_status("503").value(), 503u);
  EXPECT_EQ(parse_http_status("200").value(), 200u);
  for (const char* bad : {"100", "199", "600", "abc", ""}) {
    auto r = parse_http_status(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().message(),
              std::string("--http-status \"") + bad + "\": not an HTTP status (200-599)");
  }
}

}  // namespace
}  // namespace connscope::serve
