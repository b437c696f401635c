#pragma once
// Accept-queue overflows and SYN-queue drops per listener. The kernel drops such a SYN without a
// drop reason (it "consumes" it), and the hooks that would see it (fentry, kprobes) are missing on
// some kernels; but every drop is counted on its listener (sk_drops, through sock_diag) and
// host-wide by cause (TcpExt.ListenOverflows, TcpExt.TCPReqQFullDrop). A dump of the listeners
// only, once a second, names the listener; the host counters name the cause.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "core/error.h"
#include "inspect/sock_diag.h"
#include "sys/netlink.h"
#include "watch/event.h"

namespace connscope::watch {

struct ListenerSample {
  std::chrono::system_clock::time_point time;
  std::vector<inspect::SocketRecord> listeners;  // LISTEN sockets with their drops
  std::int64_t listen_overflows = 0;  // TcpExt.ListenOverflows
  std::int64_t syn_queue_drops = 0;   // TcpExt.TCPReqQFullDrop
};

// The events between two samples: one per listener whose drop count rose, with `count` the
// rise. The kind is syn_queue_drop when only the SYN-queue counter rose, accept_overflow
// otherwise. A listener new in `now` (not in `before`) has no baseline and gives no event. Pure.
std::vector<Event> listener_drop_events(const ListenerSample& before, const ListenerSample& now);

// Takes ListenerSamples in the caller's network namespace.
class ListenerSampler {
 public:
  static Result<ListenerSampler> open(std::string proc_root = "/proc");
  Result<ListenerSample> sample();

 private:
  ListenerSampler(sys::SockDiagSocket s, std::string proc_root)
      : socket_(std::move(s)), proc_root_(std::move(proc_root)) {}
  sys::SockDiagSocket socket_;
  std::string proc_root_;
};

}  // namespace connscope::watch
