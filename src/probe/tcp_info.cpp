#include "probe/tcp_info.h"

// The kernel's header, not glibc's <netinet/tcp.h>: glibc's struct tcp_info stops before
// tcpi_rcv_ooopack.
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>

namespace connscope::probe {

namespace {

template <class Field>
bool has(socklen_t len, std::size_t offset, const Field&) {
  return len >= offset + sizeof(Field);
}

}  // namespace

std::optional<TcpInfoSample> read_tcp_info(int fd) {
  tcp_info info{};
  socklen_t len = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return std::nullopt;
  // Every field but the last is in the kernel's struct since 2.6.x; a shorter answer is not Linux.
  if (!has(len, offsetof(tcp_info, tcpi_total_retrans), info.tcpi_total_retrans)) return std::nullopt;
  TcpInfoSample s;
  s.state = info.tcpi_state;
  s.total_retrans = info.tcpi_total_retrans;
  s.rtt_us = info.tcpi_rtt;
  s.snd_mss = info.tcpi_snd_mss;
  s.rcv_mss = info.tcpi_rcv_mss;
  if (has(len, offsetof(tcp_info, tcpi_rcv_ooopack), info.tcpi_rcv_ooopack)) {
    s.rcv_out_of_order = info.tcpi_rcv_ooopack;
  }
  return s;
}

}  // namespace connscope::probe
