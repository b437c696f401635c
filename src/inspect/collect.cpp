#include "inspect/collect.h"

#include "core/error_text.h"

#include <arpa/inet.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <unordered_set>

#include "core/error_text.h"
#include "sys/proc_net.h"
#include "sys/sysctl.h"

namespace connscope::inspect {

namespace {

namespace fs = std::filesystem;
using sys::tcp_state_bit;

// The states a connection can be in, 1 (ESTABLISHED) to 12 (NEW_SYN_RECV). Linux 6.9 added 13,
// TCP_BOUND_INACTIVE (bound, neither listening nor connecting): asking for it (as an all-ones
// mask does) makes the kernel walk its whole bind table before the connections, visiting every
// bound socket (10-15 ms of a 0.1 s dump at 60,000 sockets; the floor dump does not ask), and
// inspect has no state to count such a socket under.
constexpr std::uint32_t kConnectionStates = ((1u << 13) - 1) & ~1u;

constexpr const char* kProcFiles[] = {"net/netstat", "net/snmp", "net/snmp6", "net/sockstat",
                                      "net/sockstat6"};
constexpr const char* kSysctls[] = {"net.ipv4.tcp_max_orphans", "net.ipv4.ip_local_port_range",
                                    "net.ipv4.tcp_max_syn_backlog", "net.ipv4.tcp_syncookies",
                                    "net.core.somaxconn"};

// Copies what a sample reads from /proc into `dir`, so the recording is what was read.
Result<void> copy_sample(const std::string& dir) {
  for (const char* rel : kProcFiles) {
    auto text = sys::read_file(std::string("/proc/") + rel);
    if (!text) {
      if (text.error().code == ENOENT) continue;  // no IPv6: the recording has none either
      return std::unexpected(text.error());
    }
    const fs::path out = fs::path(dir) / rel;
    std::error_code ec;
    fs::create_directories(out.parent_path(), ec);
    std::ofstream f(out, std::ios::binary);
    f << *text;
    if (!f.flush()) return fail_text(out.string(), Msg::err_write_recording, {}, EIO);
  }
  for (const char* name : kSysctls) {
    auto value = sys::read_sysctl(name);
    if (!value) continue;
    const fs::path out = sys::sysctl_path(name, dir);
    std::error_code ec;
    fs::create_directories(out.parent_path(), ec);
    std::ofstream f(out, std::ios::binary);
    f << *value << "\n";
    if (!f.flush()) return fail_text(out.string(), Msg::err_write_recording, {}, EIO);
  }
  return {};
}

struct Sample {
  sys::Counters counters;
  std::optional<sys::SocketSummary> sockstat;
  std::chrono::steady_clock::time_point at;
};

Result<Sample> take_sample(const std::string& proc_root) {
  Sample s;
  s.at = std::chrono::steady_clock::now();
  auto counters = sys::read_counters(proc_root);
  if (!counters) return std::unexpected(counters.error());
  s.counters = std::move(*counters);
  if (auto sum = sys::read_socket_summary(proc_root)) s.sockstat = std::move(*sum);
  return s;
}

// Streams a dump's messages through the parser into `each`.
Result<void> dump_into(sys::DumpSource& dumps, const sys::InetDiagRequest& req,
                       const std::function<void(const SocketRecord&)>& each) {
  auto stats = dumps.dump(req, [&](std::span<const std::byte> msg) -> Result<void> {
    auto rec = parse_sock_diag_message(msg, req.protocol);
    if (!rec) return std::unexpected(rec.error());
    each(*rec);
    return {};
  });
  if (!stats) return std::unexpected(stats.error());
  return {};
}

// The kernel's key for an exact lookup of a socket seen in a dump.
std::optional<sys::InetDiagSocketId> socket_id(const SocketRecord& s) {
  sys::InetDiagSocketId id;
  id.local_port = s.local.port;
  id.remote_port = s.remote.port;
  id.interface = s.interface;
  id.cookie = s.cookie;
  if (inet_pton(s.family, s.local.address.c_str(), id.local) != 1) return std::nullopt;
  if (inet_pton(s.family, s.remote.address.c_str(), id.remote) != 1) return std::nullopt;
  return id;
}

// tcp_info for the top-N sockets only: asking for it in the full dump makes the kernel lock
// and read every socket (12 % of inspect's time at 200k sockets). A socket that closed since
// the dump keeps no tcp_info.
Result<void> add_tcp_info(sys::DumpSource& dumps, Aggregator& agg) {
  Result<void> status;
  agg.for_each_top([&](SocketRecord& s) {
    if (!status || s.kind != SocketKind::full || s.tcp_info) return;
    auto id = socket_id(s);
    if (!id) return;
    sys::InetDiagRequest r;
    r.family = s.family;
    r.protocol = s.protocol;
    r.tcp_info = true;
    r.exact = *id;
    auto got = dump_into(dumps, r, [&](const SocketRecord& found) {
      if (found.cookie == s.cookie) s.tcp_info = found.tcp_info;
    });
    if (!got && got.error().code != ENOENT) status = std::unexpected(got.error());
  });
  return status;
}

sys::InetDiagRequest request(int family, std::uint32_t states, bool tcp_info,
                             const CollectOptions& o) {
  sys::InetDiagRequest r;
  r.family = family;
  r.protocol = IPPROTO_TCP;
  r.states = states;
  r.tcp_info = tcp_info;
  if (o.port) r.bytecode = bytecode_local_port(*o.port);
  return r;
}

}  // namespace

Result<std::uint32_t> parse_state_filter(std::string_view text) {
  std::string t;
  for (char c : text) t += c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  using namespace tcp_state;
  const std::pair<const char*, std::uint32_t> names[] = {
      {"established", tcp_state_bit(kEstablished)},
      {"syn-sent", tcp_state_bit(kSynSent)},
      {"syn-recv", tcp_state_bit(kSynRecv) | tcp_state_bit(kNewSynRecv)},
      {"fin-wait-1", tcp_state_bit(kFinWait1)},
      {"fin-wait1", tcp_state_bit(kFinWait1)},
      {"fin-wait-2", tcp_state_bit(kFinWait2)},
      {"fin-wait2", tcp_state_bit(kFinWait2)},
      {"time-wait", tcp_state_bit(kTimeWait)},
      {"closed", tcp_state_bit(kClose)},
      {"close-wait", tcp_state_bit(kCloseWait)},
      {"last-ack", tcp_state_bit(kLastAck)},
      {"listen", tcp_state_bit(kListen)},
      {"listening", tcp_state_bit(kListen)},
      {"closing", tcp_state_bit(kClosing)},
      {"all", sys::kAllTcpStates},
      {"connected", sys::kAllTcpStates & ~(tcp_state_bit(kListen) | tcp_state_bit(kClose) |
                                           tcp_state_bit(kSynRecv) | tcp_state_bit(kNewSynRecv))},
      {"synchronized", sys::kAllTcpStates & ~(tcp_state_bit(kListen) | tcp_state_bit(kClose) |
                                              tcp_state_bit(kSynSent) | tcp_state_bit(kSynRecv) |
                                              tcp_state_bit(kNewSynRecv))},
  };
  std::uint32_t mask = 0;
  std::size_t pos = 0;
  while (pos <= t.size()) {
    auto end = t.find(',', pos);
    if (end == std::string::npos) end = t.size();
    const std::string one = t.substr(pos, end - pos);
    bool found = false;
    for (const auto& [name, bits] : names) {
      if (one == name) {
        mask |= bits;
        found = true;
      }
    }
    if (!found) {
      return fail_text("--state \"" + std::string(text) + "\"", Msg::err_unknown_state,
                       {{"state", one},
                        {"known", "established, syn-sent, syn-recv, fin-wait-1, fin-wait-2, time-wait, "
                                  "close-wait, last-ack, listen, closing, all, connected, synchronized"}});
    }
    pos = end + 1;
  }
  return mask;
}

Result<Collected> collect(sys::DumpSource& dumps, const CollectOptions& o, Lang lang,
                          const std::function<void(std::chrono::nanoseconds)>& sleep) {
  Collected out;
  const bool two_samples = o.interval.count() > 0;
  std::string first_proc = o.first_proc;
  std::string second_proc = o.second_proc;
  if (!o.record_dir.empty()) {
    first_proc = o.record_dir + "/first";
    second_proc = o.record_dir + "/second";
  }

  // Owners first: a socket opened after the scan has no owner, which is better than naming a
  // process that has since closed it.
  if (o.owner_records) {
    auto table = parse_owner_records(*o.owner_records);
    if (!table) return std::unexpected(table.error());
    out.owners = std::move(*table);
  } else if (o.owners) {
    auto table = scan_owners();
    if (!table) return std::unexpected(table.error());
    out.owners = std::move(*table);
  }
  if (out.owners && out.owners->unreadable() > 0) {
    out.notes.push_back(tr(lang, Msg::inspect_note_owners_need_root, out.owners->unreadable()));
  }
  if (!o.owners && !o.owner_records) out.notes.push_back(tr(lang, Msg::inspect_note_no_owners));

  if (!o.record_dir.empty()) {
    if (auto r = copy_sample(first_proc); !r) return std::unexpected(r.error());
  }
  auto first = take_sample(first_proc);
  if (!first) return std::unexpected(first.error());

  if (auto range = sys::read_sysctl("net.ipv4.ip_local_port_range", first_proc)) {
    out.local_port_range = sys::parse_port_range(*range);
  }
  // Linux's default range when the setting cannot be read.
  Aggregator agg(out.owners ? &*out.owners : nullptr, 10, 5,
                 out.local_port_range.value_or(std::pair<std::uint16_t, std::uint16_t>{32768, 60999}));
  const OwnerTable* owners = out.owners ? &*out.owners : nullptr;
  auto owned_by_filter = [&](const SocketRecord& s) {
    if (!o.pid) return true;
    if (owners == nullptr || !s.inode) return false;
    const auto* p = owners->owner(*s.inode);
    return p != nullptr && p->pid == *o.pid;
  };
  std::unordered_set<std::uint64_t> seen_inodes;  // for the recording's owners
  auto note_inode = [&](const SocketRecord& s) {
    if (!o.record_dir.empty() && s.inode) seen_inodes.insert(*s.inode);
  };
  std::map<std::string, std::uint32_t> first_queue;  // listener -> accept queue at sample 1
  // Cookies of the CLOSE_WAIT sockets in the full dump, to see which are still there at the
  // second sample (8 bytes per CLOSE_WAIT socket).
  std::unordered_set<std::uint64_t> close_wait_cookies;
  // A LISTEN-only mask walks just the listening hash; AF_UNSPEC walks it once for both families.
  {
    auto r = dump_into(dumps, request(AF_UNSPEC, tcp_state_bit(tcp_state::kListen), false, o),
                       [&](const SocketRecord& s) {
                         if (!owned_by_filter(s)) {
                           agg.know_listener(s);  // still tells the shown sockets' directions
                           return;
                         }
                         first_queue[s.local.to_string()] = s.rqueue;
                         note_inode(s);
                         agg.add_listener(s);
                         if (o.keep_sockets) out.sockets.push_back(s);
                       });
    if (!r) return std::unexpected(r.error());
  }
  // UDP has no LISTEN: a bound socket that is not connected is the UDP form of a listener.
  for (int family : {AF_INET, AF_INET6}) {
    auto req = request(family, tcp_state_bit(tcp_state::kClose), false, o);
    req.protocol = IPPROTO_UDP;
    auto r = dump_into(dumps, req, [&](const SocketRecord& s) {
      if (!owned_by_filter(s)) return;
      note_inode(s);
      out.udp_listeners.push_back(s);
    });
    if (!r) return std::unexpected(r.error());
  }
  if (!o.listeners_only) {
    const std::uint32_t states = o.states & kConnectionStates & ~tcp_state_bit(tcp_state::kListen);
    if (states != 0) {
      // tcp_info for every socket only when every socket is listed (--all, like ss -i).
      auto full = request(AF_UNSPEC, states, o.keep_sockets, o);
      full.overlap = true;
      auto r = dump_into(dumps, full,
                         [&](const SocketRecord& s) {
                           if (!owned_by_filter(s)) return;
                           note_inode(s);
                           if (two_samples && s.state == tcp_state::kCloseWait) close_wait_cookies.insert(s.cookie);
                           agg.add(s);
                           if (o.keep_sockets) out.sockets.push_back(s);
                         });
      if (!r) return std::unexpected(r.error());
      if (auto t = add_tcp_info(dumps, agg); !t) return std::unexpected(t.error());
    }
  }

  Sample second = std::move(*first);
  std::map<std::pair<pid_t, std::uint16_t>, std::uint64_t> still_close_wait;  // (pid, port)
  std::map<std::string, std::uint32_t> second_queue = first_queue;
  if (two_samples) {
    const auto spent = std::chrono::steady_clock::now() - second.at;
    if (spent < o.interval) sleep(o.interval - spent);
    if (!o.record_dir.empty()) {
      if (auto r = copy_sample(second_proc); !r) return std::unexpected(r.error());
    }
    auto again = take_sample(second_proc);
    if (!again) return std::unexpected(again.error());
    second_queue.clear();
    auto r = dump_into(dumps, request(AF_UNSPEC, tcp_state_bit(tcp_state::kListen), false, o),
                       [&](const SocketRecord& s) { second_queue[s.local.to_string()] = s.rqueue; });
    if (!r) return std::unexpected(r.error());
    if (!close_wait_cookies.empty()) {
      auto cw = dump_into(dumps, request(AF_UNSPEC, tcp_state_bit(tcp_state::kCloseWait), false, o),
                          [&](const SocketRecord& s) {
                            if (!close_wait_cookies.contains(s.cookie)) return;
                            const ProcessEntry* p = owners != nullptr && s.inode ? owners->owner(*s.inode) : nullptr;
                            ++still_close_wait[{p != nullptr ? p->pid : 0, s.local.port}];
                          });
      if (!cw) return std::unexpected(cw.error());
    }
    // On replay the recorded interval is what the rates are over, not the (skipped) sleep.
    const auto dt = o.is_replay ? o.interval : again->at - second.at;
    auto rates = sys::compute_counter_rates(second.counters, again->counters, dt);
    if (!rates) return std::unexpected(rates.error());
    out.rates = *rates;
    out.interval = std::chrono::duration_cast<std::chrono::nanoseconds>(dt);
    out.interval_s = std::chrono::duration<double>(dt).count();
    // The short names the rules use, for every counter both samples have.
    for (const auto& [key, after] : again->counters) {
      const auto it = second.counters.find(key);
      if (it == second.counters.end() || after < it->second) continue;
      const auto dot = key.find('.');
      const std::string shortname = dot == std::string::npos ? key : key.substr(dot + 1);
      out.rule_rates[shortname] = static_cast<double>(after - it->second) / out.interval_s;
    }
    second = std::move(*again);
  }
  out.counters = std::move(second.counters);
  out.sockstat = std::move(second.sockstat);

  out.snapshot = agg.finish();
  if (two_samples) {
    for (auto& cw : out.snapshot.close_wait) {
      const auto it = still_close_wait.find({cw.pid, cw.port});
      cw.persisting = it == still_close_wait.end() ? 0 : it->second;
    }
  }
  for (auto& l : out.snapshot.listeners) {
    const auto key = l.local.to_string();
    const std::uint32_t at_first = first_queue.count(key) ? first_queue[key] : 0;
    if (auto it = second_queue.find(key); it != second_queue.end()) l.accept_queue = it->second;
    out.listener_full_at_first.push_back(l.accept_queue_limit > 0 && at_first >= l.accept_queue_limit);
  }

  for (const char* name : kSysctls) {
    if (auto v = sys::read_sysctl(name, second_proc)) out.sysctls[name] = *v;
  }

  if (!o.record_dir.empty() && out.owners) {
    std::ofstream f(fs::path(o.record_dir) / "owners.txt", std::ios::binary);
    f << format_owner_records(*out.owners, &seen_inodes);
    if (!f.flush()) return fail_text(o.record_dir + "/owners.txt", Msg::err_write_recording, {}, EIO);

  }
  return out;
}

}  // namespace connscope::inspect
