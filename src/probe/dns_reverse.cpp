#include "probe/dns_reverse.h"

#include <ares.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>

#include "probe/stage.h"

namespace connscope::probe {

namespace {

struct PtrSlot {
  std::string address;
  std::optional<std::string> name;
  bool done = false;
};

void on_host(void* arg, int status, int /*timeouts*/, hostent* host) {
  auto* slot = static_cast<PtrSlot*>(arg);
  slot->done = true;
  if (status == ARES_SUCCESS && host != nullptr && host->h_name != nullptr) slot->name = host->h_name;
}

}  // namespace

std::map<std::string, std::string> reverse_names(const std::vector<std::string>& addresses,
                                                 std::chrono::milliseconds deadline) {
  std::map<std::string, std::string> out;
  if (addresses.empty()) return out;
  const auto until = Clock::now() + deadline;
  ares_options opts{};
  opts.timeout = static_cast<int>(std::max<std::int64_t>(100, deadline.count() / 3));
  opts.tries = 2;
  ares_channel channel = nullptr;
  if (ares_init_options(&channel, &opts, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES) != ARES_SUCCESS) {
    return out;
  }
  // Slots outlive the channel: ares_destroy calls the callbacks of what is still pending.
  std::vector<PtrSlot> slots(addresses.size());
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    slots[i].address = addresses[i];
    std::array<unsigned char, 16> raw{};
    const int family = addresses[i].find(':') == std::string::npos ? AF_INET : AF_INET6;
    if (::inet_pton(family, addresses[i].c_str(), raw.data()) != 1) {
      slots[i].done = true;
      continue;
    }
    ares_gethostbyaddr(channel, raw.data(), family == AF_INET ? 4 : 16, family, &on_host, &slots[i]);
  }
  auto pending = [&] {
    return std::any_of(slots.begin(), slots.end(), [](const PtrSlot& s) { return !s.done; });
  };
  while (pending()) {
    const auto now = Clock::now();
    if (now >= until) break;
    std::array<ares_socket_t, ARES_GETSOCK_MAXNUM> socks{};
    const int bits = ares_getsock(channel, socks.data(), ARES_GETSOCK_MAXNUM);
    std::vector<pollfd> fds;
    for (int k = 0; k < ARES_GETSOCK_MAXNUM; ++k) {
      short events = 0;
      if (ARES_GETSOCK_READABLE(bits, k)) events |= POLLIN;
      if (ARES_GETSOCK_WRITABLE(bits, k)) events |= POLLOUT;
      if (events != 0) fds.push_back(pollfd{socks[static_cast<std::size_t>(k)], events, 0});
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - now);
    timeval max_tv{static_cast<time_t>(left.count() / 1000),
                   static_cast<suseconds_t>((left.count() % 1000) * 1000)};
    timeval tv{};
    ares_timeout(channel, &max_tv, &tv);
    const auto wait_ms = static_cast<int>(tv.tv_sec * 1000 + tv.tv_usec / 1000) + 1;
    const int n = ::poll(fds.data(), fds.size(), wait_ms);
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) {
      ares_process_fd(channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // c-ares' timeouts
      continue;
    }
    for (const auto& p : fds) {
      if (p.revents == 0) continue;
      const bool rd = (p.revents & (POLLIN | POLLERR | POLLHUP)) != 0;
      const bool wr = (p.revents & POLLOUT) != 0;
      ares_process_fd(channel, rd ? p.fd : ARES_SOCKET_BAD, wr ? p.fd : ARES_SOCKET_BAD);
    }
  }
  ares_destroy(channel);
  for (const auto& s : slots) {
    if (s.name) out.emplace(s.address, *s.name);
  }
  return out;
}

}  // namespace connscope::probe
