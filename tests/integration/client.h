#pragma once
// Test support: plain blocking TCP clients with deadlines, for asserting what a server does.

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "sys/unique_fd.h"

namespace connscope::test {

using sys::UniqueFd;
using namespace std::chrono_literals;

// Connects to address:port (numeric, v4 or v6); invalid fd and errno set on failure.
UniqueFd connect_tcp(const std::string& address, std::uint16_t port,
                     std::chrono::milliseconds timeout = 2s);

// Starts a nonblocking connect and returns at once (for filling queues).
UniqueFd connect_nonblocking(const std::string& address, std::uint16_t port);

void send_all(int fd, const std::string& data);

struct ReadResult {
  std::string data;
  int error = 0;      // errno of the failing read (ECONNRESET...), 0 otherwise
  bool eof = false;   // the peer closed (read returned 0)
  bool timed_out = false;
};

// Reads until `want` bytes, EOF, an error or the deadline.
ReadResult read_some(int fd, std::size_t want, std::chrono::milliseconds timeout);
// Reads until `needle` has arrived, EOF, an error or the deadline.
ReadResult read_until_text(int fd, const std::string& needle, std::chrono::milliseconds timeout);
// Reads until EOF, an error or the deadline.
ReadResult read_until_close(int fd, std::chrono::milliseconds timeout);

}  // namespace connscope::test
