#pragma once
// Small socket calls the probe stages (connect, reach, trace, the bulk scan) share. Errors are
// errno values: 0 means done.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string>

namespace connscope::probe {

inline int set_int_option(int fd, int level, int name, int value) {
  return ::setsockopt(fd, level, name, &value, sizeof value) == 0 ? 0 : errno;
}

// IP_RECVERR / IPV6_RECVERR for the socket's family: ICMP errors queued with their sender.
inline int set_recverr(int fd, int family, bool on = true) {
  return family == AF_INET6 ? set_int_option(fd, SOL_IPV6, IPV6_RECVERR, on ? 1 : 0)
                            : set_int_option(fd, SOL_IP, IP_RECVERR, on ? 1 : 0);
}

inline const char* recverr_option_name(int family) {
  return family == AF_INET6 ? "setsockopt IPV6_RECVERR" : "setsockopt IP_RECVERR";
}

// SO_ERROR: the pending error of a nonblocking connect (0: none).
inline int socket_error(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

// inet_ntop of raw address bytes of `family`; "" when they do not format.
inline std::string address_text(int family, const void* addr) {
  std::array<char, INET6_ADDRSTRLEN> buf{};
  if (::inet_ntop(family, addr, buf.data(), static_cast<socklen_t>(buf.size())) == nullptr) return {};
  return std::string(buf.data());
}

// The numeric address of an AF_INET / AF_INET6 sockaddr; "" for any other family.
inline std::string sockaddr_text(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) {
    sockaddr_in sin{};
    std::memcpy(&sin, &ss, sizeof sin);
    return address_text(AF_INET, &sin.sin_addr);
  }
  if (ss.ss_family == AF_INET6) {
    sockaddr_in6 sin6{};
    std::memcpy(&sin6, &ss, sizeof sin6);
    return address_text(AF_INET6, &sin6.sin6_addr);
  }
  return {};
}

// Before close(): a RST instead of a FIN, so no TIME_WAIT stays on our side (nmap -sT does the
// same).
inline void close_with_reset(int fd) {
  const linger l{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

// A loopback connect to a free port in the ephemeral range may be given that very port as its
// source (one in ~28,000): local and peer are then the same endpoint, connected to itself by
// TCP's simultaneous open.
inline bool connected_to_itself(int fd) {
  sockaddr_storage local{}, peer{};
  socklen_t llen = sizeof local, plen = sizeof peer;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &llen) != 0 ||
      ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &plen) != 0) {
    return false;
  }
  return llen == plen && std::memcmp(&local, &peer, llen) == 0;
}

}  // namespace connscope::probe
