#include "cli/stop_signals.h"

#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

namespace connscope::cli {

Result<sys::UniqueFd> stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  if (::sigprocmask(SIG_BLOCK, &set, nullptr) != 0) return fail_errno("sigprocmask", errno);
  const int fd = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) return fail_errno("signalfd", errno);
  return sys::UniqueFd(fd);
}

bool stop_requested(const sys::UniqueFd& fd) {
  signalfd_siginfo info{};
  return ::read(fd.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info);
}

}  // namespace connscope::cli
