#pragma once
// `connscope watch --summary`: events aggregated per one-second window and in total since the
// start, rendered as a top-like text block or as one JSON object (docs/json.md), and the evidence
// the event rules (rules/event_rules.h) judge. Pure: fed with events and times, no clock. Memory
// is bounded: each table keeps at most a fixed number of keys and counts the rest as "other".
// One thread.

#include <algorithm>
#include <array>
#include <chrono>
#include <compare>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/text.h"
#include "bpf/tracer.h"
#include "rules/event_rules.h"
#include "watch/event.h"

namespace connscope::watch {

// Counts by key; past `max_keys` distinct keys, a new key's count goes to other().
template <class Key>
class BoundedCounts {
 public:
  BoundedCounts() = default;
  explicit BoundedCounts(std::size_t max_keys) : max_keys_(max_keys) {}

  void add(const Key& key, std::uint64_t n = 1) {
    auto it = counts_.find(key);
    if (it != counts_.end()) {
      it->second += n;
    } else if (counts_.size() < max_keys_) {
      counts_.emplace(key, n);
    } else {
      other_ += n;
    }
  }
  [[nodiscard]] std::uint64_t count(const Key& key) const {
    const auto it = counts_.find(key);
    return it == counts_.end() ? 0 : it->second;
  }
  void add_other(std::uint64_t n) { other_ += n; }
  [[nodiscard]] std::uint64_t other() const { return other_; }
  [[nodiscard]] bool empty() const { return counts_.empty() && other_ == 0; }
  [[nodiscard]] const std::map<Key, std::uint64_t>& map() const { return counts_; }
  // The largest count first; equal counts in key order.
  [[nodiscard]] std::vector<std::pair<Key, std::uint64_t>> sorted() const {
    std::vector<std::pair<Key, std::uint64_t>> v(counts_.begin(), counts_.end());
    std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    return v;
  }

 private:
  std::size_t max_keys_ = 4096;
  std::map<Key, std::uint64_t> counts_;
  std::uint64_t other_ = 0;
};

struct TransitionKey {
  std::string from;  // the events' names: "ESTABLISHED", "FIN_WAIT1"
  std::string to;
  auto operator<=>(const TransitionKey&) const = default;
};

struct DropKey {
  std::string reason;   // "NETFILTER_DROP"; "" when the kernel gave none
  std::uint16_t port = 0;  // the local port (a packet's destination); 0 when none
  auto operator<=>(const DropKey&) const = default;
};

struct ListenerTally {
  std::uint64_t accept_overflows = 0;  // SYNs and handshake ACKs dropped, accept queue full
  std::uint64_t syn_queue_drops = 0;   // SYNs dropped, SYN queue full
  std::uint32_t backlog = 0;          // the last overflow's queue and limit
  std::uint32_t max_backlog = 0;
  std::uint16_t port = 0;
  BoundedCounts<std::string> peers{256};
  [[nodiscard]] std::uint64_t total() const { return accept_overflows + syn_queue_drops; }
};

// What the kernel counted itself instead of streaming (--summary, bpf::Aggregates), as the change
// since the previous look.
struct KernelCounted {
  struct Count {
    EventKind kind = EventKind::state;
    std::string reason;  // "" when the kernel gave none
    std::uint16_t port = 0;  // the local port; 0 for state changes
    std::string peer;    // the remote address; "" when none
    std::uint64_t events = 0;
  };
  std::vector<std::pair<TransitionKey, std::uint64_t>> transitions;
  std::vector<Count> counts;  // state changes only when they open a connection
  std::array<std::uint64_t, CS_EV_KIND_MAX> other{};  // by cs_event_kind: not in a key of counts
};

// The change from `before` to `now` (both running totals of one Tracer), named as events name it.
KernelCounted kernel_counted(const bpf::Aggregates& before, const bpf::Aggregates& now, const ReasonNames& names);

// What one window (or the whole run) saw.
struct Tally {
  std::uint64_t events = 0;
  std::uint64_t lost = 0;  // events that did not fit the ring buffer
  // The programs' calls the kernel skipped (an interrupt inside one): up to this many events
  // are missing.
  std::uint64_t missed = 0;
  BoundedCounts<TransitionKey> transitions{256};
  BoundedCounts<DropKey> drops;
  BoundedCounts<std::uint16_t> resets_sent;
  BoundedCounts<std::uint16_t> resets_received;
  BoundedCounts<std::uint16_t> retransmits;  // segments and SYN-ACKs
  BoundedCounts<std::string> peers;          // remote addresses, by events
  std::map<std::string, ListenerTally> overflows;  // by listener "ADDR:PORT"
  // NETFILTER_DROP packets: their sources by local port (for host.firewall_drop).
  std::map<std::uint16_t, BoundedCounts<std::string>> firewall_sources;

  void add(const Event& e);
  void add(const KernelCounted& k);

 private:
  // One event's, or the kernel's `n` events', share of the tables keyed by kind, reason, port and
  // peer (everything but the transitions, the overflows and the count of events).
  void count(EventKind kind, const std::string& reason, std::uint16_t port, const std::string& peer, std::uint64_t n);
};

class Summary {
 public:
  using time_point = std::chrono::system_clock::time_point;

  explicit Summary(time_point start) : start_(start), window_start_(start), last_roll_(start) {}

  void add(const Event& e);
  void add(const KernelCounted& k);
  void add_lost(std::uint64_t n);
  void add_missed(std::uint64_t n);
  // Ends the current window at `now`: it becomes last_window(), and a new one starts.
  void roll(time_point now);

  [[nodiscard]] const Tally& last_window() const { return last_; }
  [[nodiscard]] std::chrono::nanoseconds last_window_length() const { return last_length_; }
  [[nodiscard]] const Tally& total() const { return total_; }
  // From the start to the last roll.
  [[nodiscard]] std::chrono::nanoseconds total_length() const { return last_roll_ - start_; }

 private:
  time_point start_;
  time_point window_start_;
  time_point last_roll_;
  std::chrono::nanoseconds last_length_{0};
  Tally current_;
  Tally last_;
  Tally total_;
};

// The top-like block: a title line (the last window and the total), then one section per kind of
// count that has any, each sorted by the last window's count then the total's, largest first, at
// most K rows each, K fitted so that the block fills at most `height` lines.
std::string render_summary_text(const Summary& s, Lang lang, bool colour, std::size_t height);

// {"window": {"seconds": …, tally}, "total": {"seconds": …, tally}} (docs/json.md).
nlohmann::json summary_json(const Summary& s);

// The evidence the event rules judge, from one window; the caller adds the listening ports and
// their owners (inspect's listener dump).
rules::EventEvidence event_evidence(const Tally& window, std::chrono::nanoseconds length);

}  // namespace connscope::watch
