#include "support/process.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <utility>

namespace connscope::test {

namespace {

std::filesystem::path make_temp_dir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "connscope-proc-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int decode(int wstatus) {
  if (WIFEXITED(wstatus)) return WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) return 128 + WTERMSIG(wstatus);
  return -1;
}

}  // namespace

Process::Process(Process&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), status_(other.status_), dir_(std::move(other.dir_)) {
  other.dir_.clear();
}

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0 && !status_) stop();
    pid_ = std::exchange(other.pid_, -1);
    status_ = other.status_;
    dir_ = std::move(other.dir_);
    other.dir_.clear();
  }
  return *this;
}

Process::~Process() {
  if (pid_ > 0 && !status_) stop(SIGKILL, 0ms);
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

Process Process::spawn(const std::vector<std::string>& argv, const SpawnOptions& options) {
  Process p;
  p.dir_ = make_temp_dir();
  const std::string out = (p.dir_ / "stdout").string();
  const std::string err = (p.dir_ / "stderr").string();
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const std::string ns_path = options.netns.empty() ? "" : "/run/netns/" + options.netns;

  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    // Child: only async-signal-safe calls from here to exec.
    if (!ns_path.empty()) {
      const int nsfd = ::open(ns_path.c_str(), O_RDONLY | O_CLOEXEC);
      if (nsfd < 0 || ::setns(nsfd, CLONE_NEWNET) != 0) ::_exit(126);
    }
    if (options.nofile) {
      const rlimit rl{*options.nofile, *options.nofile};
      if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) ::_exit(126);
    }
    const int in = ::open("/dev/null", O_RDONLY);
    const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || o < 0 || e < 0) ::_exit(126);
    ::dup2(in, 0);
    ::dup2(o, 1);
    ::dup2(e, 2);
    // Close everything else: the test process may hold thousands of sockets.
    ::closefrom(3);
    ::signal(SIGPIPE, SIG_DFL);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  p.pid_ = pid;
  return p;
}

bool Process::running() {
  if (pid_ <= 0 || status_) return false;
  int ws = 0;
  const pid_t r = ::waitpid(pid_, &ws, WNOHANG);
  if (r == pid_) {
    status_ = decode(ws);
    return false;
  }
  return true;
}

std::optional<int> Process::wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(5ms);
  }
  return status_;
}

void Process::reap_blocking() {
  int ws = 0;
  while (::waitpid(pid_, &ws, 0) < 0 && errno == EINTR) {
  }
  status_ = decode(ws);
}

int Process::stop(int sig, std::chrono::milliseconds grace) {
  if (pid_ <= 0) return -1;
  if (status_) return *status_;
  ::kill(pid_, sig);
  if (auto s = wait(grace)) return *s;
  ::kill(pid_, SIGKILL);
  reap_blocking();
  return *status_;
}

std::string Process::out() const { return slurp(dir_ / "stdout"); }
std::string Process::err() const { return slurp(dir_ / "stderr"); }

std::string Process::wait_for_line(std::size_t n, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto ls = lines(out());
    const std::string text = out();
    // Only complete lines count: the last one may still be being written.
    std::size_t complete = ls.size();
    if (!text.empty() && text.back() != '\n') --complete;
    if (complete > n) return ls[n];
    if (std::chrono::steady_clock::now() >= deadline || !running()) return {};
    std::this_thread::sleep_for(5ms);
  }
}

RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
              const SpawnOptions& options) {
  Process p = Process::spawn(argv, options);
  RunResult r;
  auto status = p.wait(timeout);
  if (!status) {
    p.stop(SIGKILL, 0ms);
    r.status = -1;
  } else {
    r.status = *status;
  }
  r.out = p.out();
  r.err = p.err();
  return r;
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
