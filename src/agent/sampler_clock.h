#pragma once
// The two clocks every sampler (sampler.h) runs the same way: its fast sample on the server's
// thread at start and then every interval (an Asio timer), and its slow work (a full dump) on a
// thread of its own, in rounds separated by the wait each round asks for, which stop() cuts
// short. What the slow work hands to the server's thread it posts there itself.

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <functional>
#include <memory>

namespace connscope::agent {

class SamplerClock {
 public:
  using Fast = std::function<void()>;
  // One round of the slow work; returns how long to wait before the next.
  using Slow = std::function<std::chrono::milliseconds()>;

  explicit SamplerClock(boost::asio::any_io_executor ex);
  ~SamplerClock();
  SamplerClock(const SamplerClock&) = delete;
  SamplerClock& operator=(const SamplerClock&) = delete;

  // On the server's thread: calls `fast` once before it returns, then every `interval` until
  // stop(); starts the slow thread. Once: a second call does nothing.
  void start(std::chrono::milliseconds interval, Fast fast, Slow slow);
  // Cancels the timer (`fast` is not called again), wakes the slow thread and joins it.
  // Idempotent.
  void stop();
  // Between start() and stop(); the server's thread.
  [[nodiscard]] bool running() const;

 private:
  struct State;
  // Shared with the timer's handler, which may run after stop() (with the timer cancelled).
  std::shared_ptr<State> state_;
};

}  // namespace connscope::agent
