#include "watch/event.h"

#include "core/error_text.h"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <fmt/format.h>

#include "bpf/events.h"
#include "inspect/sock_diag.h"

namespace connscope::watch {

namespace {

constexpr std::array<std::string_view, 8> kKindNames = {
    "state", "reset_sent", "reset_received", "retransmit", "synack_retransmit", "drop", "accept_overflow",
    "syn_queue_drop"};
constexpr std::array<std::string_view, 5> kGroupNames = {"state", "reset", "retransmit", "drop", "overflow"};

// A dual-stack (IPv6) socket sees an IPv4 end as ::ffff:a.b.c.d; it is shown as a.b.c.d, as
// inspect does, so that one client has one address whatever socket it reached.
bool v4_mapped(const std::uint8_t* addr) {
  static constexpr std::uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(addr, kPrefix, sizeof kPrefix) == 0;
}

std::optional<Endpoint> endpoint_of(std::uint16_t family, const std::uint8_t* addr, std::uint16_t port) {
  sockaddr_storage ss{};
  if (family == AF_INET6 && v4_mapped(addr)) {
    family = AF_INET;
    addr += 12;
  }
  if (family == AF_INET) {
    sockaddr_in s4{};
    s4.sin_family = AF_INET;
    std::memcpy(&s4.sin_addr, addr, 4);
    s4.sin_port = htons(port);
    std::memcpy(&ss, &s4, sizeof s4);
  } else if (family == AF_INET6) {
    sockaddr_in6 s6{};
    s6.sin6_family = AF_INET6;
    std::memcpy(&s6.sin6_addr, addr, 16);
    s6.sin6_port = htons(port);
    std::memcpy(&ss, &s6, sizeof s6);
  } else {
    return std::nullopt;
  }
  return endpoint_from_sockaddr(reinterpret_cast<const sockaddr*>(&ss));
}

}  // namespace

std::string reason_name(const ReasonNames& names, EventKind kind, std::uint32_t value) {
  const auto& table = kind == EventKind::drop ? names.drop : names.reset;
  if (auto it = table.find(value); it != table.end()) return it->second;
  return fmt::format("reason {}", value);
}

std::string address_text(std::uint16_t family, const std::uint8_t* addr) {
  const auto e = endpoint_of(family, addr, 0);
  return e ? e->address : std::string();
}

std::string_view kind_name(EventKind kind) { return kKindNames[static_cast<std::size_t>(kind)]; }

EventGroup group_of(EventKind kind) {
  switch (kind) {
    case EventKind::state: return EventGroup::state;
    case EventKind::reset_sent:
    case EventKind::reset_received: return EventGroup::reset;
    case EventKind::retransmit:
    case EventKind::synack_retransmit: return EventGroup::retransmit;
    case EventKind::drop: return EventGroup::drop;
    case EventKind::accept_overflow:
    case EventKind::syn_queue_drop: return EventGroup::overflow;
  }
  return EventGroup::state;
}

std::string_view group_name(EventGroup group) { return kGroupNames[static_cast<std::size_t>(group)]; }

Result<std::vector<EventGroup>> parse_groups(std::string_view text, std::string_view what) {
  std::vector<EventGroup> out;
  while (true) {
    const auto comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    bool found = false;
    for (std::size_t i = 0; i < kGroupNames.size(); ++i) {
      if (item == kGroupNames[i]) {
        const auto g = static_cast<EventGroup>(i);
        if (std::find(out.begin(), out.end(), g) == out.end()) out.push_back(g);
        found = true;
      }
    }
    if (!found)
      return fail_text(std::string(what), Msg::err_event_unknown_kind_name, {{"kind", std::string(item)}});
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

Result<Event> decode_event(std::span<const std::byte> record, const ReasonNames& names,
                           std::chrono::nanoseconds monotonic_to_wall) {
  cs_event raw{};
  if (record.size() < sizeof raw)
    return fail_text("cs_event", Msg::err_event_size,
                     {{"size", std::to_string(record.size())}, {"expected", std::to_string(sizeof raw)}});
  std::memcpy(&raw, record.data(), sizeof raw);
  if (raw.kind < CS_EV_STATE || raw.kind >= CS_EV_KIND_MAX)
    return fail_text("cs_event", Msg::err_event_unknown_kind, {{"kind", std::to_string(raw.kind)}});


  Event e;
  e.kind = static_cast<EventKind>(raw.kind - CS_EV_STATE);
  e.time = std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
      std::chrono::nanoseconds(raw.ts_ns) + monotonic_to_wall));
  e.protocol = raw.protocol;
  e.packet = (raw.flags & CS_F_PACKET) != 0;
  e.source = endpoint_of(raw.family, raw.saddr, raw.sport);
  e.destination = endpoint_of(raw.family, raw.daddr, raw.dport);
  if (e.kind == EventKind::state) {
    e.old_state = std::string(inspect::tcp_state_name(raw.old_state));
    e.new_state = std::string(inspect::tcp_state_name(raw.new_state));
  }
  if (raw.pid != 0) {
    e.pid = raw.pid;
    e.comm.assign(raw.comm, strnlen(raw.comm, sizeof raw.comm));
  }
  if ((raw.flags & CS_F_HAS_REASON) != 0) {
    e.reason_code = raw.reason;
    e.reason = reason_name(names, e.kind, raw.reason);
  }
  e.location = raw.location;
  e.ifindex = raw.ifindex;
  return e;
}

}  // namespace connscope::watch
