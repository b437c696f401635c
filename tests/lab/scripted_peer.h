#pragma once
// A server of a test's own in the lab's server namespace, for peers `connscope serve` has no mode
// for (an endless banner, garbage after a ClientHello, a scripted protocol). It listens on one
// port on both server addresses; one thread accepts and hands each connection to the script, one
// at a time. What each script put in `request` is kept for the test to check.

#include <cstdint>
#include <functional>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "lab/lab.h"
#include "sys/unique_fd.h"

namespace connscope::lab {

// A listening TCP socket on address:port (IPv6 sockets v6-only); throws on failure.
sys::UniqueFd listen_on(int family, const std::string& address, std::uint16_t port);

class ScriptedPeer {
 public:
  using Script = std::function<void(int fd, const std::stop_token&, std::string& request)>;

  ScriptedPeer(Lab& lab, std::uint16_t port, Script script);

  // What the first `n` connections sent, once their scripts have finished (2 s at most).
  std::vector<std::string> requests(std::size_t n);

 private:
  sys::UniqueFd v4_, v6_;
  std::mutex mutex_;
  std::vector<std::string> requests_;
  std::jthread thread_;  // last: stops and joins before the sockets close
};

}  // namespace connscope::lab
