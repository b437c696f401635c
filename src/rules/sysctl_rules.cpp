#include "rules/sysctl_rules.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "rules/finding_text.h"

namespace connscope::rules {

namespace {

using T = AuditThresholds;

constexpr std::string_view kConntrackMax = "net.netfilter.nf_conntrack_max";
constexpr std::string_view kConntrackCount = "net.netfilter.nf_conntrack_count";
constexpr std::string_view kTwRecycle = "net.ipv4.tcp_tw_recycle";

// The whitespace-separated whole numbers of a setting ("32768\t60999" -> {32768, 60999});
// nullopt when any field is not a number.
std::optional<std::vector<std::int64_t>> numbers(std::string_view text) {
  std::vector<std::int64_t> out;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    if (i == text.size()) break;
    const std::size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\t') ++i;
    std::int64_t v = 0;
    auto [ptr, ec] = std::from_chars(text.data() + start, text.data() + i, v);
    if (ec != std::errc{} || ptr != text.data() + i) return std::nullopt;
    out.push_back(v);
  }
  if (out.empty()) return std::nullopt;
  return out;
}

// The kernel separates fields with tabs; people and sysctl.d use spaces.
std::string normalize(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\t' || c == ' ') {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += c;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string percent(double fraction) { return fmt::format("{:.0f}", fraction * 100); }

class Auditor {
 public:
  Auditor(const AuditEvidence& e, Lang lang) : e_(e), lang_(lang) {}

  AuditReport run() {
    somaxconn_ = integer("net.core.somaxconn");
    at_least("net.core.somaxconn", T::kSomaxconn);
    at_least("net.ipv4.tcp_max_syn_backlog", T::kMaxSynBacklog);
    syncookies();
    judged_at_most("net.ipv4.tcp_synack_retries", T::kSynackRetries);
    judged_at_most("net.ipv4.tcp_syn_retries", T::kSynRetries);
    abort_on_overflow();
    fastopen();
    judged_at_most("net.ipv4.tcp_keepalive_time", T::kKeepaliveTime);
    judged_at_most("net.ipv4.tcp_keepalive_intvl", T::kKeepaliveIntvl);
    judged_at_most("net.ipv4.tcp_keepalive_probes", T::kKeepaliveProbes);
    judged_at_most("net.ipv4.tcp_fin_timeout", T::kFinTimeout);
    tw_reuse();
    tw_recycle();
    port_range();
    max_tw_buckets();
    at_least("net.ipv4.tcp_max_orphans", T::kMaxOrphans);
    buffer("net.ipv4.tcp_rmem");
    buffer("net.ipv4.tcp_wmem");
    // Drops here show up in /proc/net/softnet_stat first; whether 1000 is too small depends on
    // the link speed, so it is a judgement.
    const auto netdev = integer("net.core.netdev_max_backlog");
    setting("net.core.netdev_max_backlog", std::to_string(T::kNetdevMaxBacklog),
            netdev && *netdev < T::kNetdevMaxBacklog ? SettingStatus::info : SettingStatus::ok);
    at_least("fs.file-max", T::kFileMax);
    at_least("fs.nr_open", T::kNrOpen);
    conntrack();
    listeners();
    nofile();
    for (const auto& s : report_.settings) {
      if (s.status != SettingStatus::below) continue;
      // The evidence holds everything the texts quote, the why text's numbers included.
      Evidence ev = why_args_[s.name];
      ev["name"] = s.name;
      ev["value"] = *s.value;
      ev["recommended"] = s.recommended;
      ev["fix_command"] = *s.fix_command;
      ev["sysctl_d"] = *s.sysctl_d;
      report_.findings.push_back(make_finding("sysctl." + s.name, Severity::warning, std::move(ev), lang_));
    }
    std::stable_sort(report_.findings.begin(), report_.findings.end(),
                     [](const Finding& a, const Finding& b) { return a.severity > b.severity; });
    return std::move(report_);
  }

 private:
  const std::string* raw(std::string_view name) const {
    const auto it = e_.sysctls.find(std::string(name));
    return it == e_.sysctls.end() ? nullptr : &it->second;
  }

  std::optional<std::int64_t> integer(std::string_view name) const {
    const auto* text = raw(name);
    if (text == nullptr) return std::nullopt;
    auto v = numbers(*text);
    if (!v || v->size() != 1) return std::nullopt;
    return v->front();
  }

  // Adds one row. A setting the kernel does not have is shown, never judged; one that is not
  // the expected number (a future kernel's format) is shown as info rather than misjudged.
  // The why text comes from the one table the findings use too (rules/finding_text.h); `why_args`
  // are the numbers it quotes, kept for the setting's finding.
  void setting(std::string_view name, std::string recommended, SettingStatus status, Evidence why_args = {}) {
    SettingCheck s;
    s.name = std::string(name);
    s.recommended = std::move(recommended);
    const auto* text = raw(name);
    if (const auto why = sysctl_why(name, text ? normalize(*text) : std::string())) {
      auto rendered = render_with_evidence(lang_, *why, why_args);
      s.why = rendered ? std::move(*rendered) : rendered.error().message(lang_);
    }
    why_args_[s.name] = std::move(why_args);
    if (text == nullptr) {
      s.status = SettingStatus::unavailable;
    } else {
      s.value = normalize(*text);
      s.status = status;
      if (status == SettingStatus::below || status == SettingStatus::info) {
        // A value with spaces must be quoted for the shell; sysctl.d takes it as is.
        s.fix_command = s.recommended.find(' ') == std::string::npos
                            ? fmt::format("sysctl -w {}={}", s.name, s.recommended)
                            : fmt::format("sysctl -w {}=\"{}\"", s.name, s.recommended);
        s.sysctl_d = fmt::format("{} = {}", s.name, s.recommended);
      }
    }
    report_.settings.push_back(std::move(s));
  }

  SettingStatus parsed_or_info(std::string_view name, bool below) const {
    if (raw(name) != nullptr && !integer(name)) return SettingStatus::info;
    return below ? SettingStatus::below : SettingStatus::ok;
  }

  void at_least(std::string_view name, std::int64_t min) {
    const auto v = integer(name);
    setting(name, std::to_string(min), parsed_or_info(name, v && *v < min));
  }

  // Settings where lower is better for a busy server but the default is not wrong for every
  // host (retries and timeouts trade patience with slow peers for resources).
  void judged_at_most(std::string_view name, std::int64_t max) {
    const auto v = integer(name);
    setting(name, std::to_string(max), v && *v > max ? SettingStatus::info : parsed_or_info(name, false));
  }

  void syncookies() {
    constexpr std::string_view name = "net.ipv4.tcp_syncookies";
    const auto v = integer(name);
    SettingStatus st = parsed_or_info(name, v && *v == 0);
    if (v && *v == 2) st = SettingStatus::info;  // its own why text (sysctl_why)
    setting(name, "1", st);
  }

  void abort_on_overflow() {
    constexpr std::string_view name = "net.ipv4.tcp_abort_on_overflow";
    const auto v = integer(name);
    setting(name, "0", parsed_or_info(name, v && *v != 0));
  }

  void fastopen() {
    constexpr std::string_view name = "net.ipv4.tcp_fastopen";
    const auto v = integer(name);
    // Bit 2 (value 2) is server support; without it listeners cannot take data in the SYN.
    const bool server_off = v && (*v & 2) == 0;
    setting(name, v ? std::to_string(*v | 3) : "3",
            server_off ? SettingStatus::info : parsed_or_info(name, false));
  }

  void tw_reuse() {
    constexpr std::string_view name = "net.ipv4.tcp_tw_reuse";
    const auto v = integer(name);
    SettingStatus st = parsed_or_info(name, v && *v == 0);
    // 2 (loopback only) is the kernel's cautious default: fine for a host that connects out
    // little, worth changing for a proxy.
    if (v && *v == 2) st = SettingStatus::info;
    setting(name, "1", st);
  }

  void tw_recycle() {
    // Removed in Linux 4.12: only an older kernel has the row at all.
    if (raw(kTwRecycle) == nullptr) return;
    const auto v = integer(kTwRecycle);
    setting(kTwRecycle, "0", parsed_or_info(kTwRecycle, v && *v != 0));
  }

  void port_range() {
    constexpr std::string_view name = "net.ipv4.ip_local_port_range";
    const auto* text = raw(name);
    std::optional<std::vector<std::int64_t>> v = text ? numbers(*text) : std::nullopt;
    SettingStatus st = SettingStatus::ok;
    std::int64_t ports = 0;
    if (text != nullptr && (!v || v->size() != 2)) {
      st = SettingStatus::info;
    } else if (v) {
      ports = std::max<std::int64_t>(0, (*v)[1] - (*v)[0] + 1);
      if (ports < T::kLocalPorts) st = SettingStatus::below;
    }
    // TIME_WAIT holds a port for 60 s: that is the sustainable rate to one destination.
    setting(name, "10240 65535", st, {{"ports", std::to_string(ports)}, {"per_s", std::to_string(ports / 60)}});
  }

  void max_tw_buckets() {
    constexpr std::string_view name = "net.ipv4.tcp_max_tw_buckets";
    const auto v = integer(name);
    // Far below the default, someone lowered it to "fix" TIME_WAIT: wrong. Between that and the
    // recommendation, it matters only if TIME_WAIT reaches it.
    SettingStatus st = parsed_or_info(name, v && *v < T::kMaxTwBucketsLow);
    if (v && *v >= T::kMaxTwBucketsLow && *v < T::kMaxTwBuckets) st = SettingStatus::info;
    setting(name, std::to_string(T::kMaxTwBuckets), st);
  }

  void buffer(std::string_view name) {
    const auto* text = raw(name);
    const auto v = text ? numbers(*text) : std::nullopt;
    SettingStatus st = SettingStatus::ok;
    std::string recommended = fmt::format("4096 131072 {}", T::kBufferMax);
    if (text != nullptr && (!v || v->size() != 3)) {
      st = SettingStatus::info;
    } else if (v) {
      // Only the max limits throughput; keep the host's min and default.
      recommended = fmt::format("{} {} {}", (*v)[0], (*v)[1], std::max((*v)[2], T::kBufferMax));
      // Whether a bigger buffer helps depends on bandwidth x RTT of the clients: a judgement.
      if ((*v)[2] < T::kBufferMax) st = SettingStatus::info;
    }
    setting(name, std::move(recommended), st);
  }

  void conntrack() {
    // Only when conntrack is loaded (the module creates the setting).
    if (raw(kConntrackMax) == nullptr) return;
    const auto max = integer(kConntrackMax);
    const auto count = integer(kConntrackCount);
    const double fraction =
        max && count && *max > 0 ? static_cast<double>(*count) / static_cast<double>(*max) : 0.0;
    const bool filling = fraction >= T::kConntrackWarnFraction;
    // Room for twice what is tracked now, and never less than the busy-server floor.
    std::int64_t recommended = T::kConntrackMax;
    if (count) {
      while (recommended < 2 * *count) recommended *= 2;
    }
    SettingStatus st = parsed_or_info(kConntrackMax, filling);
    if (!filling && max && *max < T::kConntrackMax) st = SettingStatus::info;
    setting(kConntrackMax, std::to_string(recommended), st,
            {{"count", std::to_string(count.value_or(0))}, {"percent", percent(fraction)}});
    if (!filling) return;
    const Severity sev = fraction >= T::kConntrackCritFraction ? Severity::critical : Severity::warning;
    report_.findings.push_back(make_finding("conntrack.table_full", sev,
                                            {{"nf_conntrack_count", std::to_string(*count)},
                                             {"nf_conntrack_max", std::to_string(*max)},
                                             {"percent", percent(fraction)},
                                             {"recommended", std::to_string(recommended)}},
                                            lang_));
  }

  void listeners() {
    for (const auto& l : e_.listeners) {
      ListenerCheck c;
      c.listener = l;
      if (somaxconn_ && *somaxconn_ > 0) {
        c.somaxconn = static_cast<std::uint64_t>(*somaxconn_);
        // A limit above somaxconn means somaxconn was lowered after listen(): then neither is
        // "its own" choice in a useful sense, so only a smaller limit names the application.
        c.limited_by_backlog = l.backlog_limit < *c.somaxconn;
      }
      report_.listeners.push_back(std::move(c));
    }
  }

  void nofile() {
    std::vector<pid_t> seen;
    for (const auto& l : e_.listeners) {
      if (!l.pid || !l.nofile_soft) continue;
      if (std::find(seen.begin(), seen.end(), *l.pid) != seen.end()) continue;
      seen.push_back(*l.pid);
      if (*l.nofile_soft >= T::kNofile) continue;
      Evidence ev{{"pid", std::to_string(*l.pid)},
                  {"command", l.command},
                  {"nofile_soft", std::to_string(*l.nofile_soft)},
                  {"recommended", std::to_string(T::kNofile)},
                  {"address", l.address}};
      if (l.open_fds) ev["open_fds"] = std::to_string(*l.open_fds);
      // A low limit is a risk, not an outage: warning; inspect escalates when it fills up.
      report_.findings.push_back(make_finding("limits.nofile_low", Severity::warning, std::move(ev), lang_));
    }
  }

  const AuditEvidence& e_;
  Lang lang_;
  std::optional<std::int64_t> somaxconn_;
  AuditReport report_;
  std::map<std::string, Evidence> why_args_;  // by setting name
};

}  // namespace

std::string_view setting_status_name(SettingStatus s) {
  switch (s) {
    case SettingStatus::ok: return "ok";
    case SettingStatus::below: return "below";
    case SettingStatus::info: return "info";
    case SettingStatus::unavailable: return "unavailable";
  }
  return "unavailable";
}

bool AuditReport::below_recommendation() const {
  const bool setting_below = std::any_of(settings.begin(), settings.end(), [](const SettingCheck& s) {
    return s.status == SettingStatus::below;
  });
  const bool finding = std::any_of(findings.begin(), findings.end(), [](const Finding& f) {
    return f.severity != Severity::info;
  });
  return setting_below || finding;
}

const std::vector<std::string>& audited_sysctls() {
  static const std::vector<std::string> names{
      "net.core.somaxconn",
      "net.ipv4.tcp_max_syn_backlog",
      "net.ipv4.tcp_syncookies",
      "net.ipv4.tcp_synack_retries",
      "net.ipv4.tcp_syn_retries",
      "net.ipv4.tcp_abort_on_overflow",
      "net.ipv4.tcp_fastopen",
      "net.ipv4.tcp_keepalive_time",
      "net.ipv4.tcp_keepalive_intvl",
      "net.ipv4.tcp_keepalive_probes",
      "net.ipv4.tcp_fin_timeout",
      "net.ipv4.tcp_tw_reuse",
      std::string(kTwRecycle),
      "net.ipv4.ip_local_port_range",
      "net.ipv4.tcp_max_tw_buckets",
      "net.ipv4.tcp_max_orphans",
      "net.ipv4.tcp_rmem",
      "net.ipv4.tcp_wmem",
      "net.core.netdev_max_backlog",
      "fs.file-max",
      "fs.nr_open",
      std::string(kConntrackMax),
      std::string(kConntrackCount),
  };
  return names;
}

AuditReport evaluate_audit(const AuditEvidence& e, Lang lang) { return Auditor(e, lang).run(); }

}  // namespace connscope::rules
