#include "lab/delayer.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <stdexcept>
#include <utility>
#include <vector>

namespace connscope::lab {

namespace {
constexpr const char* kDev = "mxdelay";
constexpr const char* kTable = "100";  // also the rules' preference
using Clock = std::chrono::steady_clock;
}  // namespace

Delayer::Delayer(Lab& lab, Node router, std::string from_iface, std::chrono::milliseconds delay)
    : lab_(lab), router_(router), iface_(std::move(from_iface)), delay_(delay) {
  fd_ = lab.in_ns(router, [] {
    UniqueFd fd(::open("/dev/net/tun", O_RDWR | O_CLOEXEC));
    if (!fd) throw std::runtime_error(std::string("open /dev/net/tun: ") + std::strerror(errno));
    ifreq ifr{};
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    std::strncpy(ifr.ifr_name, kDev, IFNAMSIZ - 1);
    if (::ioctl(fd.get(), TUNSETIFF, &ifr) != 0) {
      throw std::runtime_error(std::string("TUNSETIFF: ") + std::strerror(errno));
    }
    return fd;
  });
  // Packets coming back from the TUN device have it as their input interface, so the rule does
  // not send them round again; reverse-path filtering would drop them.
  for (const auto& argv : std::vector<std::vector<std::string>>{
           {"ip", "link", "set", kDev, "up"},
           {"sysctl", "-q", "-w", "net.ipv4.conf.all.rp_filter=0", std::string("net.ipv4.conf.") + kDev + ".rp_filter=0"},
           {"ip", "-4", "route", "add", "default", "dev", kDev, "table", kTable},
           {"ip", "-6", "route", "add", "default", "dev", kDev, "table", kTable},
           {"ip", "-4", "rule", "add", "iif", iface_, "lookup", kTable, "pref", kTable},
           {"ip", "-6", "rule", "add", "iif", iface_, "lookup", kTable, "pref", kTable}}) {
    auto r = lab.exec(router, argv);
    if (!r.ok()) throw std::runtime_error("delayer: " + argv[0] + " " + argv[1] + " " + argv[2] + ": " + r.err);
  }
  thread_ = std::jthread([this](const std::stop_token& stop) { pump(stop); });
}

Delayer::~Delayer() {
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();
  lab_.exec(router_, {"ip", "-4", "rule", "del", "pref", kTable});
  lab_.exec(router_, {"ip", "-6", "rule", "del", "pref", kTable});
  fd_.reset();  // the device goes with its last descriptor, and its routes with it
}

void Delayer::pump(const std::stop_token& stop) {
  std::deque<std::pair<Clock::time_point, std::string>> held;
  std::string buf(65536, '\0');
  while (!stop.stop_requested()) {
    int wait_ms = 20;
    if (!held.empty()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(held.front().first - Clock::now());
      wait_ms = static_cast<int>(std::clamp<long>(left.count(), 0, 20));
    }
    pollfd p{fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, wait_ms) > 0 && (p.revents & POLLIN) != 0) {
      const ssize_t n = ::read(fd_.get(), buf.data(), buf.size());
      if (n > 0) held.emplace_back(Clock::now() + delay_, buf.substr(0, static_cast<std::size_t>(n)));
    }
    while (!held.empty() && held.front().first <= Clock::now()) {
      [[maybe_unused]] const ssize_t w = ::write(fd_.get(), held.front().second.data(), held.front().second.size());
      held.pop_front();
    }
  }
}

}  // namespace connscope::lab
