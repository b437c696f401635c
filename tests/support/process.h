#pragma once
// Test support: run programs (optionally inside a network namespace) and capture their output.
// Shared by the integration tests (loopback) and the lab (namespaces).

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sys/unique_fd.h"

namespace connscope::test {

using namespace std::chrono_literals;
using sys::UniqueFd;

struct CmdResult {
  int exit_code = -1;  // the exit status; 128 + signal when killed; -1 when it could not start
  bool timed_out = false;
  std::string out;
  std::string err;
  long max_rss_kib = 0;  // the child's peak resident set (wait4's ru_maxrss), KiB
  [[nodiscard]] bool ok() const { return exit_code == 0 && !timed_out; }
};

struct SpawnOptions {
  int netns_fd = -1;                    // an open /run/netns/<name>; -1: the caller's namespace
  std::optional<unsigned long> nofile;  // RLIMIT_NOFILE (soft and hard) for the child
};

// Runs argv (no shell) to completion; stdin is /dev/null. Killed (with its process group) when
// the timeout expires.
CmdResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = 10s,
              const SpawnOptions& options = {});

// A background process and its process group, stopped with SIGTERM then SIGKILL when destroyed.
// stdout and stderr go to files (readable while it runs). Not thread-safe; owned by one thread.
class Process {
 public:
  Process() = default;
  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process();

  // Starts argv (searched in PATH). Output files go to `out_dir` (a fresh temporary directory,
  // removed with the Process, when empty) named after the program.
  static Process spawn(const std::vector<std::string>& argv, const SpawnOptions& options = {},
                       const std::filesystem::path& out_dir = {});

  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] bool running() const;
  // Sends `sig` to the group, waits up to `grace`, then SIGKILL; returns the exit status
  // (128 + signal when killed by one).
  int stop(int sig = 15, std::chrono::milliseconds grace = 3s);
  // Waits for it to exit by itself; nullopt if it still runs after `timeout`.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  [[nodiscard]] std::string out() const;
  [[nodiscard]] std::string err() const;
  [[nodiscard]] const std::filesystem::path& out_path() const { return out_path_; }
  [[nodiscard]] const std::filesystem::path& err_path() const { return err_path_; }
  // Waits until stdout has a complete line `n` (0-based) and returns it; empty on timeout or
  // when the process ends first.
  std::string wait_for_line(std::size_t n, std::chrono::milliseconds timeout);

 private:
  int reap();
  pid_t pid_ = -1;
  UniqueFd pidfd_;
  std::optional<int> status_;
  std::filesystem::path out_path_;
  std::filesystem::path err_path_;
  std::filesystem::path own_dir_;  // removed on destruction when spawn made it
};

// `name` made safe for a file name: [A-Za-z0-9._-], others as '_', at most 60 characters.
std::string safe_file_name(std::string_view name);

// Splits text into lines without their newlines.
std::vector<std::string> lines(const std::string& text);

}  // namespace connscope::test
