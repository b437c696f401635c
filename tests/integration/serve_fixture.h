#pragma once
// Test support: start `connscope serve` on loopback, learn its port from the JSON
// "listening" event, and look at its sockets the way the kernel reports them.

#include <cstdint>
#include <string>
#include <vector>

#include "support/process.h"
#include "sys/proc_net.h"

namespace connscope::test {

struct Served {
  Process proc;
  std::string address;
  std::uint16_t port = 0;
};

// Runs `connscope --json -v serve --listen ADDR:0 ARGS...`; throws with the server's stderr
// if it does not report a listener within 5 s.
Served start_serve(const std::vector<std::string>& args, const std::string& address = "127.0.0.1",
                   const SpawnOptions& options = {});

// TCP sockets in this network namespace with the given local port and kernel state number.
std::vector<sys::ProcNetTcpEntry> sockets_on_port(std::uint16_t port, int state);

// Parses the JSON lines a `--json` run printed.
std::vector<std::string> json_events(const std::string& out, const std::string& event);

}  // namespace connscope::test
