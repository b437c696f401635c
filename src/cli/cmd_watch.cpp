// `connscope watch`: the kernel's events on connections, as they happen (src/bpf), one line (or
// one JSON object) each, or a table refreshed every second (--summary).

#include "cli/cmd_watch.h"
#include "cli/findings_text.h"

#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fmt/format.h>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "bpf/kernel_btf.h"
#include "bpf/tracer.h"
#include "core/duration.h"
#include "core/number.h"
#include "inspect/owners.h"
#include "rules/event_rules.h"
#include "rules/findings_json.h"
#include "cli/stop_signals.h"
#include "sys/unique_fd.h"
#include "watch/event.h"
#include "watch/format.h"
#include "watch/listener_drops.h"
#include "watch/rate_limit.h"
#include "watch/summary.h"

namespace connscope::cli {

namespace {

struct WatchFlags {
  std::string port;
  std::string pid;
  std::string peer;
  std::string events;
  std::string duration;
  bool summary = false;
  std::uint32_t rate = watch::RateLimiter::kDefaultPerSecond;
};

// What the command line asked for, validated.
struct WatchPlan {
  bpf::TracerOptions tracer;
  std::vector<watch::EventGroup> groups;  // the --events groups, all by default
  bool overflow = false;  // listener drops asked for (made in user space)
  std::optional<std::chrono::nanoseconds> duration;
};

Result<WatchPlan> plan_from(const WatchFlags& f, Lang lang) {
  WatchPlan plan;
  if (!f.port.empty()) {
    auto p = parse_port(f.port, "--port");
    if (!p) return std::unexpected(p.error());
    plan.tracer.port = *p;
  }
  if (!f.pid.empty()) {
    auto p = parse_int(f.pid, "--pid", 1, 4194304);
    if (!p) return std::unexpected(p.error());
    plan.tracer.pid = static_cast<std::uint32_t>(*p);
  }
  if (!f.peer.empty()) {
    Endpoint peer;
    in6_addr a6{};
    in_addr a4{};
    if (::inet_pton(AF_INET, f.peer.c_str(), &a4) == 1) {
      peer.family = AF_INET;
    } else if (::inet_pton(AF_INET6, f.peer.c_str(), &a6) == 1) {
      peer.family = AF_INET6;
      // ::ffff:a.b.c.d is an IPv4 peer (events show it as a.b.c.d; the kernel matches both forms).
      if (IN6_IS_ADDR_V4MAPPED(&a6)) {
        std::memcpy(&a4, &a6.s6_addr[12], 4);
        char text[INET_ADDRSTRLEN] = {};
        ::inet_ntop(AF_INET, &a4, text, sizeof text);
        peer.family = AF_INET;
        peer.address = text;
      }
    } else {
      return fail("--peer \"" + f.peer + "\"", tr(lang, Msg::watch_not_address));
    }
    if (peer.address.empty()) peer.address = f.peer;
    plan.tracer.peer = peer;
  }
  plan.groups = {watch::EventGroup::state, watch::EventGroup::reset, watch::EventGroup::retransmit,
                 watch::EventGroup::drop, watch::EventGroup::overflow};
  if (!f.events.empty()) {
    auto g = watch::parse_groups(f.events, "--events");
    if (!g) return std::unexpected(g.error());
    plan.groups = *g;
  }
  for (auto g : plan.groups) {
    for (std::uint32_t kind = CS_EV_STATE; kind < CS_EV_KIND_MAX; ++kind) {
      if (watch::group_of(static_cast<watch::EventKind>(kind - CS_EV_STATE)) != g) continue;
      if (kind == CS_EV_ACCEPT_OVERFLOW || kind == CS_EV_SYN_QUEUE_DROP)
        plan.overflow = true;
      else
        plan.tracer.event_mask |= CS_EVENT_BIT(kind);
    }
  }
  if (!f.duration.empty()) {
    auto d = parse_duration(f.duration, "--duration");
    if (!d) return std::unexpected(d.error());
    plan.duration = *d;
  }
  return plan;
}

// The --events groups, as the command line names them ("state, reset, ...").
std::string groups_text(const std::vector<watch::EventGroup>& groups) {
  std::string out;
  for (auto g : groups) {
    if (!out.empty()) out += ", ";
    out += watch::group_name(g);
  }
  return out;
}

std::chrono::nanoseconds monotonic_to_wall() {
  timespec mono{}, real{};
  ::clock_gettime(CLOCK_MONOTONIC, &mono);
  ::clock_gettime(CLOCK_REALTIME, &real);
  return std::chrono::seconds(real.tv_sec - mono.tv_sec) + std::chrono::nanoseconds(real.tv_nsec - mono.tv_nsec);
}

std::size_t terminal_rows() {
  winsize ws{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0) return ws.ws_row;
  return 24;
}

// The filters the kernel applies to its events, applied here to the listener drops (which come
// from sock_diag): the listener's port, its process; a peer is not known for them.
bool listener_event_passes(const bpf::TracerOptions& t, const watch::Event& e) {
  if (t.peer) return false;
  if (t.port != 0 && (!e.source || e.source->port != t.port)) return false;
  if (t.pid != 0 && e.pid != t.pid) return false;
  return true;
}

// A listener's owner, looked up once per listener (a scan of /proc, only when it drops).
class ListenerOwners {
 public:
  using Owner = std::optional<std::pair<std::uint32_t, std::string>>;
  const Owner& of(std::uint64_t inode) {
    auto it = cache_.find(inode);
    if (it == cache_.end()) {
      Owner owner;
      if (auto table = inspect::scan_owners(); table) {
        if (const auto* p = table->owner(inode); p != nullptr)
          owner = std::pair{static_cast<std::uint32_t>(p->pid), p->command};
      }
      it = cache_.emplace(inode, owner).first;
    }
    return it->second;
  }
  void fill(watch::Event& e) {
    if (!e.inode) return;
    if (const auto& o = of(*e.inode)) {
      e.pid = o->first;
      e.comm = o->second;
    }
  }

