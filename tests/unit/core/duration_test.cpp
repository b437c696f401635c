#include "core/duration.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace connscope {
namespace {

using namespace std::chrono_literals;

struct Good {
  const char* text;
  std::chrono::nanoseconds want;
};

TEST(ParseDuration, AcceptsWhatPeopleType) {
  const Good cases[] = {
      {"500ms", 500ms}, {"3s", 3s},       {"1m", 1min},       {"2h", 2h},    {"1d", 24h},
      {"250us", 250us}, {"10ns", 10ns},   {"1.5s", 1500ms},   {"0.25s", 250ms},
      {"3", 3s},        {"0", 0ns},       {"0ms", 0ns},       {".5s", 500ms}, {"100", 100s},
  };
  for (const auto& c : cases) {
    auto got = parse_duration(c.text, "--timeout");
    ASSERT_TRUE(got.has_value()) << c.text << ": " << got.error().message();
    EXPECT_EQ(*got, c.want) << c.text;
  }
}

struct Bad {
  const char* text;
  const char* detail;
};

TEST(ParseDuration, RejectsNonsenseWithOneLineNamingTheInput) {
  const Bad cases[] = {
      {"", "empty duration"},         {"s", "not a duration"},   {"5x", "unknown unit"},
      {"5 s", "unknown unit"},        {"-1s", "not a duration"}, {"1.2.3s", "not a duration"},
      {"3sec", "unknown unit"},       {"1e3s", "unknown unit"},  {"999999999999h", "too long"},
      {".", "not a duration"},        {"ms", "not a duration"},
  };
  for (const auto& c : cases) {
    auto got = parse_duration(c.text, "--timeout");
    ASSERT_FALSE(got.has_value()) << c.text;
    const std::string msg = got.error().message();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    EXPECT_NE(msg.find(std::string("--timeout \"") + c.text + "\""), std::string::npos) << msg;
    EXPECT_NE(msg.find(c.detail), std::string::npos) << c.text << " -> " << msg;
  }
}

TEST(FormatDuration, ShortestExactSpellingThatReadsBack) {
  const Good cases[] = {{"0s", 0ns},      {"3s", 3s},      {"500ms", 500ms}, {"1.5s", 1500ms},
                        {"1m", 1min},     {"2h", 2h},      {"250us", 250us}, {"7ns", 7ns},
                        {"1.5m", 90s},    {"1.001s", 1001ms}};
  for (const auto& c : cases) {
    EXPECT_EQ(format_duration(c.want), c.text);
    auto back = parse_duration(format_duration(c.want), "x");
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, c.want);
  }
}

}  // namespace
}  // namespace connscope

namespace connscope {
namespace {

TEST(FormatElapsed, ThreeSignificantDigitsInTheLargestFittingUnit) {
  using namespace std::chrono;
  EXPECT_EQ(format_elapsed(nanoseconds(0)), "0ns");
  EXPECT_EQ(format_elapsed(nanoseconds(999)), "999ns");
  EXPECT_EQ(format_elapsed(microseconds(87)), "87.0us");
  EXPECT_EQ(format_elapsed(nanoseconds(4'738'000)), "4.74ms");
  EXPECT_EQ(format_elapsed(nanoseconds(262'860)), "263us");
  EXPECT_EQ(format_elapsed(milliseconds(1500)), "1.50s");
  EXPECT_EQ(format_elapsed(seconds(123)), "2m03s");
}

}  // namespace
}  // namespace connscope
