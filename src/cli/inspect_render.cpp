#include "cli/inspect_render.h"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <iterator>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/findings_text.h"
#include "core/display_width.h"
#include "core/duration.h"
#include "rules/findings_json.h"
#include "sys/proc_counters.h"

namespace connscope::cli {

namespace {

using inspect::Collected;
using inspect::StateCounts;
namespace ts = inspect::tcp_state;

// The states shown, in the order a connection lives through them.
constexpr int kStateOrder[] = {ts::kListen,   ts::kSynSent,   ts::kSynRecv,  ts::kEstablished,
                               ts::kFinWait1, ts::kFinWait2,  ts::kClosing,  ts::kTimeWait,
                               ts::kCloseWait, ts::kLastAck,  ts::kClose};
// The columns of the per-port and per-process tables.
constexpr int kTableStates[] = {ts::kSynSent, ts::kEstablished, ts::kSynRecv, ts::kTimeWait, ts::kCloseWait,
                                ts::kFinWait1,    ts::kFinWait2, ts::kLastAck};

std::uint64_t at(const StateCounts& c, int state) { return c[static_cast<std::size_t>(state)]; }

std::string owner_text(const inspect::ProcessEntry* p) {
  return p == nullptr ? std::string("-") : fmt::format("{}/{}", p->command, p->pid);
}

std::string tcp_info_text(const inspect::SocketRecord& s) {
  if (!s.tcp_info) return "-";
  const auto& t = *s.tcp_info;
  std::string out;
  // ss prints rtt in ms with 3 decimals: loopback and LAN rtts are tens of microseconds.
  if (t.rtt_us) out += fmt::format("rtt {:.3f}ms ", *t.rtt_us / 1000.0);
  if (t.total_retrans) out += fmt::format("retrans {} ", *t.total_retrans);
  if (t.snd_cwnd) out += fmt::format("cwnd {} ", *t.snd_cwnd);
  if (t.unacked) out += fmt::format("unacked {}", *t.unacked);
  return out.empty() ? "-" : out;
}

const inspect::ProcessEntry* owner_of(const Collected& c, const inspect::SocketRecord& s) {
  if (!c.owners || !s.inode) return nullptr;
  return c.owners->owner(*s.inode);
}

// The JSON of docs/json.md, written as it is rendered (a --all listing of 200,000 sockets is
// never held whole). Keys are written in sorted order, as the nlohmann::json tree this replaced
// did, so the bytes are unchanged.
class InspectJson {
 public:
  InspectJson(JsonStream& w, const Collected& c) : w_(w), c_(c) {
    // The state names in key order.
    for (std::size_t i = 0; i < state_keys_.size(); ++i) state_keys_[i] = {inspect::tcp_state_name(kStateOrder[i]), kStateOrder[i]};
    std::sort(state_keys_.begin(), state_keys_.end());
  }

  void write(const std::vector<rules::Finding>& findings) {
    const auto& snap = c_.snapshot;
    w_.begin_object();
    counters();
    w_.key("findings");
    w_.value(rules::findings_json(findings));
    w_.member("interval_s", c_.interval_s);
    w_.key("listeners");
    w_.begin_array();
    for (const auto& l : snap.listeners) {
      w_.begin_object();
      w_.member("accept_queue", l.accept_queue);
      w_.member("accept_queue_limit", l.accept_queue_limit);
      w_.member("address", l.local.address);
      command(l.owner);
      w_.member("family", family(l.local.family));
      pid(l.owner);
      w_.member("port", l.local.port);
      w_.member("syn_recv", l.syn_recv);
      w_.end_object();
    }
    w_.end_array();
    w_.key("notes");
    w_.begin_array();
    for (const auto& n : c_.notes) w_.value(n);
    w_.end_array();
    w_.key("ports");
    w_.begin_array();
    for (const auto& p : snap.ports) {
      w_.begin_object();
      w_.member("direction", p.outgoing ? "outgoing" : "incoming");
      w_.member("port", p.port);
      w_.key("states");
      states(p.states);
      w_.end_object();
    }
    w_.end_array();
    w_.key("processes");
    w_.begin_array();
    for (const auto& p : snap.processes) {
      w_.begin_object();
      w_.member("command", p.command);
      w_.member("pid", p.pid);
      w_.key("states");
      states(p.states);
      w_.end_object();
    }
    w_.end_array();
    if (!c_.sockets.empty()) {
      w_.key("socket_list");
      w_.begin_array();
      for (const auto& s : c_.sockets) socket(s, owner_of(c_, s));
      w_.end_array();
    }
    w_.member("sockets", snap.sockets);
    StateCounts total{};
    for (std::size_t i = 0; i < total.size(); ++i) total[i] = snap.v4[i] + snap.v6[i];
    w_.key("states");
    states(total);
    w_.key("states_by_family");
    w_.begin_object();
    w_.key("ipv4");
    states(snap.v4);
    w_.key("ipv6");
    states(snap.v6);
    w_.end_object();
    w_.key("top_peers");
    w_.begin_object();
    peers("established", snap.established_by_peer);
    peers("syn_recv", snap.syn_recv_by_source);
    peers("time_wait_destinations", snap.time_wait_by_destination);
    w_.end_object();
    w_.key("top_recv_q");
    w_.begin_array();
    for (const auto& t : snap.top_recv_q) socket(t.socket, t.owner);
    w_.end_array();
    w_.key("top_send_q");
    w_.begin_array();
    for (const auto& t : snap.top_send_q) socket(t.socket, t.owner);
    w_.end_array();
    w_.key("udp_listeners");
    w_.begin_array();
    for (const auto& u : c_.udp_listeners) {
      const auto* owner = owner_of(c_, u);
      w_.begin_object();
      w_.member("address", u.local.address);
      command(owner);
      w_.member("family", family(u.family));
      pid(owner);
      w_.member("port", u.local.port);
      w_.member("recv_q", u.rqueue);
      w_.end_object();
    }
    w_.end_array();
    w_.end_object();
  }

