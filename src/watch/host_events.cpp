#include "watch/host_events.h"

#include "core/error_text.h"

#include <ifaddrs.h>
#include <sys/socket.h>

#include <algorithm>
#include <ctime>
#include <fmt/format.h>

#include "bpf/kernel_btf.h"
#include "watch/reasons.h"

namespace connscope::watch {

namespace {

std::chrono::nanoseconds monotonic_to_wall() {
  timespec mono{}, real{};
  ::clock_gettime(CLOCK_MONOTONIC, &mono);
  ::clock_gettime(CLOCK_REALTIME, &real);
  return std::chrono::seconds(real.tv_sec - mono.tv_sec) + std::chrono::nanoseconds(real.tv_nsec - mono.tv_nsec);
}

}  // namespace

bool is_local_address(const Endpoint& address) {
  Endpoint probe = address;
  probe.port = 0;
  sockaddr_storage ss{};
  probe.to_sockaddr(ss);
  if (ss.ss_family == AF_INET) {
    const auto* s4 = reinterpret_cast<const sockaddr_in*>(&ss);
    if ((ntohl(s4->sin_addr.s_addr) >> 24) == 127) return true;
  } else if (ss.ss_family == AF_INET6) {
    const auto* s6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    if (IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr)) return true;
  }
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return false;
  bool found = false;
  for (ifaddrs* i = list; i != nullptr && !found; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != address.family) continue;
    found = endpoint_from_sockaddr(i->ifa_addr).address == address.address;
  }
  ::freeifaddrs(list);
  return found;
}

Result<ConnectionEvents> ConnectionEvents::start(std::vector<Endpoint> targets) {
  if (targets.empty()) return fail_text("host_events", Msg::err_no_address);

  auto btf = bpf::KernelBtf::load();
  if (!btf) return std::unexpected(btf.error());
  bpf::TracerOptions o;
  o.event_mask = CS_EVENT_BIT(CS_EV_DROP) | CS_EVENT_BIT(CS_EV_RESET_SENT) | CS_EVENT_BIT(CS_EV_RESET_RECEIVED);
  o.port = targets.front().port;
  if (targets.size() == 1) {
    Endpoint peer = targets.front();
    peer.port = 0;
    o.peer = peer;
  }
  o.ring_bytes = std::size_t{256} << 10;
  auto t = bpf::Tracer::open(o);
  if (!t) return std::unexpected(t.error());
  ReasonNames names{btf->enum_names("skb_drop_reason", "SKB_DROP_REASON_"),
                    btf->enum_names("sk_rst_reason", "SK_RST_REASON_")};
  return ConnectionEvents(std::move(*t), std::move(names), std::move(targets));
}

bool ConnectionEvents::is_target(const std::optional<Endpoint>& e) const {
  return e && std::find(targets_.begin(), targets_.end(), *e) != targets_.end();
}

std::vector<Event> ConnectionEvents::collect(std::span<const std::uint16_t> local_ports) {
  std::vector<Event> out;
  const auto offset = monotonic_to_wall();
  // What the ring holds now; a zero wait: the doctor's run is over.
  (void)tracer_->poll(std::chrono::milliseconds(0), [&](std::span<const std::byte> r) {
    auto e = decode_event(r, names_, offset);
    if (!e) return;
    // A socket's own end (close, purged queues) says nothing about the path.
    if (e->kind == EventKind::drop && is_teardown_drop(e->reason)) return;
    // One end is the target; the other is one of the doctor's ports.
    if (!is_target(e->destination) && !is_target(e->source)) return;
    if (!local_ports.empty()) {
      const auto& other = is_target(e->destination) ? e->source : e->destination;
      if (!other || std::find(local_ports.begin(), local_ports.end(), other->port) == local_ports.end()) return;
    }
    out.push_back(std::move(*e));
  });
  return out;
}

std::string events_summary(const std::vector<Event>& events) {
  std::vector<std::pair<std::string, int>> seen;
  for (const auto& e : events) {
    std::string key(kind_name(e.kind));
    if (!e.reason.empty()) key += " " + e.reason;
    auto it = std::find_if(seen.begin(), seen.end(), [&](const auto& p) { return p.first == key; });
    if (it == seen.end()) {
      seen.emplace_back(key, 1);
    } else {
      ++it->second;
    }
  }
  std::string out;
  for (const auto& [key, n] : seen) {
    if (!out.empty()) out += "; ";
    out += n > 1 ? fmt::format("{} ×{}", key, n) : key;
  }
  return out;
}

}  // namespace connscope::watch
