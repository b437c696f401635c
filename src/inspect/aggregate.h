#pragma once
// Streaming aggregation of a socket dump into what `inspect` shows: state distribution, listeners,
// per-port and per-process state counts, top peers, TIME_WAIT per destination, and the top
// sockets by Recv-Q and Send-Q. Memory grows with listeners, ports, processes and distinct peers,
// never with the number of sockets (only the top-N sockets are kept). Pure: no I/O.

#include <sys/types.h>

#include <array>
#include <bitset>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "inspect/owners.h"
#include "inspect/sock_diag.h"

namespace connscope::inspect {

// Index by kernel state number (tcp_state::k*); NEW_SYN_RECV is folded into SYN_RECV.
using StateCounts = std::array<std::uint64_t, 13>;

struct ListenerRow {
  Endpoint local;
  std::uint32_t accept_queue = 0;        // connections waiting for accept()
  std::uint32_t accept_queue_limit = 0;  // min(listen backlog, somaxconn)
  std::uint64_t syn_recv = 0;            // half-open connections to this port
  std::optional<std::uint64_t> inode;
  const ProcessEntry* owner = nullptr;   // valid while the OwnerTable lives
};

// Incoming connections by their local port (the service), outgoing ones by their remote port.
// The listeners decide: a connection is incoming when its local address and port are a
// listener's (its address, or a wildcard 0.0.0.0 / :: of a compatible family, IPv4-mapped
// addresses included), and outgoing when its peer is on this host (loopback, or the socket's own
// address) and the peer's address and port are a listener's: the client end of a connection
// from this host to itself. Only when both or neither hold does the port range break the tie: a
// connection is incoming when its remote port, and not its local one, is ephemeral (in
// ip_local_port_range); with both ephemeral and no listener on either end it is outgoing (a
// client's port, to a service elsewhere on a high port); otherwise the lower port is taken as
// the service.
struct PortRow {
  std::uint16_t port = 0;
  bool outgoing = false;
  StateCounts states{};
};

struct ProcessRow {
  pid_t pid = 0;
  std::string command;
  StateCounts states{};
};

struct PeerCount {
  std::string address;
  std::uint64_t count = 0;
};

struct TopSocket {
  SocketRecord socket;
  const ProcessEntry* owner = nullptr;
};

struct Snapshot {
  StateCounts v4{};
  StateCounts v6{};
  [[nodiscard]] std::uint64_t total(int state) const { return v4[static_cast<std::size_t>(state)] + v6[static_cast<std::size_t>(state)]; }
  std::uint64_t sockets = 0;
  std::vector<ListenerRow> listeners;   // in dump order
  std::vector<PortRow> ports;           // most sockets first
  std::vector<ProcessRow> processes;    // by pid
  std::vector<PeerCount> syn_recv_by_source;      // most first
  std::vector<PeerCount> established_by_peer;     // most first
  std::vector<PeerCount> time_wait_by_destination;  // "addr:port", most first
  struct CloseWait {
    pid_t pid = 0;  // 0: no owner known (no inode or not readable)
    std::string command;
    std::uint16_t port = 0;
    std::uint64_t count = 0;
    // Still in CLOSE_WAIT at the second sample (set by collect(); nullopt with one sample).
    std::optional<std::uint64_t> persisting;
  };
  std::vector<CloseWait> close_wait;  // by owner and local port, most first
  std::vector<TopSocket> top_recv_q;  // largest Recv-Q first (non-LISTEN, Recv-Q > 0)
  std::vector<TopSocket> top_send_q;  // largest Send-Q first (non-LISTEN, Send-Q > 0)
};

class Aggregator {
 public:
  // `owners` may be null (--no-owners); otherwise it must outlive the Snapshot.
  // `ephemeral` is net.ipv4.ip_local_port_range: a port in it is a client's, not a service's.
  explicit Aggregator(const OwnerTable* owners, std::size_t top_n = 10, std::size_t top_peers = 5,
                      std::pair<std::uint16_t, std::uint16_t> ephemeral = {32768, 60999});
  // Not copyable: it keeps pointers into its own maps.
  Aggregator(const Aggregator&) = delete;
  Aggregator& operator=(const Aggregator&) = delete;

  // Listeners first (a LISTEN-only dump), so that other sockets can be told incoming from
  // outgoing by them; a LISTEN record given to add() is taken as a listener too, but only the
  // sockets added after it are judged by it.
  void add_listener(const SocketRecord& s);
  // A listener that is not shown (another process's, under --pid) still tells directions.
  void know_listener(const SocketRecord& s);
  void add(const SocketRecord& s);

  // Each socket kept for the top-N lists so far (to add what the dump did not carry, such as
  // tcp_info, for these few sockets only).
  template <class F>
  void for_each_top(F&& f) {
    for (auto& t : snap_.top_recv_q) f(t.socket);
    for (auto& t : snap_.top_send_q) f(t.socket);
  }

  // Sorts and trims; the Aggregator is spent afterwards.
  Snapshot finish();

 private:
  void keep_top(std::vector<TopSocket>& top, const SocketRecord& s, std::uint32_t key_of_new,
                bool by_recv);
  const ProcessEntry* owner_of(const SocketRecord& s) const;

  // Whether a connection is one this host accepted (else one it made).
  [[nodiscard]] bool incoming(const SocketRecord& s) const;

  // A listening address; `row` indexes snap_.listeners, or is npos for a known-only one.
  struct Listening {
    std::string address;  // IPv4-mapped IPv6 addresses as plain IPv4
    bool any_v4 = false;  // 0.0.0.0: every IPv4 address (and IPv4-mapped)
    bool any = false;     // :: : every address (dual-stack unless IPV6_V6ONLY, which we do not see)
    std::size_t row = static_cast<std::size_t>(-1);
  };
  void remember(const SocketRecord& s, std::size_t row);
  // The listener that accepts connections to `address`:`port`: an exact address before a
  // wildcard, as the kernel picks; null when none.
  [[nodiscard]] const Listening* listener_for(std::string_view address, std::uint16_t port) const;

  const OwnerTable* owners_;
  std::pair<std::uint16_t, std::uint16_t> ephemeral_;
  std::size_t top_n_;
  std::size_t top_peers_;
  Snapshot snap_;
  std::unordered_map<std::uint16_t, std::vector<Listening>> listening_;  // by port
  // The ports in listening_: most sockets' ports (a client's) listen nowhere, and a bit test
  // answers that without hashing (8 KiB).
  std::bitset<65536> listening_bits_;
  std::map<std::pair<bool, std::uint16_t>, StateCounts> ports_;
  std::map<pid_t, ProcessRow> processes_;
  // Counts by key, remembering the last key: a dump often brings many sockets of one peer in a
  // row (a proxy, a load balancer, loopback), and a compare is cheaper than a hash lookup.
  struct KeyCounter {
    std::unordered_map<std::string, std::uint64_t> counts;
    std::string last;
    std::uint64_t* last_count = nullptr;  // node-based map: stays valid as it grows
    void add(std::string_view key);
  };
  KeyCounter syn_sources_;
  KeyCounter est_peers_;
  KeyCounter tw_dest_;
  // The row of the last socket's (outgoing, port), for the same reason.
  std::pair<bool, std::uint16_t> last_port_key_{};
  StateCounts* last_port_counts_ = nullptr;
  std::map<std::pair<pid_t, std::uint16_t>, Snapshot::CloseWait> close_wait_;
};

}  // namespace connscope::inspect
