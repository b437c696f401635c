#include "support/process.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>

namespace connscope::test {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

UniqueFd open_or_throw(const std::string& path, int flags, mode_t mode = 0) {
  UniqueFd fd(::open(path.c_str(), flags | O_CLOEXEC, mode));
  if (!fd) throw_errno("open " + path);
  return fd;
}

std::string read_whole(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

int wait_status_to_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

void write_stderr(int fd, std::string_view msg) {
  [[maybe_unused]] auto n = ::write(fd, msg.data(), msg.size());
}

// Between fork and exec only async-signal-safe calls: the test process has other threads.
[[noreturn]] void exec_child(char* const* argv, const SpawnOptions& options, int in, int out,
                             int err) {
  ::setpgid(0, 0);  // its own group, so a timeout or stop() also ends its children
  if (options.netns_fd >= 0 && ::setns(options.netns_fd, CLONE_NEWNET) != 0) {
    write_stderr(err, "test: setns failed\n");
    ::_exit(126);
  }
  if (options.nofile) {
    const rlimit rl{*options.nofile, *options.nofile};
    if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) {
      write_stderr(err, "test: setrlimit failed\n");
      ::_exit(126);
    }
  }
  ::dup2(in, 0);
  ::dup2(out, 1);
  ::dup2(err, 2);
  // Other threads may have opened fds without O_CLOEXEC (test sockets): keep them out of servers.
  ::close_range(3, UINT_MAX, 0);
  ::signal(SIGPIPE, SIG_DFL);
  ::execvp(argv[0], argv);
  write_stderr(2, "test: exec failed\n");
  ::_exit(127);
}

std::vector<char*> c_argv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (const auto& a : argv) out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

UniqueFd pidfd_of(pid_t pid) {
  // glibc 2.36's <sys/pidfd.h> lacks extern "C", so the wrapper does not link from C++.
  UniqueFd fd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!fd) throw_errno("pidfd_open");
  return fd;
}

bool poll_readable(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(std::max(timeout, 0ms).count())) > 0;
}

// Reads whatever is available; closes the pipe at EOF.
void drain(UniqueFd& pipe, std::string& into) {
  std::array<char, 4096> buf{};
  while (pipe) {
    const ssize_t n = ::read(pipe.get(), buf.data(), buf.size());
    if (n > 0) {
      into.append(buf.data(), static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      if (n == 0) pipe.reset();
      return;
    }
  }
}

}  // namespace

CmdResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
              const SpawnOptions& options) {
  CmdResult result;
  if (argv.empty()) {
    result.err = "run: empty argv";
    return result;
  }
  auto args = c_argv(argv);
  std::array<int, 2> out_pipe{}, err_pipe{};
  if (::pipe2(out_pipe.data(), O_CLOEXEC) != 0) throw_errno("pipe2");
  UniqueFd out_r(out_pipe[0]), out_w(out_pipe[1]);
  if (::pipe2(err_pipe.data(), O_CLOEXEC) != 0) throw_errno("pipe2");
  UniqueFd err_r(err_pipe[0]), err_w(err_pipe[1]);
  UniqueFd null = open_or_throw("/dev/null", O_RDONLY);

  const pid_t pid = ::fork();
  if (pid < 0) throw_errno("fork");
  if (pid == 0) exec_child(args.data(), options, null.get(), out_w.get(), err_w.get());
  ::setpgid(pid, pid);  // also here: a kill(-pid) right after fork must not miss the group
  out_w.reset();
  err_w.reset();
  ::fcntl(out_r.get(), F_SETFL, O_NONBLOCK);
  ::fcntl(err_r.get(), F_SETFL, O_NONBLOCK);
  UniqueFd pidfd = pidfd_of(pid);

  // Until it exits (then take what its pipes hold: a daemon it started may keep them open).
  const auto deadline = Clock::now() + timeout;
  bool exited = false;
  while (true) {
    std::array<pollfd, 3> fds{
        {{out_r.get(), POLLIN, 0}, {err_r.get(), POLLIN, 0}, {pidfd.get(), POLLIN, 0}}};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (!exited && left <= 0ms) {
      ::kill(-pid, SIGKILL);
      result.timed_out = true;
      break;
    }
    ::poll(fds.data(), fds.size(), exited ? 0 : static_cast<int>(left.count()) + 1);
    drain(out_r, result.out);
    drain(err_r, result.err);
    if (exited) break;
    exited = (fds[2].revents & POLLIN) != 0;
  }
  int status = 0;
  rusage usage{};
  while (::wait4(pid, &status, 0, &usage) < 0 && errno == EINTR) {
  }
  result.exit_code = wait_status_to_code(status);
  result.max_rss_kib = usage.ru_maxrss;
  return result;
}

