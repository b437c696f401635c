#include "probe/scan_input.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace connscope::probe {
namespace {

TEST(PortList, ParsesRangesAndSinglesInOrderWithoutRepeats) {
  struct Case {
    std::string text;
    std::vector<std::uint16_t> want;
  };
  const std::vector<Case> cases{
      {"80", {80}},
      {"1-3,8080", {1, 2, 3, 8080}},
      {"80,80", {80}},
      {"443,80,443", {443, 80}},
      {"5-7,6-8", {5, 6, 7, 8}},
      {" 22 , 80 - 81 ", {22, 80, 81}},
      {"65535", {65535}},
      {"65534-65535", {65534, 65535}},
      {"1-1", {1}},
  };
  for (const auto& c : cases) {
    auto got = parse_port_list(c.text);
    ASSERT_TRUE(got) << c.text << ": " << got.error().message();
    EXPECT_EQ(*got, c.want) << c.text;
  }
  auto all = parse_port_list("1-65535");
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 65535u);
  EXPECT_EQ(all->front(), 1);
  EXPECT_EQ(all->back(), 65535);
}

TEST(PortList, RejectsBadItemsNamingThem) {
  struct Case {
    std::string text;
    std::string detail;
  };
  const std::vector<Case> cases{
      {"0", "0 is not a port (1-65535)"},
      {"65536", "65536 is not a port (1-65535)"},
      {"99999999999", "99999999999 is not a port (1-65535)"},
      {"10-5", "range 10-5 ends below its start"},
      {"a-b", "\"a\" is not a port number"},
      {"80,x", "\"x\" is not a port number"},
      {"", "empty (expected e.g. 1-1024,8080)"},
      {"  ", "empty (expected e.g. 1-1024,8080)"},
      {"80,,81", "an empty item (two commas in a row, or a trailing comma)"},
      {"80,", "an empty item (two commas in a row, or a trailing comma)"},
      {"-5", "\"\" is not a port number"},
      {"1-", "\"\" is not a port number"},
      {"1 2", "\"1 2\" is not a port number"},
      {"+80", "\"+80\" is not a port number"},
      {"1-2-3", "\"2-3\" is not a port number"},
  };
  for (const auto& c : cases) {
    auto got = parse_port_list(c.text);
    ASSERT_FALSE(got) << c.text;
    EXPECT_EQ(got.error().op, "--ports \"" + c.text + "\"");
    EXPECT_EQ(got.error().detail, c.detail) << c.text;
  }
}

TEST(ScanTargetLine, UsesDoctorTargetSyntax) {
  auto a = parse_scan_target(" 10.0.0.1:22 ");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->text, "10.0.0.1:22");
  EXPECT_EQ(a->target.host, "10.0.0.1");
  EXPECT_EQ(a->target.port, 22);
  auto b = parse_scan_target("[2001:db8::1]:443");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->target.kind, HostKind::ipv6);
  EXPECT_EQ(b->target.port, 443);
  auto c = parse_scan_target("https://example.com/health");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->target.port, 443);
  EXPECT_TRUE(c->target.tls);
  auto d = parse_scan_target("example.com");
  ASSERT_TRUE(d);
  EXPECT_FALSE(d->target.port);
  auto bad = parse_scan_target("host:70000");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().op, "target \"host:70000\"");
}

TEST(TargetsFile, SkipsCommentsAndBlankLinesAndKeepsLineNumbers) {
  const std::string file =
      "# fleet\n"
      "\n"
      "10.0.0.1:22   # ssh\n"
      "   [2001:db8::2]:80\n"
      "http://web.example/#frag\n"
      "db.example\t# no port: --ports\n"
      "\t\r\n"
      "# end";
  auto got = parse_targets_file(file, "fleet.txt");
  ASSERT_TRUE(got) << got.error().message();
  ASSERT_EQ(got->size(), 4u);
  EXPECT_EQ((*got)[0].text, "10.0.0.1:22");
  EXPECT_EQ((*got)[0].line, 3u);
  EXPECT_EQ((*got)[1].text, "[2001:db8::2]:80");
  EXPECT_EQ((*got)[1].line, 4u);
  EXPECT_EQ((*got)[2].text, "http://web.example/#frag");  // a fragment is not a comment
  EXPECT_EQ((*got)[2].line, 5u);
  EXPECT_EQ((*got)[3].text, "db.example");
  EXPECT_EQ((*got)[3].line, 6u);
  EXPECT_FALSE((*got)[3].target.port);
}

