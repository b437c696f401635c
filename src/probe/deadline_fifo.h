#pragma once
// The deadlines of nonblocking connects that all have the same timeout: start order is deadline
// order, so one FIFO of (slot, generation) replaces a timer per socket. A slot is reused once its
// connect ends (its generation then moves on), so an entry whose slot is no longer busy or has
// moved on is stale and skipped. Shared by `probe`'s scan and `load`'s storm. Slot needs
// `busy`, `gen` and `deadline`.

#include <cstdint>
#include <deque>
#include <optional>
#include <utility>
#include <vector>

namespace connscope::probe {

template <class Slot>
class DeadlineFifo {
 public:
  using TimePoint = decltype(Slot{}.deadline);

  void push(std::uint32_t slot, std::uint32_t gen) { q_.emplace_back(slot, gen); }

  // The earliest deadline still pending; nullopt when none is.
  std::optional<TimePoint> next(const std::vector<Slot>& slots) {
    drop_stale(slots);
    if (q_.empty()) return std::nullopt;
    return slots[q_.front().first].deadline;
  }

  // Calls expire(slot) for every pending connect whose deadline is at or before `now`.
  template <class Expire>
  void expire(std::vector<Slot>& slots, TimePoint now, Expire&& on_expired) {
    for (drop_stale(slots); !q_.empty(); drop_stale(slots)) {
      Slot& s = slots[q_.front().first];
      if (s.deadline > now) return;
      q_.pop_front();
      on_expired(s);
    }
  }

 private:
  void drop_stale(const std::vector<Slot>& slots) {
    while (!q_.empty() && (!slots[q_.front().first].busy || slots[q_.front().first].gen != q_.front().second)) {
      q_.pop_front();
    }
  }
  std::deque<std::pair<std::uint32_t, std::uint32_t>> q_;
};

}  // namespace connscope::probe
