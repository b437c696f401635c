#include "rules/server_rules.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "rules/finding_text.h"

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
    Evidence ev = {{"address", l.address},
                  {"port", std::to_string(l.port)},
                  {"accept_queue", std::to_string(l.accept_queue)},
                  {"accept_queue_limit", std::to_string(l.accept_queue_limit)},
                  {"listen_overflows_per_s", num(overflows)}};
    if (l.pid) {
      ev["pid"] = std::to_string(*l.pid);
      ev["command"] = l.command;
    }
    const Severity sev = (persistent || overflowing) ? Severity::critical : Severity::warning;
    out.push_back(make_finding("listen.accept_queue_full", sev, std::move(ev), lang));
  }
}

void syn_rules(const ServerEvidence& e, Lang lang, std::vector<Finding>& out) {
  const double drops = rate(e, "TCPReqQFullDrop");
  const double cookies = rate(e, "SyncookiesSent");
  if (drops > 0) {
    const bool on = e.syncookies.value_or(false);
    // tcp_syncookies stays a token ("1", "0", "unknown"); the renderer says it in words.
    out.push_back(make_finding("listen.syn_queue_overflow", Severity::critical,
                               {{"syn_drops_per_s", num(drops)},
                                {"syn_recv", std::to_string(e.syn_recv_total)},
                                {"tcp_syncookies", e.syncookies ? (on ? "1" : "0") : "unknown"}},
                               lang));
  }
  const bool many_half_open =
      e.max_syn_backlog && *e.max_syn_backlog > 0 &&
      static_cast<double>(e.syn_recv_total) >= T::kSynRecvWarnFraction * static_cast<double>(*e.max_syn_backlog);
  if (cookies > 0 || many_half_open) {
    const Severity sev = (cookies > 0 && many_half_open) || drops > 0 ? Severity::critical : Severity::warning;
    Evidence ev{{"syn_recv", std::to_string(e.syn_recv_total)}, {"syncookies_sent_per_s", num(cookies)}};
    if (!e.syn_recv_by_source.empty()) {
      const auto& top = e.syn_recv_by_source.front();
      ev["top_source"] = top.address;
      ev["top_source_syn_recv"] = std::to_string(top.count);
    }
    out.push_back(make_finding("listen.syn_flood", sev, std::move(ev), lang));
  }
}

void close_wait_rules(const ServerEvidence& e, Lang lang, std::vector<Finding>& out) {
  for (const auto& p : e.close_wait) {
    if (p.count < T::kCloseWaitMin) continue;
    // A leak persists: enough of the same sockets are still there at the second sample.
    if (p.persisting && *p.persisting < T::kCloseWaitMin) continue;
    Evidence ev{{"close_wait", std::to_string(p.count)}};
    if (p.persisting) {
      ev["still_close_wait"] = std::to_string(*p.persisting);
      ev["interval_s"] = fmt::format("{:.1f}", e.interval_s);
    }
    if (p.pid > 0) {
      ev["pid"] = std::to_string(p.pid);
      ev["command"] = p.command;
    }
    if (p.port != 0) ev["port"] = std::to_string(p.port);
    out.push_back(make_finding("tcp.close_wait_leak", Severity::warning, std::move(ev), lang));
  }
}

void time_wait_rules(const ServerEvidence& e, Lang lang, std::vector<Finding>& out) {
  if (!e.local_port_count || *e.local_port_count == 0) return;
  const double ports = static_cast<double>(*e.local_port_count);
  for (const auto& d : e.time_wait_by_destination) {
    const double fraction = static_cast<double>(d.count) / ports;
    if (fraction < T::kTimeWaitWarnFraction) continue;
    const Severity sev = fraction >= T::kTimeWaitCritFraction ? Severity::critical : Severity::warning;
    out.push_back(make_finding("tcp.time_wait_pressure", sev,
                               {{"destination", d.address},
                                {"time_wait", std::to_string(d.count)},
                                {"local_ports", std::to_string(*e.local_port_count)},
                                {"percent", percent(fraction)}},
                               lang));
  }
}

void host_rules(const ServerEvidence& e, Lang lang, std::vector<Finding>& out) {
  if (e.max_orphans && *e.max_orphans > 0) {
    const double fraction = static_cast<double>(e.orphans) / static_cast<double>(*e.max_orphans);
    if (fraction >= T::kOrphanWarnFraction) {
      const Severity sev = fraction >= 0.9 ? Severity::critical : Severity::warning;
      out.push_back(make_finding("tcp.orphans", sev,
                                 {{"orphans", std::to_string(e.orphans)},
                                  {"tcp_max_orphans", std::to_string(*e.max_orphans)},
                                  {"percent", percent(fraction)}},
                                 lang));
    }
  }
  const double retrans = rate(e, "RetransSegs");
  const double sent = rate(e, "OutSegs");
  if (retrans >= T::kRetransMinRate && sent > 0 && retrans / sent >= T::kRetransWarnFraction) {
    out.push_back(make_finding("tcp.retransmits_high", Severity::warning,
                               {{"retrans_segs_per_s", num(retrans)},
                                {"out_segs_per_s", num(sent)},
                                {"retrans_percent", fmt::format("{:.1f}", retrans / sent * 100)}},
                               lang));
  }
  const double resets = rate(e, "OutRsts");
  if (resets >= T::kResetRate) {
    out.push_back(make_finding("tcp.resets_high", Severity::warning, {{"out_rsts_per_s", num(resets)}}, lang));
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
    const Severity sev = fraction >= 0.95 ? Severity::critical : Severity::warning;
    out.push_back(make_finding("limits.nofile_low", sev,
                               {{"pid", std::to_string(*l.pid)},
                                {"command", l.command},
                                {"open_fds", std::to_string(*l.open_fds)},
                                {"nofile_soft", std::to_string(*l.nofile_soft)},
                                {"percent", percent(fraction)}},
                               lang));
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

std::optional<Severity> severity_from_name(std::string_view name) {
  for (const Severity s : {Severity::info, Severity::warning, Severity::critical}) {
    if (severity_name(s) == name) return s;
  }
  return std::nullopt;
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
