#include "inspect/aggregate.h"

#include <algorithm>

namespace connscope::inspect {

namespace {

std::size_t state_index(int state) {
  if (state == tcp_state::kNewSynRecv) return tcp_state::kSynRecv;
  if (state < 0 || state >= static_cast<int>(std::tuple_size_v<StateCounts>)) return 0;
  return static_cast<std::size_t>(state);
}

std::vector<PeerCount> top_of(const std::unordered_map<std::string, std::uint64_t>& m,
                              std::size_t n) {
  std::vector<PeerCount> out;
  out.reserve(m.size());
  for (const auto& [addr, count] : m) out.push_back({addr, count});
  std::sort(out.begin(), out.end(), [](const PeerCount& a, const PeerCount& b) {
    return a.count != b.count ? a.count > b.count : a.address < b.address;
  });
  if (out.size() > n) out.resize(n);
  return out;
}

// "::ffff:10.0.0.1" -> "10.0.0.1": a dual-stack socket's view of an IPv4 address.
std::string_view plain(std::string_view address) {
  constexpr std::string_view kMapped = "::ffff:";
  if (address.starts_with(kMapped) && address.find('.') != std::string_view::npos) {
    address.remove_prefix(kMapped.size());
  }
  return address;
}

bool is_v4(std::string_view plain_address) { return plain_address.find(':') == std::string_view::npos; }

// Whether a peer address is this host for certain: loopback, or the socket's own address (a
// connection to one of the host's addresses goes through the loopback device).
bool on_this_host(std::string_view local, std::string_view remote) {
  return remote.starts_with("127.") || remote == "::1" || remote == local;
}

}  // namespace

Aggregator::Aggregator(const OwnerTable* owners, std::size_t top_n, std::size_t top_peers,
                       std::pair<std::uint16_t, std::uint16_t> ephemeral)
    : owners_(owners), ephemeral_(ephemeral), top_n_(top_n), top_peers_(top_peers) {}

void Aggregator::remember(const SocketRecord& s, std::size_t row) {
  Listening l;
  l.address = plain(s.local.address);
  l.any_v4 = l.address == "0.0.0.0";
  l.any = l.address == "::";
  l.row = row;
  listening_[s.local.port].push_back(std::move(l));
  listening_bits_.set(s.local.port);
}

const Aggregator::Listening* Aggregator::listener_for(std::string_view address,
                                                      std::uint16_t port) const {
  if (!listening_bits_.test(port)) return nullptr;
  const auto it = listening_.find(port);
  if (it == listening_.end()) return nullptr;
  const Listening* wildcard = nullptr;
  for (const auto& l : it->second) {
    if (l.address == address) return &l;
    if (wildcard == nullptr && (l.any || (l.any_v4 && is_v4(address)))) wildcard = &l;
  }
  return wildcard;
}

void Aggregator::KeyCounter::add(std::string_view key) {
  if (last_count == nullptr || key != last) {
    last_count = &counts[std::string(key)];
    last = key;
  }
  ++*last_count;
}

bool Aggregator::incoming(const SocketRecord& s) const {
  const bool v4 = s.family == AF_INET;  // only an IPv6 socket has IPv4-mapped addresses
  const std::string_view local = v4 ? std::string_view(s.local.address) : plain(s.local.address);
  const std::string_view remote = v4 ? std::string_view(s.remote.address) : plain(s.remote.address);
  const bool accepted = listener_for(local, s.local.port) != nullptr;
  const bool to_own_listener = on_this_host(local, remote) && listener_for(remote, s.remote.port) != nullptr;
  if (accepted != to_own_listener) return accepted;
  auto eph = [this](std::uint16_t p) { return p >= ephemeral_.first && p <= ephemeral_.second; };
  const bool local_eph = eph(s.local.port);
  const bool remote_eph = eph(s.remote.port);
  if (local_eph != remote_eph) return remote_eph;
  // Both in the range and neither end a listener's: the local port was most likely the kernel's
  // pick for a connection to a service elsewhere that listens on a high port (gRPC's 50051, an
  // application server's 41000); an accepted socket outliving its listener is the rarer case.
  if (local_eph && !accepted) return false;
  return s.local.port <= s.remote.port;
}

const ProcessEntry* Aggregator::owner_of(const SocketRecord& s) const {
  if (owners_ == nullptr || !s.inode) return nullptr;
  return owners_->owner(*s.inode);
}

void Aggregator::add_listener(const SocketRecord& s) {
  ListenerRow row;
  row.local = s.local;
  row.accept_queue = s.rqueue;
  row.accept_queue_limit = s.wqueue;
  row.inode = s.inode;
  row.owner = owner_of(s);
  if (row.owner != nullptr) {  // a process's row counts its listeners too
    auto& p = processes_[row.owner->pid];
    p.pid = row.owner->pid;
    if (p.command.empty()) p.command = row.owner->command;
    ++p.states[state_index(s.state)];
  }
  remember(s, snap_.listeners.size());
  snap_.listeners.push_back(std::move(row));
  auto& counts = s.family == AF_INET6 ? snap_.v6 : snap_.v4;
  ++counts[state_index(s.state)];
  ++snap_.sockets;
  ports_[{false, s.local.port}];  // a listening port has a row even with no connections
}

void Aggregator::know_listener(const SocketRecord& s) { remember(s, static_cast<std::size_t>(-1)); }

void Aggregator::add(const SocketRecord& s) {
  if (s.state == tcp_state::kListen) {
    add_listener(s);
    return;
  }
  const std::size_t st = state_index(s.state);
  (s.family == AF_INET6 ? snap_.v6 : snap_.v4)[st]++;
  ++snap_.sockets;

  const bool in = incoming(s);
  const std::pair<bool, std::uint16_t> port_key{!in, in ? s.local.port : s.remote.port};
  if (last_port_counts_ == nullptr || port_key != last_port_key_) {
    last_port_counts_ = &ports_[port_key];  // std::map: the node stays where it is
    last_port_key_ = port_key;
  }
  ++(*last_port_counts_)[st];

  if (st == tcp_state::kSynRecv) {
    syn_sources_.add(s.remote.address);
    const Listening* l = listener_for(plain(s.local.address), s.local.port);
    if (l != nullptr && l->row < snap_.listeners.size()) ++snap_.listeners[l->row].syn_recv;
  }
  if (st == tcp_state::kEstablished) est_peers_.add(s.remote.address);
  if (st == tcp_state::kTimeWait && !in) tw_dest_.add(s.remote.to_string());

  const ProcessEntry* owner = owner_of(s);
  if (owner != nullptr) {
    auto& row = processes_[owner->pid];
    row.pid = owner->pid;
    if (row.command.empty()) row.command = owner->command;
    ++row.states[st];
  }
  if (st == tcp_state::kCloseWait) {
    const pid_t pid = owner != nullptr ? owner->pid : 0;
    auto& cw = close_wait_[{pid, s.local.port}];
    cw.pid = pid;
    cw.port = s.local.port;
    if (owner != nullptr) cw.command = owner->command;
    ++cw.count;
  }
  // Only sockets that carry data: a SYN in flight counts as one byte of Send-Q.
  const bool carries_data = st != tcp_state::kSynSent && st != tcp_state::kSynRecv &&
                            st != tcp_state::kTimeWait;
  // After the peer's FIN, Recv-Q counts the FIN itself as one byte.
  const bool fin_received = st == tcp_state::kCloseWait || st == tcp_state::kLastAck ||
                            st == tcp_state::kClosing;
  if (carries_data && s.rqueue > (fin_received ? 1u : 0u)) keep_top(snap_.top_recv_q, s, s.rqueue, true);
  if (carries_data && s.wqueue > 0) keep_top(snap_.top_send_q, s, s.wqueue, false);
}

void Aggregator::keep_top(std::vector<TopSocket>& top, const SocketRecord& s,
                          std::uint32_t key_of_new, bool by_recv) {
  auto key = [by_recv](const TopSocket& t) { return by_recv ? t.socket.rqueue : t.socket.wqueue; };
  // The list stays sorted, largest first; it is at most top_n long, so a linear insert is fine.
  if (top.size() == top_n_ && key(top.back()) >= key_of_new) return;
  TopSocket t{s, owner_of(s)};
  auto pos = std::find_if(top.begin(), top.end(),
                          [&](const TopSocket& x) { return key(x) < key_of_new; });
  top.insert(pos, std::move(t));
  if (top.size() > top_n_) top.pop_back();
}

Snapshot Aggregator::finish() {
  for (const auto& [key, states] : ports_) {
    snap_.ports.push_back({key.second, key.first, states});
  }
  auto total = [](const PortRow& p) {
    std::uint64_t n = 0;
    for (auto c : p.states) n += c;
    return n;
  };
  std::stable_sort(snap_.ports.begin(), snap_.ports.end(),
                   [&](const PortRow& a, const PortRow& b) { return total(a) > total(b); });
  for (auto& [pid, row] : processes_) snap_.processes.push_back(std::move(row));
  snap_.syn_recv_by_source = top_of(syn_sources_.counts, top_peers_);
  snap_.established_by_peer = top_of(est_peers_.counts, top_peers_);
  snap_.time_wait_by_destination = top_of(tw_dest_.counts, top_peers_);
  for (auto& [key, cw] : close_wait_) snap_.close_wait.push_back(std::move(cw));
  std::sort(snap_.close_wait.begin(), snap_.close_wait.end(),
            [](const Snapshot::CloseWait& a, const Snapshot::CloseWait& b) {
              return a.count != b.count ? a.count > b.count : a.pid < b.pid;
            });
  return std::move(snap_);
}

}  // namespace connscope::inspect
