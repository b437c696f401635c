#pragma once
// Error-queue control buffers built by hand, as recvmsg(MSG_ERRQUEUE) fills them, for the unit
// tests of their decoding (icmp_error_test, trace_test).

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace connscope::probe {

// What the kernel's ip_recv_error / ipv6_recv_error put in one control message: a
// sock_extended_err and the offender right after it.
inline std::vector<std::byte> payload(std::uint8_t origin, std::uint8_t type, std::uint8_t code, int err,
                               std::uint32_t info, int family, const char* offender) {
  sock_extended_err ee{};
  ee.ee_errno = static_cast<std::uint32_t>(err);
  ee.ee_origin = origin;
  ee.ee_type = type;
  ee.ee_code = code;
  ee.ee_info = info;
  std::vector<std::byte> out(sizeof ee);
  std::memcpy(out.data(), &ee, sizeof ee);
  if (family == AF_INET) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    EXPECT_EQ(inet_pton(AF_INET, offender, &sin.sin_addr), 1);
    out.resize(sizeof ee + sizeof sin);
    std::memcpy(out.data() + sizeof ee, &sin, sizeof sin);
  } else if (family == AF_INET6) {
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    EXPECT_EQ(inet_pton(AF_INET6, offender, &sin6.sin6_addr), 1);
    out.resize(sizeof ee + sizeof sin6);
    std::memcpy(out.data() + sizeof ee, &sin6, sizeof sin6);
  } else {
    sockaddr_in none{};  // AF_UNSPEC, zeroed, as the kernel writes it for local errors
    out.resize(sizeof ee + sizeof none);
    std::memcpy(out.data() + sizeof ee, &none, sizeof none);
  }
  return out;
}

// A control buffer as recvmsg fills it: cmsg headers and payloads at CMSG_* offsets.
struct Cmsg {
  int level;
  int type;
  std::vector<std::byte> data;
};

inline std::vector<std::byte> control(const std::vector<Cmsg>& messages) {
  std::size_t total = 0;
  for (const auto& m : messages) total += CMSG_SPACE(m.data.size());
  std::vector<std::byte> out(total);
  std::size_t offset = 0;
  for (const auto& m : messages) {
    cmsghdr h{};
    h.cmsg_len = CMSG_LEN(m.data.size());
    h.cmsg_level = m.level;
    h.cmsg_type = m.type;
    std::memcpy(out.data() + offset, &h, sizeof h);
    std::memcpy(out.data() + offset + CMSG_LEN(0), m.data.data(), m.data.size());
    offset += CMSG_SPACE(m.data.size());
  }
  return out;
}

}  // namespace connscope::probe