 private:
  std::map<std::uint64_t, Owner> cache_;
};

// The listeners that were there before the programs were attached, with their processes: the
// connections they accept are born in softirq and take their listener's process in the kernel
// (Tracer::remember_listener), so that their events carry a pid and pass --pid. One scan of
// /proc; best effort: what fails only leaves those connections' process unknown.
void remember_listeners(bpf::Tracer& tracer, const watch::ListenerSample* sample) {
  std::optional<watch::ListenerSample> own;
  if (sample == nullptr) {
    auto sampler = watch::ListenerSampler::open();
    if (!sampler) return;
    auto s = sampler->sample();
    if (!s) return;
    own = std::move(*s);
    sample = &*own;
  }
  if (sample->listeners.empty()) return;
  auto table = inspect::scan_owners();
  if (!table) return;
  for (const auto& l : sample->listeners) {
    if (!l.inode) continue;
    if (const auto* p = table->owner(*l.inode); p != nullptr)
      (void)tracer.remember_listener(l.local.port, static_cast<std::uint32_t>(p->pid), p->command);
  }
}

// The summary window's findings: the events' counts, with the listening ports and their owners
// from the listeners' last look.
std::vector<rules::Finding> window_findings(const watch::Summary& summary, const watch::ListenerSample* listeners,
                                            ListenerOwners& owners, Lang lang) {
  auto evidence = watch::event_evidence(summary.last_window(), summary.last_window_length());
  if (listeners != nullptr) {
    for (const auto& l : listeners->listeners) {
      evidence.listening_ports.insert(l.local.port);
      if (!l.inode) continue;
      if (const auto& o = owners.of(*l.inode))
        evidence.owners[l.local.port] = rules::ListenerOwner{static_cast<pid_t>(o->first), o->second};
    }
  }
  return rules::evaluate_events(evidence, lang);
}

int run_watch(const GlobalOptions& g, const WatchFlags& f) {
  auto plan = plan_from(f, g.lang);
  if (!plan) return report(g, plan.error(), ExitCode::usage);
  const bool terminal = ::isatty(STDOUT_FILENO) == 1;
  const bool limited = terminal && !g.json && !f.summary && f.rate > 0;
  if (f.summary) {
    // The table only counts: the kernel counts every kind itself, after the filters, instead of
    // streaming each event; and it shows no process.
    plan->tracer.aggregate_mask = plan->tracer.event_mask;
    plan->tracer.owners = false;
  }
  // A terminal shows at most --rate lines a second: the kernel sends no more records than that
  // per CPU and counts the rest, so that a storm does not cross the ring buffer to be dropped here.
  if (limited) plan->tracer.records_per_second = f.rate;

  auto btf = bpf::KernelBtf::load();
  if (!btf) return report(g, btf.error(), ExitCode::could_not_run);
  auto tracer = bpf::Tracer::open(plan->tracer);
  if (!tracer) return report(g, tracer.error(), ExitCode::could_not_run);
  watch::ReasonNames names{btf->enum_names("skb_drop_reason", "SKB_DROP_REASON_"),
                           btf->enum_names("sk_rst_reason", "SK_RST_REASON_")};

  std::optional<watch::ListenerSampler> listeners;
  std::optional<watch::ListenerSample> last_listeners;
  // The listeners are looked at once a second for their drops (overflow events) and, in
  // --summary, for the findings (which ports listen, and whose they are).
  if (plan->overflow || f.summary) {
    auto s = watch::ListenerSampler::open();
    if (!s) return report(g, s.error(), ExitCode::could_not_run);
    listeners.emplace(std::move(*s));
    auto first = listeners->sample();
    if (!first) return report(g, first.error(), ExitCode::could_not_run);
    last_listeners = std::move(*first);
  }

  if (plan->tracer.event_mask != 0) remember_listeners(**tracer, last_listeners ? &*last_listeners : nullptr);
  // The summary's counts keep the local ports that listen (the others are one key: port 0).
  const auto tell_listening = [&]() -> Result<void> {
    if (plan->tracer.aggregate_mask == 0 || !last_listeners) return {};
    std::vector<std::uint16_t> ports;
    for (const auto& l : last_listeners->listeners) ports.push_back(l.local.port);
    return (*tracer)->set_listening_ports(ports);
  };
  if (auto r = tell_listening(); !r) return report(g, r.error(), ExitCode::could_not_run);

  // Each kind asked for whose hooks the kernel refused is said once, on stderr.
  for (const auto& h : (*tracer)->hooks()) {
    if (!h.error || (h.kinds & plan->tracer.event_mask) == 0) continue;
    std::string kinds;
    for (std::uint32_t k = CS_EV_STATE; k < CS_EV_KIND_MAX; ++k) {
      if ((h.kinds & CS_EVENT_BIT(k)) == 0) continue;
      if (!kinds.empty()) kinds += ", ";
      kinds += watch::kind_name(static_cast<watch::EventKind>(k - CS_EV_STATE));
    }
    fmt::print(stderr, "connscope: {}\n", tr(g.lang, Msg::watch_kind_off, fmt::arg("kinds", kinds),
                                             fmt::arg("why", h.error->message())));
  }

  auto signals = stop_signals();
  if (!signals) return report(g, signals.error(), ExitCode::could_not_run);
  // Said once everything is attached and the listeners' baseline taken: what happens from now
  // on is seen. On stderr, so that stdout stays the events alone (docs/json.md); scripts and
  // tests wait for it before they make traffic.
  fmt::print(stderr, "connscope: {}\n", tr(g.lang, Msg::watch_started, fmt::arg("what", groups_text(plan->groups))));
  std::fflush(stderr);
  const auto offset = monotonic_to_wall();
  const auto start = std::chrono::steady_clock::now();
  const auto wall_start = std::chrono::system_clock::now();
  watch::RateLimiter limiter(limited ? f.rate : 0);
  watch::Summary summary(wall_start);
  ListenerOwners owners;
  std::uint64_t lost_seen = 0;
  std::uint64_t missed_seen = 0;
  std::array<std::uint64_t, CS_EV_KIND_MAX> held_seen{};
  bpf::Aggregates counted_seen;
  bool found = false;  // a finding in some --summary window: exit 1
  auto next_second = start + std::chrono::seconds(1);

  std::string line;  // one --json event, its buffer kept from one event to the next
  const auto emit = [&](const watch::Event& e) {
    if (f.summary) {
      summary.add(e);
    } else if (g.json) {
      line.clear();
      watch::write_event_json(line, e, g.lang);
      line += '\n';
      std::fwrite(line.data(), 1, line.size(), stdout);
    } else {
      if (auto held = limiter.flush(e.time, g.lang)) fmt::print("{}\n", *held);
      if (!limited || limiter.admit(e.time, e.kind))
        fmt::print("{}\n", watch::format_line(e, g.lang, watch::LineOptions{g.color, g.verbose > 0}));
    }
  };
  const bpf::Tracer::RecordFn on_record = [&](std::span<const std::byte> r) {
    auto e = watch::decode_event(r, names, offset);
    if (e) emit(*e);
  };
  // The events the ring buffer had no room for, and the programs' calls the kernel skipped, since
  // the last time this was said.
  const auto say_lost = [&] {
    auto c = (*tracer)->counters();
    if (!c) return;
    for (std::uint32_t k = CS_EV_STATE; k < CS_EV_KIND_MAX; ++k) {
      if (c->held[k] > held_seen[k])
        limiter.add_held(watch::group_of(static_cast<watch::EventKind>(k - CS_EV_STATE)), c->held[k] - held_seen[k]);
      held_seen[k] = c->held[k];
    }
    const auto lost = c->totals[CS_C_RING_LOST];
    if (lost > lost_seen) {
      const auto n = lost - lost_seen;
      lost_seen = lost;
      if (f.summary) {
        summary.add_lost(n);
      } else if (g.json) {
        fmt::print("{}\n", nlohmann::json{{"kind", "lost"},
                                          {"time", watch::rfc3339_ms(std::chrono::system_clock::now())},
                                          {"count", n}}
                               .dump());
      } else {
        fmt::print(stderr, "connscope: {}\n", tr(g.lang, Msg::watch_lost, fmt::arg("count", n)));
      }
    }
    if (c->missed > missed_seen) {
      const auto n = c->missed - missed_seen;
      if (f.summary) {
        summary.add_missed(n);
      } else if (g.json) {
        fmt::print("{}\n", nlohmann::json{{"kind", "missed"},
                                          {"time", watch::rfc3339_ms(std::chrono::system_clock::now())},
                                          {"count", n}}
                               .dump());
      } else {
        fmt::print(stderr, "connscope: {}\n", tr(g.lang, Msg::watch_missed, fmt::arg("count", n)));
      }
    }
    missed_seen = c->missed;
  };
  while (!stop_requested(*signals)) {
    const auto now = std::chrono::steady_clock::now();
    if (plan->duration && now - start >= *plan->duration) break;
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_second - now);
    if (plan->duration)
      wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(start + *plan->duration - now));
    wait = std::clamp(wait, std::chrono::milliseconds(0), std::chrono::milliseconds(200));
    if (plan->tracer.event_mask != 0) {
      auto polled = (*tracer)->poll(wait, on_record);
      if (!polled) return report(g, polled.error(), ExitCode::could_not_run);
    } else {
      ::poll(nullptr, 0, static_cast<int>(wait.count()));
    }
    if (std::chrono::steady_clock::now() < next_second) continue;
    next_second += std::chrono::seconds(1);

