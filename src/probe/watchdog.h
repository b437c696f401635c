#pragma once
// The deadline of a stage that runs a composed operation on a connected stream (the TLS
// handshake, the talk exchange, the close): the operation and a watchdog race (`||`), and the
// watchdog closes the socket when time is up. Closing is the one way to stop such an operation
// at once: Beast's and the TLS stream's composed reads may miss a cancellation signal between
// two reads, and a missed one would hang; a closed socket fails every pending and later
// operation. Internal to the probe library.

#include <chrono>
#include <cstdint>
#include <optional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/stream_traits.hpp>

#include "probe/stage.h"
#include "probe/tcp_info.h"

namespace connscope::probe {

// Shared by an operation and its watchdog; both run on the one thread of the stream's executor.
struct Deadline {
  bool finished = false;  // the operation is over: the watchdog must not touch the stream
  bool fired = false;     // the watchdog closed the socket
  // tcp_info's out-of-order count just before the watchdog closed the socket: data that came
  // beyond a gap the peer never filled (see DoctorReport's path-MTU retry).
  std::optional<std::uint32_t> out_of_order;
};

template <class Stream>
boost::asio::awaitable<void> watchdog(Stream& stream, Clock::duration limit, Deadline& state) {
  namespace asio = boost::asio;
  co_await asio::this_coro::throw_if_cancelled(false);
  asio::steady_timer timer(co_await asio::this_coro::executor, limit);
  auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  if (ec || state.finished) co_return;
  state.fired = true;
  auto& socket = boost::beast::get_lowest_layer(stream);
  if (const auto info = read_tcp_info(socket.native_handle())) {
    state.out_of_order = info->rcv_out_of_order;
  }
  boost::system::error_code ignored;
  socket.close(ignored);
}

}  // namespace connscope::probe
