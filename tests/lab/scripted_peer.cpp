#include "lab/scripted_peer.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "core/endpoint.h"

namespace connscope::lab {

sys::UniqueFd listen_on(int family, const std::string& address, std::uint16_t port) {
  sys::UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
  const int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (family == AF_INET6) ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  sockaddr_storage ss{};
  const socklen_t len = Endpoint{family, address, port}.to_sockaddr(ss);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd.get(), 16) != 0) {
    throw std::runtime_error("bind/listen " + address + ": " + std::strerror(errno));
  }
  return fd;
}

ScriptedPeer::ScriptedPeer(Lab& lab, std::uint16_t port, Script script) {
  std::tie(v4_, v6_) = lab.in_ns(Node::server, [&] {
    return std::pair{listen_on(AF_INET, lab.server_v4(), port), listen_on(AF_INET6, lab.server_v6(), port)};
  });
  thread_ = std::jthread([this, script = std::move(script)](std::stop_token stop) {
    while (!stop.stop_requested()) {
      pollfd p[2] = {{v4_.get(), POLLIN, 0}, {v6_.get(), POLLIN, 0}};
      if (::poll(p, 2, 50) <= 0) continue;
      for (const auto& one : p) {
        if ((one.revents & POLLIN) == 0) continue;
        sys::UniqueFd conn(::accept4(one.fd, nullptr, nullptr, SOCK_CLOEXEC));
        if (!conn) continue;
        std::string request;
        script(conn.get(), stop, request);
        const std::lock_guard lock(mutex_);
        requests_.push_back(std::move(request));
      }
    }
  });
}

std::vector<std::string> ScriptedPeer::requests(std::size_t n) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  for (;;) {
    {
      const std::lock_guard lock(mutex_);
      if (requests_.size() >= n || std::chrono::steady_clock::now() >= until) return requests_;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace connscope::lab
