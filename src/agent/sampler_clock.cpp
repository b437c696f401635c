#include "agent/sampler_clock.h"

#include <boost/asio/steady_timer.hpp>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "core/thread_owner.h"

namespace connscope::agent {

struct SamplerClock::State : std::enable_shared_from_this<SamplerClock::State> {
  explicit State(boost::asio::any_io_executor ex) : timer(std::move(ex)) {}

  // The server's thread only.
  ThreadOwner owner;
  boost::asio::steady_timer timer;
  std::chrono::milliseconds interval{};
  Fast fast;
  bool running = false;
  bool started = false;

  // Shared with the slow thread.
  std::mutex mu;  // guards stopping
  std::condition_variable wake;
  bool stopping = false;
  std::thread slow_thread;

  void schedule() {
    timer.expires_after(interval);
    timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || !self->running) return;
      self->fast();
      self->schedule();
    });
  }

  void halt() {
    running = false;
    {
      std::lock_guard lock(mu);
      stopping = true;
    }
    wake.notify_all();
    timer.cancel();
    if (slow_thread.joinable()) slow_thread.join();
  }

  void slow_loop(const Slow& slow) {
    std::unique_lock lock(mu);
    while (!stopping) {
      lock.unlock();
      const auto wait = slow();
      lock.lock();
      wake.wait_for(lock, wait, [this] { return stopping; });
    }
  }
};

SamplerClock::SamplerClock(boost::asio::any_io_executor ex) : state_(std::make_shared<State>(std::move(ex))) {}

// Not checked: the owner of the sampler may be destroyed elsewhere once stop() has run.
SamplerClock::~SamplerClock() { state_->halt(); }

void SamplerClock::start(std::chrono::milliseconds interval, Fast fast, Slow slow) {
  State& s = *state_;
  s.owner.check();
  if (s.started) return;
  s.started = true;
  s.interval = interval;
  s.fast = std::move(fast);
  s.running = true;
  s.fast();
  s.schedule();
  s.slow_thread = std::thread([p = state_, slow = std::move(slow)] { p->slow_loop(slow); });
}

void SamplerClock::stop() {
  state_->owner.check();
  state_->halt();
}

bool SamplerClock::running() const {
  state_->owner.check();
  return state_->running;
}

}  // namespace connscope::agent
