#pragma once
// Thread ownership, checked (DESIGN.md "Style": muduo's assertInLoopThread). An object that one
// thread owns holds a ThreadOwner and calls check() at the top of its methods. The owner is the
// thread of the first check() (so an object may be built on one thread and handed to the thread
// that uses it before that uses it), or the next one after release() (a hand-over: the old owner
// releases, the new one's first check() takes it).
//
// In a debug build (NDEBUG not defined) a check() on any other thread fails an assert; in a
// Release build the class is empty and every call compiles to nothing.

#ifndef NDEBUG
#include <atomic>
#include <cassert>
#include <thread>
#endif

namespace connscope {

class ThreadOwner {
 public:
#ifndef NDEBUG
  ThreadOwner() = default;
  // A moved or copied object is a new object: its owner is again the first thread to check it.
  ThreadOwner(const ThreadOwner&) noexcept {}
  ThreadOwner& operator=(const ThreadOwner&) noexcept {
    release();
    return *this;
  }

  void check() const {
    const std::thread::id me = std::this_thread::get_id();
    std::thread::id expected{};
    // The first check binds; compare_exchange leaves the owner in `expected` otherwise.
    if (owner_.compare_exchange_strong(expected, me, std::memory_order_relaxed)) return;
    assert(expected == me && "an object was used from a thread other than its owner's");
  }

  void release() { owner_.store(std::thread::id{}, std::memory_order_relaxed); }

 private:
  mutable std::atomic<std::thread::id> owner_{};
#else
  void check() const {}
  void release() {}
#endif
};

}  // namespace connscope
