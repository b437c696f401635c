#include "sys/sysctl.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace connscope::sys {
namespace {

TEST(Sysctl, PathFromName) {
  EXPECT_EQ(sysctl_path("net.core.somaxconn"), "/proc/sys/net/core/somaxconn");
  EXPECT_EQ(sysctl_path("net.ipv4.tcp_syncookies", "/r"), "/r/sys/net/ipv4/tcp_syncookies");
}

TEST(Sysctl, ReadsRecordedValues) {
  const auto root = std::string(CONNSCOPE_FIXTURES) + "/proc";
  EXPECT_EQ(read_sysctl("net.ipv4.ip_local_port_range", root).value(), "32768\t60999");
  EXPECT_EQ(read_sysctl_int("net.core.somaxconn", root).value(), 4096);
  auto not_int = read_sysctl_int("net.ipv4.ip_local_port_range", root);
  ASSERT_FALSE(not_int.has_value());
  EXPECT_EQ(not_int.error().message(),
            "sysctl net.ipv4.ip_local_port_range: not a whole number: \"32768\t60999\"");
  auto missing = read_sysctl_int("net.core.nonexistent", root);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, ENOENT);
}

TEST(Sysctl, PortRange) {
  EXPECT_EQ(parse_port_range("32768\t60999").value(), (std::pair<std::uint16_t, std::uint16_t>{32768, 60999}));
  EXPECT_EQ(parse_port_range("1024 65535\n").value(), (std::pair<std::uint16_t, std::uint16_t>{1024, 65535}));
  for (const char* bad : {"", "40000", "60999 32768", "1 70000", "a b", "1 2 3"}) {
    EXPECT_FALSE(parse_port_range(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace connscope::sys
