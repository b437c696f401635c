#pragma once
// The process's file descriptor limit (RLIMIT_NOFILE) and how many it has open.

#include <cstdint>

#include "core/error.h"

namespace connscope::sys {

struct FdLimit {
  std::uint64_t soft = 0;
  std::uint64_t hard = 0;
};

Result<FdLimit> get_fd_limit();

// Raises the soft limit to the hard limit, as servers do: the default soft limit (often 1024)
// is a compatibility setting for select(), not a policy. Returns the limit in force after.
Result<FdLimit> raise_fd_limit();

// Counts the entries of /proc/self/fd (minus the one used to read it).
Result<std::uint64_t> count_open_fds();

}  // namespace connscope::sys