 private:
  static const char* family(int f) { return f == AF_INET6 ? "ipv6" : "ipv4"; }

  void command(const inspect::ProcessEntry* p) {
    w_.key("command");
    if (p == nullptr) {
      w_.null();
    } else {
      w_.value(p->command);
    }
  }
  void pid(const inspect::ProcessEntry* p) {
    w_.key("pid");
    if (p == nullptr) {
      w_.null();
    } else {
      w_.value(p->pid);
    }
  }

  void states(const StateCounts& counts) {
    w_.begin_object();
    for (const auto& [name, state] : state_keys_) w_.member(name, at(counts, state));
    w_.end_object();
  }

  void peers(std::string_view name, const std::vector<inspect::PeerCount>& v) {
    w_.key(name);
    w_.begin_array();
    for (const auto& p : v) {
      w_.begin_object();
      w_.member("address", p.address);
      w_.member("count", p.count);
      w_.end_object();
    }
    w_.end_array();
  }

  void socket(const inspect::SocketRecord& s, const inspect::ProcessEntry* owner) {
    w_.begin_object();
    command(owner);
    w_.member("family", family(s.family));
    w_.member("local", s.local.to_string());
    pid(owner);
    w_.member("recv_q", s.rqueue);
    w_.member("remote", s.remote.to_string());
    w_.member("send_q", s.wqueue);
    w_.member("state", s.state_name());
    if (s.tcp_info) {
      const auto& t = *s.tcp_info;
      w_.key("tcp_info");
      w_.begin_object();
      if (t.snd_cwnd) w_.member("cwnd", *t.snd_cwnd);
      if (t.total_retrans) w_.member("retransmits_total", *t.total_retrans);
      if (t.rtt_us) w_.member("rtt_us", *t.rtt_us);
      if (t.unacked) w_.member("unacked", *t.unacked);
      w_.end_object();
    }
    w_.end_object();
  }

  void counters() {
    // By short name, in key order.
    std::vector<std::pair<std::string, sys::RateCounter>> names;
    for (std::size_t i = 0; i < sys::kRateCounterCount; ++i) {
      const auto rc = static_cast<sys::RateCounter>(i);
      const std::string_view key = sys::rate_counter_key(rc);
      names.emplace_back(std::string(key.substr(key.find('.') + 1)), rc);
    }
    std::sort(names.begin(), names.end());
    w_.key("counters");
    w_.begin_object();
    for (const auto& [name, rc] : names) {
      w_.key(name);
      w_.begin_object();
      if (c_.rates) {
        const auto& r = (*c_.rates)[rc];
        w_.key("per_second");
        if (r.status == sys::RateStatus::ok) {
          w_.value(r.per_second);
        } else {
          w_.null();
        }
        w_.member("status", r.status == sys::RateStatus::ok               ? "ok"
                            : r.status == sys::RateStatus::went_backwards ? "went_backwards"
                                                                          : "missing");
      }
      w_.key("total");
      if (auto it = c_.counters.find(std::string(sys::rate_counter_key(rc))); it != c_.counters.end()) {
        w_.value(it->second);
      } else {
        w_.null();
      }
      w_.end_object();
    }
    w_.end_object();
  }