TEST(TargetsFile, ABadLineIsAnErrorNamingFileAndLine) {
  struct Case {
    std::string content;
    std::string op;
    std::string detail_starts;
  };
  // The line's own text is part of what failed; the detail is the target parser's (in the
  // reader's language with Error::message(lang)).
  const std::vector<Case> cases{
      {"10.0.0.1:22\n# ok\nhost:99999\n", "t.txt line 3: \"host:99999\"", "not a port"},
      {"bad host:80\n", "t.txt line 1: \"bad host:80\"", "contains a space"},
      {"10.0.0.1:22\r\n\r\n2001:db8::1:443\r\n", "t.txt line 3: \"2001:db8::1:443\"", "ambiguous"},
      {"a:1\nb:2\ngopher://x/\n", "t.txt line 3: \"gopher://x/\"", "unknown scheme"},
  };
  for (const auto& c : cases) {
    auto got = parse_targets_file(c.content, "t.txt");
    ASSERT_FALSE(got) << c.content;
    EXPECT_EQ(got.error().op, c.op) << c.content;
    EXPECT_EQ(got.error().detail.rfind(c.detail_starts, 0), 0u) << got.error().detail;
    EXPECT_TRUE(got.error().detail_id.has_value()) << got.error().detail;
  }
  for (const std::string empty : {"", "\n\n", "# only comments\n  # more\n"}) {
    auto got = parse_targets_file(empty, "t.txt");
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().op, "t.txt");
    EXPECT_EQ(got.error().detail, "no targets in it");
  }
}

TEST(ExpandTargets, PortsCompleteTargetsWithoutOneAndRepeatsGo) {
  std::vector<ScanTarget> targets;
  for (const char* t : {"10.0.0.1:22", "10.0.0.2", "10.0.0.1:22", "https://h.example"}) {
    targets.push_back(*parse_scan_target(t));
  }
  const std::vector<std::uint16_t> ports{80, 22};
  auto got = expand_targets(targets, ports, "no port");
  ASSERT_TRUE(got);
  ASSERT_EQ(got->size(), 4u);
  EXPECT_EQ((*got)[0].target, 0u);
  EXPECT_EQ((*got)[0].port, 22);
  EXPECT_EQ((*got)[1].target, 1u);
  EXPECT_EQ((*got)[1].port, 80);
  EXPECT_EQ((*got)[2].target, 1u);
  EXPECT_EQ((*got)[2].port, 22);
  EXPECT_EQ((*got)[3].target, 3u);  // the duplicate of 10.0.0.1:22 is gone
  EXPECT_EQ((*got)[3].port, 443);
}

TEST(ExpandTargets, ATargetWithoutPortNeedsPorts) {
  std::vector<ScanTarget> cli{*parse_scan_target("10.0.0.2")};
  auto a = expand_targets(cli, {}, "no port: give HOST:PORT");
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().op, "target \"10.0.0.2\"");
  EXPECT_EQ(a.error().detail, "no port: give HOST:PORT");

  auto file = parse_targets_file("10.0.0.1:1\n\nexample.com\n", "f.txt");
  ASSERT_TRUE(file);
  auto b = expand_targets(*file, {}, "no port", "f.txt");
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().op, "f.txt line 3");
  EXPECT_EQ(b.error().detail, "\"example.com\": no port");
}

}  // namespace
}  // namespace connscope::probe