    // Once a second: the listeners' drops, the ring buffer's losses, the summary's refresh.
    if (listeners) {
      auto s = listeners->sample();
      if (!s) return report(g, s.error(), ExitCode::could_not_run);
      if (plan->overflow) {
        for (auto& e : watch::listener_drop_events(*last_listeners, *s)) {
          owners.fill(e);
          if (listener_event_passes(plan->tracer, e)) emit(e);
        }
      }
      last_listeners = std::move(*s);
      if (auto r = tell_listening(); !r) return report(g, r.error(), ExitCode::could_not_run);
    }
    say_lost();
    if (f.summary) {
      if (plan->tracer.aggregate_mask != 0) {
        auto counted = (*tracer)->aggregates();
        if (!counted) return report(g, counted.error(), ExitCode::could_not_run);
        summary.add(watch::kernel_counted(counted_seen, *counted, names));
        counted_seen = std::move(*counted);
      }
      summary.roll(std::chrono::system_clock::now());
      const auto findings =
          window_findings(summary, last_listeners ? &*last_listeners : nullptr, owners, g.lang);
      found = found || !findings.empty();
      if (g.json) {
        auto j = watch::summary_json(summary);
        j["findings"] = rules::findings_json(findings);
        fmt::print("{}\n", j.dump());
      } else {
        std::string block;
        for (const auto& finding : findings) block += finding_text(finding, Style{g.color}, g.lang) + "\n";
        const auto rows = terminal ? terminal_rows() - 1 : 200;
        const auto finding_rows = static_cast<std::size_t>(std::count(block.begin(), block.end(), '\n'));
        if (terminal) fmt::print("\x1b[H\x1b[2J");
        fmt::print("{}\n{}", watch::render_summary_text(summary, g.lang, g.color, rows > finding_rows + 4 ? rows - finding_rows : 4),
                   block);
      }
    } else if (!g.json) {
      if (auto held = limiter.flush(std::chrono::system_clock::now(), g.lang)) fmt::print("{}\n", *held);
    }
    std::fflush(stdout);
  }
  // At the end (the duration, Ctrl-C): what the ring buffer already holds is shown, and what it
  // had no room for since the last second is said, so that every event up to the stop is one or
  // the other.
  if (plan->tracer.event_mask != 0) {
    auto polled = (*tracer)->poll(std::chrono::milliseconds(0), on_record);
    if (!polled) return report(g, polled.error(), ExitCode::could_not_run);
    if (!f.summary) say_lost();
  }
  if (!f.summary && !g.json) {
    if (auto held = limiter.flush(std::chrono::system_clock::now() + std::chrono::seconds(2), g.lang))
      fmt::print("{}\n", *held);
  }
  std::fflush(stdout);
  return static_cast<int>(found ? ExitCode::problems : ExitCode::healthy);
}

}  // namespace

std::function<int()> register_watch(CLI::App& app, const GlobalOptions& global) {
  auto flags = std::make_shared<WatchFlags>();
  const Lang lang = global.lang;
  auto* cmd = app.add_subcommand("watch", tr(lang, Msg::help_watch));
  cmd->add_option("-p,--port", flags->port, tr(lang, Msg::help_watch_port))->type_name("PORT");
  cmd->add_option("--pid", flags->pid, tr(lang, Msg::help_watch_pid))->type_name("PID");
  cmd->add_option("--peer", flags->peer, tr(lang, Msg::help_watch_peer))->type_name("ADDR");
  cmd->add_option("-e,--events", flags->events, tr(lang, Msg::help_watch_events))->type_name("LIST");
  cmd->add_flag("-s,--summary", flags->summary, tr(lang, Msg::help_watch_summary));
  cmd->add_option("-d,--duration", flags->duration, tr(lang, Msg::help_watch_duration))->type_name("DURATION");
  cmd->add_option("--rate", flags->rate, tr(lang, Msg::help_watch_rate))->type_name("N");
  return [cmd, flags, &global]() -> int {
    if (!cmd->parsed()) return -1;
    return run_watch(global, *flags);
  };
}

}  // namespace connscope::cli