Process Process::spawn(const std::vector<std::string>& argv, const SpawnOptions& options,
                       const fs::path& out_dir) {
  if (argv.empty()) throw std::invalid_argument("spawn: empty argv");
  Process p;
  fs::path dir = out_dir;
  if (dir.empty()) {
    std::string tmpl = (fs::temp_directory_path() / "connscope-proc-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw_errno("mkdtemp");
    dir = tmpl;
    p.own_dir_ = dir;
  }
  static std::atomic<unsigned> counter{0};
  const std::string base =
      safe_file_name(fs::path(argv[0]).filename().string()) + "-" + std::to_string(++counter);
  p.out_path_ = dir / (base + ".out");
  p.err_path_ = dir / (base + ".err");
  UniqueFd out = open_or_throw(p.out_path_, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  UniqueFd err = open_or_throw(p.err_path_, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  UniqueFd null = open_or_throw("/dev/null", O_RDONLY);
  auto args = c_argv(argv);
  const pid_t pid = ::fork();
  if (pid < 0) throw_errno("fork");
  if (pid == 0) exec_child(args.data(), options, null.get(), out.get(), err.get());
  ::setpgid(pid, pid);
  p.pid_ = pid;
  p.pidfd_ = pidfd_of(pid);
  return p;
}

Process::Process(Process&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      pidfd_(std::move(other.pidfd_)),
      status_(std::exchange(other.status_, std::nullopt)),
      out_path_(std::move(other.out_path_)),
      err_path_(std::move(other.err_path_)),
      own_dir_(std::exchange(other.own_dir_, {})) {}

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0 && !status_) stop();
    if (!own_dir_.empty()) {
      std::error_code ec;
      fs::remove_all(own_dir_, ec);
    }
    pid_ = std::exchange(other.pid_, -1);
    pidfd_ = std::move(other.pidfd_);
    status_ = std::exchange(other.status_, std::nullopt);
    out_path_ = std::move(other.out_path_);
    err_path_ = std::move(other.err_path_);
    own_dir_ = std::exchange(other.own_dir_, {});
  }
  return *this;
}

Process::~Process() {
  if (pid_ > 0 && !status_) stop();
  if (!own_dir_.empty()) {
    std::error_code ec;
    fs::remove_all(own_dir_, ec);
  }
}

bool Process::running() const {
  return pid_ > 0 && !status_ && !poll_readable(pidfd_.get(), 0ms);
}

int Process::reap() {
  // Whatever it left in its group goes too. Before waitpid: until then the unreaped leader keeps
  // the group id from being reused, so this cannot hit a stranger.
  ::kill(-pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  status_ = wait_status_to_code(status);
  return *status_;
}

std::optional<int> Process::wait(std::chrono::milliseconds timeout) {
  if (status_ || pid_ <= 0) return status_;
  if (!poll_readable(pidfd_.get(), timeout)) return std::nullopt;
  return reap();
}

int Process::stop(int sig, std::chrono::milliseconds grace) {
  if (pid_ <= 0) return -1;
  if (status_) return *status_;
  // Until reaped, pid_ is still ours (a zombie at worst), so signalling it is safe.
  ::kill(-pid_, sig);
  if (!poll_readable(pidfd_.get(), grace)) ::kill(-pid_, SIGKILL);
  return reap();
}

std::string Process::out() const { return read_whole(out_path_); }
std::string Process::err() const { return read_whole(err_path_); }

std::string Process::wait_for_line(std::size_t n, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const std::string text = out();
    const auto ls = lines(text);
    // Only complete lines count: the last one may still be being written.
    std::size_t complete = ls.size();
    if (!text.empty() && text.back() != '\n') --complete;
    if (complete > n) return ls[n];
    if (Clock::now() >= deadline || !running()) return {};
    std::this_thread::sleep_for(5ms);
  }
}

std::string safe_file_name(std::string_view name) {
  std::string out;
  for (char c : name.substr(0, 60)) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    out += ok ? c : '_';
  }
  return out;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    out.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

}  // namespace connscope::test
