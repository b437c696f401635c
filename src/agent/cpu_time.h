#pragma once
// What a sample cost: CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID) or of the whole
// process (CLOCK_PROCESS_CPUTIME_ID), user and system together.

#include <time.h>

#include <chrono>

namespace connscope::agent {

inline std::chrono::nanoseconds cpu_time(clockid_t clock) {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

}  // namespace connscope::agent
