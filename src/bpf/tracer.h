#pragma once
// connscope's kernel programs, loaded and attached: the ring buffer of events and the per-CPU
// counters (src/bpf/connscope.bpf.c). One Tracer per process; it detaches everything when
// destroyed.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bpf/events.h"
#include "core/endpoint.h"
#include "core/error.h"

struct connscope_bpf;
struct ring_buffer;
struct bpf_link;

namespace connscope::bpf {

struct TracerOptions {
  std::uint32_t event_mask = 0;  // CS_EVENT_BIT(kind)s to stream; 0: counters only (the agent)
  std::uint32_t pid = 0;         // filters on the events (not the counters); 0: any
  std::uint16_t port = 0;
  std::optional<Endpoint> peer;
  // The network namespace to watch (its /proc/PID/ns/net inode); nullopt: this process's own.
  std::optional<std::uint32_t> netns;
  std::size_t ring_bytes = std::size_t{4} << 20;  // a power of two, at least a page
  // 0: every event that passes is a record; else at most this many a second per CPU, the rest
  // counted by kind (KernelCounters::held): for a display that shows no more than that.
  std::uint32_t records_per_second = 0;
  // Kinds counted in the kernel instead of streamed (aggregates()): only CS_EV_STATE.
  std::uint32_t aggregate_mask = 0;
  // Keep the process behind each socket, for events that show it; --pid turns it on whatever
  // this says.
  bool owners = true;
};

// One attach point and whether it works on this kernel.
struct Hook {
  std::string program;  // the BPF program's name, e.g. "cs_drop"
  std::string target;   // "tracepoint skb:kfree_skb"
  std::uint32_t kinds = 0;  // CS_EVENT_BIT()s it produces (0: support only)
  std::optional<Error> error;  // why it is off
};

struct DropCount {
  std::uint32_t reason = 0;  // enum skb_drop_reason of the running kernel
  std::uint16_t port = 0;    // TCP: a port of set_listening_ports(), else 0
  std::uint16_t protocol = 0;
  std::uint64_t count = 0;
};

// Running totals since the programs were attached, summed over CPUs.
struct KernelCounters {
  std::array<std::uint64_t, CS_TCP_STATES * CS_TCP_STATES> transitions{};  // [from * 16 + to]
  std::array<std::uint64_t, CS_C_MAX> totals{};                           // [enum cs_counter]
  std::vector<DropCount> drops;
  // Calls the kernel did not hand to the programs (0 before Linux 5.12, which does not count
  // them): a tracepoint hit while the same program already runs on that CPU (an interrupt inside
  // it) is skipped. state_missed: state changes missing from transitions[], so a census
  // (watch/census.h) that sees it grow is not exact until its next dump. missed: the same for
  // every program that makes an event kind asked for; up to this many events are missing (a
  // skipped call may have been for another namespace or kind).
  std::uint64_t state_missed = 0;
  std::uint64_t missed = 0;
  // Events that passed the filters and were held back by records_per_second, by kind.
  std::array<std::uint64_t, CS_EV_KIND_MAX> held{};
};

// What the kernel counted for aggregate_mask, since the programs were attached.
struct Aggregates {
  struct Count {
    cs_match_key key{};
    std::uint64_t events = 0;
  };
  std::array<std::uint64_t, CS_TCP_STATES * CS_TCP_STATES> transitions{};  // [from * 16 + to]
  std::vector<Count> counts;  // by cs_match_key; a state change only when it opens a connection
  std::array<std::uint64_t, CS_EV_KIND_MAX> other{};  // by kind: the key found no room
};

class Tracer {
 public:
  // Checks privilege and BTF, loads and attaches. Errors: privilege (EPERM), no BTF (ENOENT, naming
  // the file), a verifier rejection (its log's tail in detail). A hook whose attach point the
  // kernel lacks is off, listed in hooks() with its reason; the others run.
  static Result<std::unique_ptr<Tracer>> open(const TracerOptions& options);
  ~Tracer();
  Tracer(const Tracer&) = delete;
  Tracer& operator=(const Tracer&) = delete;

  using RecordFn = std::function<void(std::span<const std::byte>)>;
  // Hands every record the ring buffer holds to on_record, waiting up to `timeout` for the first.
  // Returns how many records were consumed; EINTR is not an error (0 records).
  Result<int> poll(std::chrono::milliseconds timeout, const RecordFn& on_record);

  [[nodiscard]] Result<KernelCounters> counters() const;
  [[nodiscard]] Result<Aggregates> aggregates() const;
  // The process listening on `port` in the watched namespace, for a listener that was there
  // before the programs were attached: the connections it accepts are born in softirq, with no
  // process, and take their listener's (the programs learn later listeners themselves).
  Result<void> remember_listener(std::uint16_t port, std::uint32_t pid, std::string_view comm);
  // The local ports something listens on, for the counts of aggregate_mask and the drops of
  // counters(): an event or drop there keeps its port, any other is counted with port 0 (so that
  // the keys stay few whatever the churn of ephemeral ports). Replaces the previous set.
  Result<void> set_listening_ports(std::span<const std::uint16_t> ports);
  [[nodiscard]] const std::vector<Hook>& hooks() const { return hooks_; }
  // The event kinds asked for whose every hook is off.
  [[nodiscard]] std::uint32_t kinds_off() const;
  [[nodiscard]] std::uint32_t netns() const { return netns_; }

 private:
  Tracer() = default;
  struct connscope_bpf* skel_ = nullptr;
  struct ring_buffer* ring_ = nullptr;
  std::vector<struct bpf_link*> links_;
  std::vector<Hook> hooks_;
  std::uint32_t asked_ = 0;
  std::uint32_t netns_ = 0;
  const RecordFn* on_record_ = nullptr;  // set during poll(): the ring buffer's callback context
  int ncpus_ = 1;
  std::set<std::uint16_t> listening_;  // what cs_listening holds
};

// The inode of a process's network namespace (/proc/self/ns/net when pid is 0).
Result<std::uint32_t> netns_inode(int pid = 0);

}  // namespace connscope::bpf
