// A stand-in for the names src/watch/event.cpp defines (kind_name, group_of, group_name), for as
// long as that file is not in the tree: the JSON "kind" and "group" and the --events groups.
#include "watch/event.h"

namespace connscope::watch {

std::string_view kind_name(EventKind kind) {
  if (kind == EventKind::state) return "state";
  if (kind == EventKind::reset_sent) return "reset_sent";
  if (kind == EventKind::reset_received) return "reset_received";
  if (kind == EventKind::retransmit) return "retransmit";
  if (kind == EventKind::synack_retransmit) return "synack_retransmit";
  if (kind == EventKind::drop) return "drop";
  if (kind == EventKind::accept_overflow) return "accept_overflow";
  return "syn_queue_drop";
}

EventGroup group_of(EventKind kind) {
  if (kind == EventKind::state) return EventGroup::state;
  if (kind == EventKind::reset_sent || kind == EventKind::reset_received) return EventGroup::reset;
  if (kind == EventKind::retransmit || kind == EventKind::synack_retransmit) return EventGroup::retransmit;
  if (kind == EventKind::drop) return EventGroup::drop;
  return EventGroup::overflow;
}

std::string_view group_name(EventGroup group) {
  if (group == EventGroup::state) return "state";
  if (group == EventGroup::reset) return "reset";
  if (group == EventGroup::retransmit) return "retransmit";
  if (group == EventGroup::drop) return "drop";
  return "overflow";
}

}  // namespace connscope::watch
