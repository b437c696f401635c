#pragma once
// What tcp_info (getsockopt TCP_INFO) says about one of our own sockets, for the stages that need
// it: the connect stage (state, SYN retransmissions, RTT, MSS) and the stages that may stall
// after the handshake (segments that arrived out of order: the mark of large segments lost on
// the path while smaller ones behind them get through).

#include <cstdint>
#include <optional>

namespace connscope::probe {

struct TcpInfoSample {
  std::uint8_t state = 0;           // TCP_ESTABLISHED, TCP_SYN_SENT, ...
  std::uint32_t total_retrans = 0;  // segments we retransmitted (SYNs too)
  std::uint32_t rtt_us = 0;         // smoothed RTT
  std::uint32_t snd_mss = 0;        // the MSS we send with
  std::uint32_t rcv_mss = 0;        // the kernel's estimate of the peer's segment size
  // Segments received out of order (tcpi_rcv_ooopack, Linux 5.4); nullopt on older kernels.
  std::optional<std::uint32_t> rcv_out_of_order;
};

// nullopt when getsockopt fails (not a TCP socket, closed) or the answer is too short to be
// Linux's struct.
std::optional<TcpInfoSample> read_tcp_info(int fd);

}  // namespace connscope::probe
