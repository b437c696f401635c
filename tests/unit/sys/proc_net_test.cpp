#include "sys/proc_net.h"

#include "core/text.h"

#include <gtest/gtest.h>

#include <sys/socket.h>

#include <string>

namespace connscope::sys {
namespace {

std::string fixture(const char* name) {
  auto text = read_file(std::string(CONNSCOPE_FIXTURES) + "/proc/" + name);
  EXPECT_TRUE(text.has_value());
  return text.value_or("");
}

TEST(ProcNetTcp, ParsesIpv4ListenEstablishedAndTimeWait) {
  auto entries = parse_proc_net_tcp(fixture("tcp"), AF_INET);
  ASSERT_TRUE(entries.has_value()) << entries.error().message();
  ASSERT_EQ(entries->size(), 3u);
  const auto& listen = (*entries)[0];
  EXPECT_EQ(listen.local_address, "127.0.0.1");
  EXPECT_EQ(listen.local_port, 8080);
  EXPECT_EQ(listen.state, 10);
  EXPECT_EQ(listen.rx_queue, 9u);  // the accept queue of a LISTEN socket
  EXPECT_EQ(listen.inode, 123456u);
  const auto& close_wait = (*entries)[1];
  EXPECT_EQ(close_wait.state, 8);
  EXPECT_EQ(close_wait.remote_port, 0xD3A2);
  EXPECT_EQ(close_wait.uid, 1000u);
  const auto& time_wait = (*entries)[2];
  EXPECT_EQ(time_wait.state, 6);
  EXPECT_EQ(time_wait.inode, 0u);  // TIME_WAIT sockets have no inode
}

TEST(ProcNetTcp, ParsesIpv6) {
  auto entries = parse_proc_net_tcp(fixture("tcp6"), AF_INET6);
  ASSERT_TRUE(entries.has_value()) << entries.error().message();
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].local_address, "::1");
  EXPECT_EQ((*entries)[0].local_port, 8080);
  EXPECT_EQ((*entries)[1].local_address, "2001:db8::1");
  EXPECT_EQ((*entries)[1].local_port, 443);
  EXPECT_EQ((*entries)[1].uid, 33u);
}

TEST(ProcNetTcp, MalformedLineIsAnErrorNamingTheLine) {
  const std::string text =
      "  sl  local_address rem_address   st\n"
      "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1\n"
      "   1: garbage\n";
  auto entries = parse_proc_net_tcp(text, AF_INET);
  ASSERT_FALSE(entries.has_value());
  EXPECT_EQ(entries.error().message(), "tcp:3: malformed entry");
  EXPECT_FALSE(parse_proc_net_tcp(
                   "h\n 0: 0100007F:1F90 00000000:0000 0A 0:0 00:0 0 0 0 1\n", AF_INET6)
                   .has_value());  // a v4 address in the tcp6 table
}

TEST(ProcNetTcp, EmptyTableIsEmpty) {
  auto entries = parse_proc_net_tcp("  sl  local_address rem_address\n", AF_INET);
  ASSERT_TRUE(entries.has_value());
  EXPECT_TRUE(entries->empty());
}

TEST(ReadFile, MissingFileNamesPathAndErrno) {
  auto r = read_file("/nonexistent/connscope");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message(), "/nonexistent/connscope: cannot open it (No such file or directory)");
  // The words are the catalog's, in the reader's language; the errno's text stays the system's.
  EXPECT_EQ(r.error().message(Lang::zh_CN), "/nonexistent/connscope: 无法打开 (No such file or directory)");
}

TEST(ParseProcNetTcp, AMalformedLineIsSaidInTheReadersLanguage) {
  auto entries = parse_proc_net_tcp("  sl  local_address\n   0: garbage\n", AF_INET);
  ASSERT_FALSE(entries.has_value());
  EXPECT_EQ(entries.error().message(Lang::zh_CN), "tcp:2: 格式错误的条目");
}

}  // namespace
}  // namespace connscope::sys
