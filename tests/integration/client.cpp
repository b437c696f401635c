#include "integration/client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "core/endpoint.h"

namespace connscope::test {

namespace {

int remaining_ms(std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

UniqueFd start_connect(const std::string& address, std::uint16_t port, int& err) {
  const int family = address.find(':') == std::string::npos ? AF_INET : AF_INET6;
  Endpoint ep{family, address, port};
  sockaddr_storage ss{};
  const socklen_t len = ep.to_sockaddr(ss);
  UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) {
    err = errno;
    return fd;
  }
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS) {
    err = errno;
    return UniqueFd();
  }
  err = 0;
  return fd;
}

}  // namespace

UniqueFd connect_nonblocking(const std::string& address, std::uint16_t port) {
  int err = 0;
  return start_connect(address, port, err);
}

UniqueFd connect_tcp(const std::string& address, std::uint16_t port,
                     std::chrono::milliseconds timeout) {
  int err = 0;
  UniqueFd fd = start_connect(address, port, err);
  if (!fd) {
    errno = err;
    return fd;
  }
  pollfd p{fd.get(), POLLOUT, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) {
    errno = ETIMEDOUT;
    return UniqueFd();
  }
  int so_error = 0;
  socklen_t len = sizeof so_error;
  ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &so_error, &len);
  if (so_error != 0) {
    errno = so_error;
    return UniqueFd();
  }
  // Back to blocking: the tests read with poll deadlines.
  ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) & ~O_NONBLOCK);
  return fd;
}

void send_all(int fd, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("send: ") + std::strerror(errno));
    }
    off += static_cast<std::size_t>(n);
  }
}

ReadResult read_some(int fd, std::size_t want, std::chrono::milliseconds timeout) {
  ReadResult r;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[65536];
  while (r.data.size() < want) {
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, remaining_ms(deadline));
    if (ready == 0) {
      r.timed_out = true;
      return r;
    }
    const ssize_t n = ::recv(fd, buf, std::min(sizeof buf, want - r.data.size()), 0);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      r.error = errno;
      return r;
    }
    if (n == 0) {
      r.eof = true;
      return r;
    }
    r.data.append(buf, static_cast<std::size_t>(n));
  }
  return r;
}

ReadResult read_until_text(int fd, const std::string& needle, std::chrono::milliseconds timeout) {
  ReadResult r;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (r.data.find(needle) == std::string::npos) {
    auto more = read_some(fd, 1, std::chrono::milliseconds(remaining_ms(deadline)));
    r.data += more.data;
    r.error = more.error;
    r.eof = more.eof;
    r.timed_out = more.timed_out;
    if (more.data.empty()) break;
  }
  return r;
}

ReadResult read_until_close(int fd, std::chrono::milliseconds timeout) {
  return read_some(fd, static_cast<std::size_t>(-1), timeout);
}

}  // namespace connscope::test
