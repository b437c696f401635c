#pragma once
// Internal to src/probe: the tracer behind trace() (trace.cpp) and its path-MTU probes
// (trace_path_mtu.cpp). Not for other modules: they call trace() (trace.h).

#include <sys/epoll.h>
#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "probe/icmp_echo.h"
#include "probe/icmp_error.h"
#include "probe/trace.h"
#include "sys/unique_fd.h"

namespace connscope::probe::trace_detail {

// The epoll tag of the shared ICMP socket and of the path-MTU socket (probe sockets use their
// index).
inline constexpr std::uint64_t kEchoTag = ~std::uint64_t{0};
inline constexpr std::uint64_t kMtuTag = ~std::uint64_t{0} - 1;
// Queued errors read per socket and wake-up: bounds the work a flood of ICMP can cause.
inline constexpr int kMaxReads = 64;
inline constexpr int kMaxMtuSteps = 12;

inline std::chrono::microseconds since(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration_cast<std::chrono::microseconds>(b - a);
}

// The first decodable error of a socket's queue, emptying it.
inline std::optional<QueuedError> drain_first(int fd) { return drain_error_queue(fd, kMaxReads); }

// One run of trace(): the probes sent and in flight, their sockets, the epoll set that watches
// them all, and the schedule. Lives in trace()'s coroutine frame; used only on its executor's
// thread.
class Tracer {
 public:
  Tracer(boost::asio::any_io_executor ex, TraceOptions o, int family, std::string destination)
      : o_(std::move(o)), family_(family), dst_(std::move(destination)), epoll_(ex), timer_(ex) {}
  ~Tracer() { *alive_ = false; }
  Tracer(const Tracer&) = delete;
  Tracer& operator=(const Tracer&) = delete;

  boost::asio::awaitable<TraceResult> run();

 private:
  struct Flight {
    sys::UniqueFd fd;  // tcp / udp: the probe's own socket
    Clock::time_point sent;
    Clock::time_point until;
    bool waiting = false;
  };

  Result<void> setup();
  Result<void> setup_echo();
  void send_probe(int ttl, int round);
  void finish(std::size_t i, ProbeReply reply, std::optional<std::string> from, Clock::time_point now);
  void handle(std::uint64_t tag, std::uint32_t events, Clock::time_point now);
  void handle_tcp(std::size_t i, Clock::time_point now);
  void handle_udp(std::size_t i, Clock::time_point now);
  void handle_echo(Clock::time_point now);
  void take_icmp(std::size_t i, const QueuedError& q, Clock::time_point now);
  // Waits until an event on any watched socket or `until`; returns the ready events.
  boost::asio::awaitable<std::vector<epoll_event>> wait(Clock::time_point until);
  boost::asio::awaitable<PathMtu> path_mtu(const std::vector<TraceHop>& hops);
  Result<void> watch(int fd, std::uint64_t tag, std::uint32_t events);

  TraceOptions o_;
  int family_;
  std::string dst_;  // canonical
  sockaddr_storage to_{};
  socklen_t to_len_ = 0;
  std::optional<sockaddr_storage> from_;
  socklen_t from_len_ = 0;
  boost::asio::posix::stream_descriptor epoll_;  // owns the epoll fd
  boost::asio::steady_timer timer_;
  Clock::time_point start_;
  Clock::time_point deadline_;

  std::vector<TraceProbe> probes_;
  std::vector<Flight> flights_;
  std::optional<int> dest_hop_;  // the lowest TTL the destination answered so far

  // icmp mode
  EchoSocket echo_;
  std::optional<EchoMatcher> matcher_;
  std::vector<std::int64_t> by_sequence_;  // sequence → probe index in flight, or -1
  std::uint16_t next_sequence_ = 0;

  std::uint64_t wait_gen_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // false once destroyed
  bool cancelled_ = false;  // the caller cancelled the coroutine
};

}  // namespace connscope::probe::trace_detail
