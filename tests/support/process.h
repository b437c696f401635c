#pragma once
// Test support: run a program (optionally inside a network namespace) and capture its output.
// A Process owns its child: the destructor stops it (SIGTERM, then SIGKILL) and reaps it.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace connscope::test {

using namespace std::chrono_literals;

struct SpawnOptions {
  std::string netns;                    // /run/netns/<name>; empty: the caller's namespace
  std::optional<unsigned long> nofile;  // RLIMIT_NOFILE (soft and hard) for the child
  bool stdin_null = true;               // otherwise stdin is a pipe, see Process::close_stdin
};

class Process {
 public:
  Process() = default;
  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process();

  // Starts argv[0] (searched in PATH) with stdout and stderr captured to files.
  static Process spawn(const std::vector<std::string>& argv, const SpawnOptions& options = {});

  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] bool running();
  // Sends `sig` and waits up to `grace`, then SIGKILL; returns the exit status
  // (128 + signal when killed by one).
  int stop(int sig = 15, std::chrono::milliseconds grace = 3s);
  // Waits for the child to exit by itself; nullopt if it still runs after `timeout`.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  [[nodiscard]] std::string out() const;
  [[nodiscard]] std::string err() const;
  // Waits until stdout has a complete line `n` (0-based) and returns it; empty on timeout.
  std::string wait_for_line(std::size_t n, std::chrono::milliseconds timeout);

 private:
  void reap_blocking();
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::filesystem::path dir_;
};

struct RunResult {
  int status = -1;  // exit status; -1 if it did not finish in time (then it was killed)
  std::string out;
  std::string err;
};

// Runs to completion with a deadline.
RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = 10s,
              const SpawnOptions& options = {});

// Splits text into lines without the trailing newline.
std::vector<std::string> lines(const std::string& text);

}  // namespace connscope::test
