#include "sys/limits.h"

#include "core/error_text.h"

#include <dirent.h>
#include <sys/resource.h>

#include <cerrno>
#include <memory>

namespace connscope::sys {

Result<FdLimit> get_fd_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return fail_errno("getrlimit RLIMIT_NOFILE", errno);
  return FdLimit{rl.rlim_cur, rl.rlim_max};
}

Result<FdLimit> raise_fd_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return fail_errno("getrlimit RLIMIT_NOFILE", errno);
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) return fail_errno("setrlimit RLIMIT_NOFILE", errno);
  }
  return FdLimit{rl.rlim_cur, rl.rlim_max};
}

Result<std::uint64_t> count_open_fds() {
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir("/proc/self/fd"), ::closedir);
  if (!dir) return fail_text("/proc/self/fd", Msg::err_list_dir, {}, errno);

  std::uint64_t n = 0;
  while (const dirent* de = ::readdir(dir.get())) {
    if (de->d_name[0] != '.') ++n;
  }
  return n > 0 ? n - 1 : 0;
}

}  // namespace connscope::sys
