#pragma once
// SIGINT and SIGTERM as a descriptor a command's loop polls, so that Ctrl-C ends a long job
// between two steps with its report so far, not in the middle of one. Blocks both signals for
// the process.

#include "core/error.h"
#include "sys/unique_fd.h"

namespace connscope::cli {

Result<sys::UniqueFd> stop_signals();

// True when a signal was read from `fd` (nonblocking).
bool stop_requested(const sys::UniqueFd& fd);

}  // namespace connscope::cli
