#include "watch/listener_drops.h"

#include "core/error_text.h"

#include <fstream>
#include <sstream>

#include "sys/proc_counters.h"

namespace connscope::watch {

namespace {

std::int64_t counter(const sys::Counters& c, std::string_view key) {
  const auto it = c.find(key);
  return it == c.end() ? 0 : it->second;
}

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return fail_text(path, Msg::err_read, {}, errno);

  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

std::vector<Event> listener_drop_events(const ListenerSample& before, const ListenerSample& now) {
  std::map<std::uint64_t, std::uint32_t> base;
  for (const auto& l : before.listeners)
    if (l.drops) base[l.cookie] = *l.drops;
  const bool only_syn_queue = now.syn_queue_drops > before.syn_queue_drops &&
                              now.listen_overflows <= before.listen_overflows;
  std::vector<Event> out;
  for (const auto& l : now.listeners) {
    const auto it = base.find(l.cookie);
    if (!l.drops || it == base.end() || *l.drops <= it->second) continue;
    Event e;
    e.time = now.time;
    e.kind = only_syn_queue ? EventKind::syn_queue_drop : EventKind::accept_overflow;
    e.protocol = IPPROTO_TCP;
    e.source = l.local;
    e.count = *l.drops - it->second;
    e.backlog = l.rqueue;
    e.max_backlog = l.wqueue;
    e.inode = l.inode;
    out.push_back(std::move(e));
  }
  return out;
}

Result<ListenerSampler> ListenerSampler::open(std::string proc_root) {
  auto s = sys::SockDiagSocket::open();
  if (!s) return std::unexpected(s.error());
  return ListenerSampler(std::move(*s), std::move(proc_root));
}

Result<ListenerSample> ListenerSampler::sample() {
  ListenerSample out;
  out.time = std::chrono::system_clock::now();
  for (const int family : {AF_INET, AF_INET6}) {
    sys::InetDiagRequest req;
    req.family = family;
    req.states = sys::tcp_state_bit(inspect::tcp_state::kListen);
    req.meminfo = true;
    auto r = socket_.dump(req, [&](std::span<const std::byte> m) -> Result<void> {
      auto rec = inspect::parse_sock_diag_message(m, IPPROTO_TCP);
      if (!rec) return std::unexpected(rec.error());
      out.listeners.push_back(std::move(*rec));
      return {};
    });
    // A kernel without IPv6 has no table to dump.
    if (!r && !(family == AF_INET6 && r.error().code == ENOENT)) return std::unexpected(r.error());
  }
  const std::string path = proc_root_ + "/net/netstat";
  auto text = read_file(path);
  if (!text) return std::unexpected(text.error());
  auto counters = sys::parse_counter_table(*text, path);
  if (!counters) return std::unexpected(counters.error());
  out.listen_overflows = counter(*counters, "TcpExt.ListenOverflows");
  out.syn_queue_drops = counter(*counters, "TcpExt.TCPReqQFullDrop");
  return out;
}

}  // namespace connscope::watch
