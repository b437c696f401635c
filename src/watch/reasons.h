#pragma once
// The kernel's reasons in words: what a drop reason (enum skb_drop_reason) or a reset reason
// (enum sk_rst_reason) means for a connection, and what to do about it; and the words for the
// event kinds that need some (a reset received, a retransmit, a queue overflow). Pure: catalog
// texts (core/text_watch.h) looked up by the reason's name, which is what the kernel's BTF calls
// it without the SKB_DROP_REASON_ / SK_RST_REASON_ prefix.

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/text.h"
#include "watch/event.h"

namespace connscope::watch {

struct ReasonText {
  std::string meaning;  // "a firewall rule on this host dropped it"
  std::string fix;      // "List the rules that match the port: nft list ruleset | grep -n 80; ..."
};

// What the texts quote: the local port and the remote address, as text. The defaults are the
// placeholders a person replaces.
struct ReasonArgs {
  std::string port = "PORT";
  std::string peer = "PEER";
};

// nullopt for a name the catalog does not know (the caller still shows the name).
std::optional<ReasonText> drop_reason_text(Lang lang, std::string_view name, const ReasonArgs& args = {});
std::optional<ReasonText> reset_reason_text(Lang lang, std::string_view name, const ReasonArgs& args = {});

// A drop that belongs to a socket's own end (it was closed, or its queues purged), not to a
// packet lost on its way: harmless one at a time, noise in one connection's evidence.
bool is_teardown_drop(std::string_view name);

// The names the catalog knows, in the kernel's order (for tests and docs).
std::span<const std::string_view> known_drop_reasons();
std::span<const std::string_view> known_reset_reasons();

// The explanation of one event, as a line or a JSON object shows it: a drop by its reason; a reset
// sent by its reason, or the words for a reset without one; a reset received, a retransmit, a
// SYN-ACK retransmit and the overflows by their kind. nullopt for a state change, and for a drop
// whose reason the catalog does not know.
std::optional<ReasonText> event_text(Lang lang, const Event& e);

// The event's local port and remote address as the texts quote them: a socket's event is
// (source = local, destination = remote); a packet's is taken as addressed to this host.
ReasonArgs reason_args(const Event& e);

}  // namespace connscope::watch
