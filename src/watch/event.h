#pragma once
// One kernel event as `connscope watch` and the agent use it: decoded from the ring buffer's
// record (src/bpf/events.h) with the running kernel's names for its reasons.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/endpoint.h"
#include "core/error.h"

struct cs_event;

namespace connscope::watch {

enum class EventKind {
  state,              // a TCP state change
  reset_sent,
  reset_received,
  retransmit,
  synack_retransmit,
  drop,               // a packet freed with a drop reason
  accept_overflow,    // a listener's accept queue was full: a SYN or the handshake's last ACK dropped
  syn_queue_drop,     // a listener's SYN queue was full and syncookies off: a SYN dropped
};

// "state", "reset_sent", ... (the JSON "kind").
std::string_view kind_name(EventKind kind);

// The --events groups: state, reset, retransmit, drop, overflow.
enum class EventGroup { state, reset, retransmit, drop, overflow };
EventGroup group_of(EventKind kind);
std::string_view group_name(EventGroup group);
// "state,reset" -> the groups; an unknown name is an error naming it and the known ones.
Result<std::vector<EventGroup>> parse_groups(std::string_view text, std::string_view what);

// Names of the kernel's enum values, read from its BTF (kernel_btf.h); the values change between
// kernels, so they are never compiled in.
struct ReasonNames {
  std::map<std::uint32_t, std::string> drop;   // enum skb_drop_reason, "SKB_DROP_REASON_" removed
  std::map<std::uint32_t, std::string> reset;  // enum sk_rst_reason, "SK_RST_REASON_" removed
};

// The name of a kernel reason value of an event of `kind` (drops: skb_drop_reason, resets:
// sk_rst_reason); "reason N" for a value the kernel's BTF does not name.
std::string reason_name(const ReasonNames& names, EventKind kind, std::uint32_t value);

struct Event {
  std::chrono::system_clock::time_point time;
  EventKind kind = EventKind::state;
  int protocol = 0;  // IPPROTO_TCP, IPPROTO_UDP, ...; 0 when not known or not IP
  // A socket's event: source is the local end, destination the remote one.
  // A packet's (drops; a reset sent with no socket): the packet's source and destination.
  bool packet = false;
  std::optional<Endpoint> source;       // empty for a packet that is not IP
  std::optional<Endpoint> destination;
  std::string old_state;                // state changes: inspect's names ("SYN_SENT", "ESTABLISHED")
  std::string new_state;
  std::optional<std::uint32_t> pid;     // the process, when known
  std::string comm;
  // Drops: the kernel's drop reason ("NETFILTER_DROP"); resets sent on kernels that give one
  // ("NO_SOCKET"); empty when the kernel gave none. reason_code is the raw value.
  std::string reason;
  std::optional<std::uint32_t> reason_code;
  std::uint64_t location = 0;           // drops: the kernel address that freed the packet
  std::uint32_t ifindex = 0;            // drops: the device, 0 when none
  std::uint32_t backlog = 0;            // overflows: the accept queue's length and its limit
  std::uint32_t max_backlog = 0;
  // Overflows: how many packets the listener dropped since the previous look (once a second);
  // 1 for every other event.
  std::uint64_t count = 1;
  std::optional<std::uint64_t> inode;   // overflows: the listener's socket inode, for its owner
};

// A kernel address as text (IPv4 in the first 4 bytes; ::ffff:a.b.c.d as a.b.c.d, as events
// show it); "" for another family.
std::string address_text(std::uint16_t family, const std::uint8_t* addr);

// Decodes one ring-buffer record. `boot_to_wall` turns CLOCK_MONOTONIC nanoseconds into wall time
// (the offset between the clocks, measured once). An unknown reason value keeps its number as
// its name ("reason 131"). Errors: a record of the wrong size or an unknown kind.
Result<Event> decode_event(std::span<const std::byte> record, const ReasonNames& names,
                           std::chrono::nanoseconds monotonic_to_wall);

}  // namespace connscope::watch
