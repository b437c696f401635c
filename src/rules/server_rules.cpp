#include "rules/server_rules.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace connscope::rules {

namespace {

using T = Thresholds;

double rate(const ServerEvidence& e, const std::string& name) {
  const auto it = e.rates.find(name);
  return it == e.rates.end() ? 0.0 : it->second;
}

std::string num(double v) {
  if (v >= 100 || v == std::floor(v)) return fmt::format("{:.0f}", v);
  return fmt::format("{:.1f}", v);
}

std::string percent(double fraction) { return fmt::format("{:.0f}", fraction * 100); }

std::string owner_suffix(Lang lang, const std::optional<pid_t>& pid, const std::string& command) {
  if (!pid) return {};
  return tr(lang, Msg::f_owner_suffix, fmt::arg("command", command), fmt::arg("pid", *pid));
}

std::string who(Lang lang, const std::optional<pid_t>& pid, const std::string& command) {
  if (!pid) return tr(lang, Msg::f_unknown_owner);
  return fmt::format("{} (pid {})", command, *pid);
}

void listener_rules(const ServerEvidence& e, Lang lang, std::vector<Finding>& out) {
  const double overflows = rate(e, "ListenOverflows");
  for (const auto& l : e.listeners) {
    if (l.accept_queue_limit == 0) continue;
    // rq > limit: the kernel has queued one past the limit and drops from here on.
    const bool full = l.accept_queue > l.accept_queue_limit ||
                      (l.accept_queue == l.accept_queue_limit && l.accept_queue > 0);
    const double fill = static_cast<double>(l.accept_queue) / l.accept_queue_limit;
    // One stray overflow is not an alarm: full now and at the first sample, or overflowing
    // at a sustained rate.
    const bool persistent = full && (l.queue_full_at_first_sample || e.interval_s == 0);
    const bool overflowing = full && overflows >= T::kOverflowRate;
    if (!persistent && !overflowing && fill < T::kQueueWarnFraction) continue;
    Finding f;
    f.id = "listen.accept_queue_full";
    f.severity = (persistent || overflowing) ? Severity::critical : Severity::warning;
    f.evidence = {{"address", l.address},
                  {"port", std::to_string(l.port)},
                  {"accept_queue", std::to_string(l.accept_queue)},
                  {"accept_queue_limit", std::to_string(l.accept_queue_limit)},
                  {"listen_overflows_per_s", num(overflows)}};
    if (l.pid) {
      f.evidence["pid"] = std::to_string(*l.pid);
      f.evidence["command"] = l.command;
    }
    const auto owner = owner_suffix(lang, l.pid, l.command);
    f.summary = f.severity == Severity::critical
                    ? tr(lang, Msg::f_accept_queue_full_summary, fmt::arg("addr", l.address),
                         fmt::arg("queue", l.accept_queue), fmt::arg("limit", l.accept_queue_limit),
                         fmt::arg("owner", owner), fmt::arg("overflows", num(overflows)))
                    : tr(lang, Msg::f_accept_queue_high_summary, fmt::arg("addr", l.address),
                         fmt::arg("queue", l.accept_queue), fmt::arg("limit", l.accept_queue_limit),
                         fmt::arg("owner", owner));
    f.cause = tr(lang, Msg::f_accept_queue_full_cause);
    f.fix = tr(lang, Msg::f_accept_queue_full_fix, fmt::arg("who", who(lang, l.pid, l.command)),
               fmt::arg("port", l.port));
    out.push_back(std::move(f));
  }
}

void syn_rules(const ServerEvidence& e, Lang lang, std::vector<Finding>& out) {
  const double drops = rate(e, "TCPReqQFullDrop");
  const double cookies = rate(e, "SyncookiesSent");
  if (drops > 0) {
    Finding f;
    f.id = "listen.syn_queue_overflow";
    f.severity = Severity::critical;
    const bool on = e.syncookies.value_or(false);
    f.evidence = {{"syn_drops_per_s", num(drops)},
                  {"syn_recv", std::to_string(e.syn_recv_total)},
                  {"tcp_syncookies", e.syncookies ? (on ? "1" : "0") : "unknown"}};
    f.summary = tr(lang, Msg::f_syn_queue_overflow_summary, fmt::arg("drops", num(drops)),
                   fmt::arg("cookies", on ? "on" : "off"));
    f.cause = tr(lang, Msg::f_syn_queue_overflow_cause);
    f.fix = tr(lang, Msg::f_syn_queue_overflow_fix);
    out.push_back(std::move(f));
  }
  const bool many_half_open =
      e.max_syn_backlog && *e.max_syn_backlog > 0 &&
      static_cast<double>(e.syn_recv_total) >= T::kSynRecvWarnFraction * static_cast<double>(*e.max_syn_backlog);
  if (cookies > 0 || many_half_open) {
    Finding f;
    f.id = "listen.syn_flood";
    f.severity = (cookies > 0 && many_half_open) || drops > 0 ? Severity::critical : Severity::warning;
    f.evidence = {{"syn_recv", std::to_string(e.syn_recv_total)},
                  {"syncookies_sent_per_s", num(cookies)}};
    std::string source;
    if (!e.syn_recv_by_source.empty()) {
      const auto& top = e.syn_recv_by_source.front();
      f.evidence["top_source"] = top.address;
      f.evidence["top_source_syn_recv"] = std::to_string(top.count);
      source = fmt::format(", {} from {}", top.count, top.address);
    }
    f.summary = tr(lang, Msg::f_syn_flood_summary, fmt::arg("syn_recv", e.syn_recv_total),
                   fmt::arg("source", source), fmt::arg("cookies", num(cookies)));
    f.cause = tr(lang, Msg::f_syn_flood_cause);
    f.fix = tr(lang, Msg::f_syn_flood_fix);
    out.push_back(std::move(f));
  }
}

void close_wait_rules(const ServerEvidence& e, Lang lang, std::vector<Finding>& out) {
  for (const auto& p : e.close_wait) {
    if (p.count < T::kCloseWaitMin) continue;
    // A leak persists: enough of the same sockets are still there at the second sample.
    if (p.persisting && *p.persisting < T::kCloseWaitMin) continue;
    Finding f;
    f.id = "tcp.close_wait_leak";
    f.severity = Severity::warning;
    f.evidence = {{"close_wait", std::to_string(p.count)}};
    if (p.persisting) {
      f.evidence["still_close_wait"] = std::to_string(*p.persisting);
      f.evidence["interval_s"] = fmt::format("{:.1f}", e.interval_s);
    }
    const std::optional<pid_t> pid = p.pid > 0 ? std::optional<pid_t>(p.pid) : std::nullopt;
    if (pid) {
      f.evidence["pid"] = std::to_string(p.pid);
      f.evidence["command"] = p.command;
    }
    if (p.port != 0) f.evidence["port"] = std::to_string(p.port);
    const std::string w = who(lang, pid, p.command);
    f.summary = tr(lang, Msg::f_close_wait_summary, fmt::arg("count", p.count), fmt::arg("who", w),
                   fmt::arg("port", p.port != 0 ? fmt::format(" on port {}", p.port) : std::string()));
    f.cause = tr(lang, Msg::f_close_wait_cause);
    f.fix = tr(lang, Msg::f_close_wait_fix, fmt::arg("who", w));
    out.push_back(std::move(f));
  }
}

void time_wait_rules(const ServerEvidence& e, Lang lang, std::vector<Finding>& out) {
  if (!e.local_port_count || *e.local_port_count == 0) return;
  const double ports = static_cast<double>(*e.local_port_count);
  for (const auto& d : e.time_wait_by_destination) {
    const double fraction = static_cast<double>(d.count) / ports;
    if (fraction < T::kTimeWaitWarnFraction) continue;
    Finding f;
    f.id = "tcp.time_wait_pressure";
    f.severity = fraction >= T::kTimeWaitCritFraction ? Severity::critical : Severity::warning;
    f.evidence = {{"destination", d.address},
                  {"time_wait", std::to_string(d.count)},
                  {"local_ports", std::to_string(*e.local_port_count)}};
    f.summary = tr(lang, Msg::f_time_wait_summary, fmt::arg("count", d.count),
                   fmt::arg("dest", d.address), fmt::arg("percent", percent(fraction)),
                   fmt::arg("ports", *e.local_port_count));
    f.cause = tr(lang, Msg::f_time_wait_cause);
    f.fix = tr(lang, Msg::f_time_wait_fix);
    out.push_back(std::move(f));
  }
}

void host_rules(const ServerEvidence& e, Lang lang, std::vector<Finding>& out) {
  if (e.max_orphans && *e.max_orphans > 0) {
    const double fraction = static_cast<double>(e.orphans) / static_cast<double>(*e.max_orphans);
    if (fraction >= T::kOrphanWarnFraction) {
      Finding f;
      f.id = "tcp.orphans";
      f.severity = fraction >= 0.9 ? Severity::critical : Severity::warning;
      f.evidence = {{"orphans", std::to_string(e.orphans)},
                    {"tcp_max_orphans", std::to_string(*e.max_orphans)}};
      f.summary = tr(lang, Msg::f_orphans_summary, fmt::arg("orphans", e.orphans),
                     fmt::arg("percent", percent(fraction)), fmt::arg("max", *e.max_orphans));
      f.cause = tr(lang, Msg::f_orphans_cause);
      f.fix = tr(lang, Msg::f_orphans_fix);
      out.push_back(std::move(f));
    }
  }
  const double retrans = rate(e, "RetransSegs");
  const double sent = rate(e, "OutSegs");
  if (retrans >= T::kRetransMinRate && sent > 0 && retrans / sent >= T::kRetransWarnFraction) {
    Finding f;
    f.id = "tcp.retransmits_high";
    f.severity = Severity::warning;
    f.evidence = {{"retrans_segs_per_s", num(retrans)}, {"out_segs_per_s", num(sent)}};
    f.summary = tr(lang, Msg::f_retransmits_summary, fmt::arg("rate", num(retrans)),
                   fmt::arg("percent", fmt::format("{:.1f}", retrans / sent * 100)));
    f.cause = tr(lang, Msg::f_retransmits_cause);
    f.fix = tr(lang, Msg::f_retransmits_fix);
    out.push_back(std::move(f));
  }
  const double resets = rate(e, "OutRsts");
  if (resets >= T::kResetRate) {
    Finding f;
    f.id = "tcp.resets_high";
    f.severity = Severity::warning;
    f.evidence = {{"out_rsts_per_s", num(resets)}};
    f.summary = tr(lang, Msg::f_resets_summary, fmt::arg("rate", num(resets)));
    f.cause = tr(lang, Msg::f_resets_cause);
    f.fix = tr(lang, Msg::f_resets_fix);
    out.push_back(std::move(f));
  }
}

void nofile_rules(const ServerEvidence& e, Lang lang, std::vector<Finding>& out) {
  std::vector<pid_t> seen;
  for (const auto& l : e.listeners) {
    if (!l.pid || !l.open_fds || !l.nofile_soft || *l.nofile_soft == 0) continue;
    if (std::find(seen.begin(), seen.end(), *l.pid) != seen.end()) continue;
    seen.push_back(*l.pid);
    const double fraction = static_cast<double>(*l.open_fds) / static_cast<double>(*l.nofile_soft);
    if (fraction < T::kNofileWarnFraction) continue;
    Finding f;
    f.id = "limits.nofile_low";
    f.severity = fraction >= 0.95 ? Severity::critical : Severity::warning;
    f.evidence = {{"pid", std::to_string(*l.pid)},
                  {"command", l.command},
                  {"open_fds", std::to_string(*l.open_fds)},
                  {"nofile_soft", std::to_string(*l.nofile_soft)}};
    f.summary = tr(lang, Msg::f_nofile_summary, fmt::arg("who", who(lang, l.pid, l.command)),
                   fmt::arg("open", *l.open_fds), fmt::arg("limit", *l.nofile_soft),
                   fmt::arg("percent", percent(fraction)));
    f.cause = tr(lang, Msg::f_nofile_cause);
    f.fix = tr(lang, Msg::f_nofile_fix, fmt::arg("pid", *l.pid));
    out.push_back(std::move(f));
  }
}

}  // namespace

std::string_view severity_name(Severity s) {
  switch (s) {
    case Severity::info: return "info";
    case Severity::warning: return "warning";
    case Severity::critical: return "critical";
  }
  return "info";
}

std::vector<Finding> evaluate_server(const ServerEvidence& e, Lang lang) {
  std::vector<Finding> out;
  listener_rules(e, lang, out);
  syn_rules(e, lang, out);
  close_wait_rules(e, lang, out);
  time_wait_rules(e, lang, out);
  host_rules(e, lang, out);
  nofile_rules(e, lang, out);
  std::stable_sort(out.begin(), out.end(), [](const Finding& a, const Finding& b) {
    if (a.severity != b.severity) return a.severity > b.severity;
    return a.id < b.id;
  });
  return out;
}

}  // namespace connscope::rules