  JsonStream& w_;
  const Collected& c_;
  std::array<std::pair<std::string_view, int>, std::size(kStateOrder)> state_keys_{};
};

std::string bar(std::uint64_t n, std::uint64_t max, std::size_t width = 30) {
  if (max == 0 || n == 0) return {};
  const auto len = std::max<std::size_t>(1, static_cast<std::size_t>(static_cast<double>(n) / static_cast<double>(max) * static_cast<double>(width)));
  std::string out;
  for (std::size_t i = 0; i < len; ++i) out += "\u2588";
  return out;
}

}  // namespace

void write_inspect_json(JsonStream& w, const Collected& c, const std::vector<rules::Finding>& findings) {
  InspectJson(w, c).write(findings);
}

std::string render_inspect_text(const Collected& c, const std::vector<rules::Finding>& findings, bool listen_only,
                                const Style& st, Lang lang) {
  const auto& snap = c.snapshot;
  std::string out;
  auto line = [&out](const std::string& s) { out += s + "\n"; };

  if (!listen_only) {
    line(st.bold(tr(lang, Msg::inspect_states_title)));
    line(fmt::format("  {:<12} {:>9} {:>9} {}", "", "IPv4", "IPv6", pad_left(tr(lang, Msg::inspect_col_total), 9)));
    std::uint64_t max = 0;
    for (int s : kStateOrder) max = std::max(max, snap.total(s));
    for (int s : kStateOrder) {
      const auto n = snap.total(s);
      if (n == 0) continue;
      line(fmt::format("  {:<12} {:>9} {:>9} {:>9}  {}", inspect::tcp_state_name(s), at(snap.v4, s),
                       at(snap.v6, s), n, st.dim(bar(n, max))));
    }
    line("");
  }

  line(st.bold(tr(lang, Msg::inspect_listeners_title)));
  const auto process_col = tr(lang, Msg::inspect_col_process);
  line(fmt::format("  {} {} {:>8}  {}", pad_right(tr(lang, Msg::inspect_col_address), 40),
                   pad_left(tr(lang, Msg::inspect_col_queue), 13), "SYN_RECV", process_col));
  for (const auto& l : snap.listeners) {
    std::string queue = fmt::format("{}/{}", l.accept_queue, l.accept_queue_limit);
    if (l.accept_queue_limit > 0 && l.accept_queue >= l.accept_queue_limit) queue = st.red(queue);
    line(fmt::format("  {:<40} {:>13} {:>8}  {}", l.local.to_string(), queue, l.syn_recv, owner_text(l.owner)));
  }
  line("");
  if (!c.udp_listeners.empty()) {
    line(st.bold(tr(lang, Msg::inspect_udp_title)));
    line(fmt::format("  {} {:>13} {:>8}  {}", pad_right(tr(lang, Msg::inspect_col_address), 40), "RECV-Q", "",
                     process_col));
    for (const auto& u : c.udp_listeners) {
      line(fmt::format("  {:<40} {:>13} {:>8}  {}", u.local.to_string(), u.rqueue, "",
                       owner_text(owner_of(c, u))));
    }
    line("");
  }

  if (!listen_only) {
    // A process's row also counts its listeners; a port's row is the port of its listener.
    auto header = [&](Msg first, bool with_listen = false) {
      std::string h = "  " + pad_right(tr(lang, first), 22);
      if (with_listen) h += fmt::format(" {:>11}", "LISTEN");
      for (int s : kTableStates) h += fmt::format(" {:>11}", inspect::tcp_state_name(s));
      line(h);
    };
    auto row = [&](const std::string& name, const StateCounts& counts, bool with_listen = false) {
      std::string r = fmt::format("  {:<22}", name);
      if (with_listen) r += fmt::format(" {:>11}", at(counts, inspect::tcp_state::kListen));
      for (int s : kTableStates) r += fmt::format(" {:>11}", at(counts, s));
      line(r);
    };
    if (!snap.ports.empty()) {
      line(st.bold(tr(lang, Msg::inspect_ports_title)));
      header(Msg::inspect_col_port);
      // The busiest first; the full list is in --json.
      constexpr std::size_t kMaxRows = 15;
      for (std::size_t i = 0; i < snap.ports.size() && i < kMaxRows; ++i) {
        const auto& p = snap.ports[i];
        row(p.outgoing ? fmt::format("-> :{}", p.port) : fmt::format(":{}", p.port), p.states);
      }
      line("");
    }
    if (!snap.processes.empty()) {
      line(st.bold(tr(lang, Msg::inspect_processes_title)));
      header(Msg::inspect_col_process, true);
      for (const auto& p : snap.processes) row(fmt::format("{}/{}", p.command, p.pid), p.states, true);
      line("");
    }
    if (!snap.syn_recv_by_source.empty() || !snap.established_by_peer.empty() ||
        !snap.time_wait_by_destination.empty()) {
      line(st.bold(tr(lang, Msg::inspect_peers_title)));
      auto peers = [&](Msg what, const std::vector<inspect::PeerCount>& v) {
        const auto label = pad_right(tr(lang, what), 16);
        for (const auto& p : v) line(fmt::format("  {} {:<40} {:>8}", label, p.address, p.count));
      };
      peers(Msg::inspect_peer_syn_recv, snap.syn_recv_by_source);
      peers(Msg::inspect_peer_established, snap.established_by_peer);
      peers(Msg::inspect_peer_time_wait, snap.time_wait_by_destination);
      line("");
    }
    auto top = [&](Msg title, const std::vector<inspect::TopSocket>& v) {
      if (v.empty()) return;
      line(st.bold(tr(lang, title)));
      line(fmt::format("  {:>9} {:>9}  {} -> {}  {}  TCP_INFO", "RECV-Q", "SEND-Q", tr(lang, Msg::inspect_col_local),
                       tr(lang, Msg::inspect_col_peer), process_col));
      for (const auto& t : v) {
        line(fmt::format("  {:>9} {:>9}  {} -> {}  {}  {}", t.socket.rqueue, t.socket.wqueue,
                         t.socket.local.to_string(), t.socket.remote.to_string(),
                         owner_text(t.owner), tcp_info_text(t.socket)));
      }
      line("");
    };
    top(Msg::inspect_recvq_title, snap.top_recv_q);
    top(Msg::inspect_sendq_title, snap.top_send_q);
  }

  line(st.bold(c.rates ? tr(lang, Msg::inspect_counters_title,
                            format_duration(std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::duration<double>(c.interval_s))))
                       : tr(lang, Msg::inspect_counters_totals_title)));
  for (std::size_t i = 0; i < sys::kRateCounterCount; ++i) {
    const auto rc = static_cast<sys::RateCounter>(i);
    const std::string key(sys::rate_counter_key(rc));
    const std::string name = key.substr(key.find('.') + 1);
    std::string value;
    if (c.rates) {
      const auto& r = (*c.rates)[rc];
      value = r.status == sys::RateStatus::ok ? fmt::format("{:.1f}/s", r.per_second)
              : r.status == sys::RateStatus::went_backwards ? tr(lang, Msg::inspect_went_backwards)
                                                            : tr(lang, Msg::inspect_missing);
      if (r.status == sys::RateStatus::ok && r.per_second > 0) value = st.yellow(value);
    } else if (auto it = c.counters.find(key); it != c.counters.end()) {
      value = std::to_string(it->second);
    } else {
      value = tr(lang, Msg::inspect_missing);
    }
    line(fmt::format("  {:<22} {}", name, value));
  }
  line("");

  if (!c.sockets.empty()) {
    line(st.bold(tr(lang, Msg::inspect_sockets_title)));
    line(fmt::format("  {} {:>8} {:>8}  {} {} {}", pad_right(tr(lang, Msg::inspect_col_state), 12), "RECV-Q",
                     "SEND-Q", pad_right(tr(lang, Msg::inspect_col_local), 45),
                     pad_right(tr(lang, Msg::inspect_col_peer), 45), process_col));
    for (const auto& s : c.sockets) {
      line(fmt::format("  {:<12} {:>8} {:>8}  {:<45} {:<45} {}", s.state_name(), s.rqueue, s.wqueue,
                       s.local.to_string(), s.remote.to_string(), owner_text(owner_of(c, s))));
    }
    line("");
  }

  line(st.bold(tr(lang, Msg::inspect_findings_title)));
  if (findings.empty()) line("  " + st.green(tr(lang, Msg::inspect_no_findings)));
  for (const auto& f : findings) line(finding_text(f, st, lang));
  for (const auto& n : c.notes) line(st.dim(tr(lang, Msg::inspect_note_line, n)));
  return out;
}

}  // namespace connscope::cli
