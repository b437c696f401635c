// `connscope audit`: reads the kernel's connection settings, the listeners (one LISTEN-only
// sock_diag dump per family: only the listening hash is walked) and, unless --no-owners, their
// processes; the judging is rules::evaluate_audit; this file only gathers and renders.

#include "cli/cmd_audit.h"
#include "cli/findings_text.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/App.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "rules/findings_json.h"

#include "core/display_width.h"
#include "core/endpoint.h"
#include "inspect/owners.h"
#include "inspect/sock_diag.h"
#include "rules/sysctl_rules.h"
#include "sys/netlink.h"
#include "sys/sysctl.h"

namespace connscope::cli {

namespace {

struct AuditFlags {
  bool no_owners = false;
};

struct Gathered {
  rules::AuditEvidence evidence;
  std::vector<Endpoint> endpoints;  // parallel to evidence.listeners
  std::vector<std::string> notes;   // what could not be seen, for a person
};

bool have_ipv6() {
  struct stat st {};
  return ::stat("/proc/net/if_inet6", &st) == 0;
}

// Every LISTEN socket of one family, with its owner when the table has it.
Result<void> dump_listeners(sys::DumpSource& source, int family, const inspect::OwnerTable* owners,
                            Gathered& out) {
  sys::InetDiagRequest req;
  req.family = family;
  req.protocol = IPPROTO_TCP;
  req.states = sys::tcp_state_bit(inspect::tcp_state::kListen);
  auto stats = source.dump(req, [&](std::span<const std::byte> message) -> Result<void> {
    auto rec = inspect::parse_sock_diag_message(message, IPPROTO_TCP);
    if (!rec) return std::unexpected(rec.error());
    if (rec->state != inspect::tcp_state::kListen) return {};
    rules::AuditListener l;
    l.address = rec->local.to_string();
    l.port = rec->local.port;
    l.backlog_limit = rec->wqueue;
    if (owners != nullptr && rec->inode) {
      if (const auto* p = owners->owner(*rec->inode)) {
        l.pid = p->pid;
        l.command = p->command;
        l.nofile_soft = p->nofile_soft;
        l.open_fds = p->open_fds;
      }
    }
    out.evidence.listeners.push_back(std::move(l));
    out.endpoints.push_back(rec->local);
    return {};
  });
  if (!stats) return std::unexpected(stats.error());
  return {};
}

Result<Gathered> gather(const GlobalOptions& g, const AuditFlags& f) {
  Gathered out;
  for (const auto& name : rules::audited_sysctls()) {
    // A setting this kernel (or this network namespace) does not have is shown as such by the
    // rules; it is not an error.
    if (auto v = sys::read_sysctl(name)) out.evidence.sysctls.emplace(name, std::move(*v));
  }
  if (out.evidence.sysctls.empty()) {
    return fail("read /proc/sys", "no kernel setting could be read (is /proc mounted?)");
  }

  std::optional<inspect::OwnerTable> owners;
  if (f.no_owners) {
    out.notes.push_back(tr(g.lang, Msg::audit_no_owners));
  } else {
    auto table = inspect::scan_owners("/proc");
    if (!table) return std::unexpected(table.error());
    owners = std::move(*table);
    if (owners->unreadable() > 0) {
      out.notes.push_back(tr(g.lang, Msg::audit_need_root, fmt::arg("count", owners->unreadable())));
    }
  }

  auto sock = sys::SockDiagSocket::open();
  if (!sock) return std::unexpected(sock.error());
  const inspect::OwnerTable* table = owners ? &*owners : nullptr;
  if (auto r = dump_listeners(*sock, AF_INET, table, out); !r) return std::unexpected(r.error());
  // Without IPv6 in the kernel the dump is refused; that is not a failure of the audit.
  if (have_ipv6()) {
    if (auto r = dump_listeners(*sock, AF_INET6, table, out); !r) return std::unexpected(r.error());
  }
  return out;
}

nlohmann::json opt_json(const std::optional<std::string>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

nlohmann::json to_json(const Gathered& g, const rules::AuditReport& r) {
  nlohmann::json j;
  j["settings"] = nlohmann::json::array();
  for (const auto& s : r.settings) {
    nlohmann::json fix = nullptr;
    if (s.fix_command) fix = {{"command", *s.fix_command}, {"sysctl_d", opt_json(s.sysctl_d)}};
    j["settings"].push_back({{"name", s.name},
                             {"value", opt_json(s.value)},
                             {"recommended", s.recommended},
                             {"status", rules::setting_status_name(s.status)},
                             {"why", s.why},
                             {"fix", fix}});
  }
  j["listeners"] = nlohmann::json::array();
  for (std::size_t i = 0; i < r.listeners.size(); ++i) {
    const auto& c = r.listeners[i];
    const auto& l = c.listener;
    nlohmann::json lj{{"address", g.endpoints[i].address},
                      {"port", l.port},
                      {"backlog_limit", l.backlog_limit},
                      {"somaxconn", c.somaxconn ? nlohmann::json(*c.somaxconn) : nlohmann::json(nullptr)},
                      {"limited_by", c.limited_by_backlog ? "backlog" : "somaxconn"},
                      {"pid", l.pid ? nlohmann::json(*l.pid) : nlohmann::json(nullptr)},
                      {"command", l.pid ? nlohmann::json(l.command) : nlohmann::json(nullptr)},
                      {"nofile_soft", l.nofile_soft ? nlohmann::json(*l.nofile_soft) : nlohmann::json(nullptr)}};
    j["listeners"].push_back(std::move(lj));
  }
  j["findings"] = rules::findings_json(r.findings);
  j["notes"] = g.notes;
  return j;
}

// Wraps a long sentence under an indented label so the why/fix lines stay readable in a
// terminal; the text itself comes from the catalog.
std::string wrap(const std::string& text, std::size_t indent, std::size_t width = 100) {
  return wrap_columns(text, indent, width);
}

void print_human(const GlobalOptions& g, const Gathered& gathered, const rules::AuditReport& r) {
  const Style style{g.color};
  const Lang lang = g.lang;
  using rules::SettingStatus;
  auto status_text = [&](SettingStatus s) {
    switch (s) {
      case SettingStatus::ok: return tr(lang, Msg::audit_status_ok);
      case SettingStatus::below: return tr(lang, Msg::audit_status_below);
      case SettingStatus::info: return tr(lang, Msg::audit_status_info);
      case SettingStatus::unavailable: return tr(lang, Msg::audit_status_unavailable);
    }
    return std::string();
  };
  auto paint = [&](SettingStatus s, const std::string& text) {
    switch (s) {
      case SettingStatus::ok: return style.green(text);
      case SettingStatus::below: return style.red(text);
      case SettingStatus::info: return style.yellow(text);
      case SettingStatus::unavailable: return style.dim(text);
    }
    return text;
  };
  auto current = [&](const rules::SettingCheck& s) {
    return s.value ? *s.value : tr(lang, Msg::audit_unavailable);
  };

  // Widths in terminal columns, not bytes: a Chinese heading is three bytes a character and two
  // columns.
  std::size_t w_name = display_width(tr(lang, Msg::audit_col_setting));
  std::size_t w_cur = display_width(tr(lang, Msg::audit_col_current));
  std::size_t w_rec = display_width(tr(lang, Msg::audit_col_recommended));
  for (const auto& s : r.settings) {
    w_name = std::max(w_name, display_width(s.name));
    w_cur = std::max(w_cur, display_width(current(s)));
    w_rec = std::max(w_rec, display_width(s.recommended));
  }
  fmt::print("{}\n", style.bold(fmt::format("{}  {}  {}  {}", pad_right(tr(lang, Msg::audit_col_setting), w_name),
                                            pad_right(tr(lang, Msg::audit_col_current), w_cur),
                                            pad_right(tr(lang, Msg::audit_col_recommended), w_rec),
                                            tr(lang, Msg::audit_col_status))));
  std::size_t counts[4] = {0, 0, 0, 0};
  for (const auto& s : r.settings) {
    ++counts[static_cast<std::size_t>(s.status)];
    // Padding is applied before colouring: escape codes have no width.
    fmt::print("{}  {}  {}  {}\n", pad_right(s.name, w_name), pad_right(current(s), w_cur),
               pad_right(s.recommended, w_rec), paint(s.status, status_text(s.status)));
  }

  auto details = [&](SettingStatus which, Msg heading) {
    bool first = true;
    for (const auto& s : r.settings) {
      if (s.status != which) continue;
      if (first) fmt::print("\n{}\n", style.bold(tr(lang, heading)));
      first = false;
      fmt::print("{}\n", paint(which, tr(lang, Msg::audit_item_line, fmt::arg("name", s.name),
                                          fmt::arg("value", current(s)),
                                          fmt::arg("recommended", s.recommended))));
      fmt::print("{}\n", wrap("    " + tr(lang, Msg::finding_why, s.why), 9));
      if (s.fix_command) {
        fmt::print("{}\n", "    " + tr(lang, Msg::finding_fix, *s.fix_command));
        // Persisting is for what is below; a judgement call is tried first, then kept.
        if (which == SettingStatus::below) fmt::print("{}\n", style.dim(tr(lang, Msg::audit_persist_line, fmt::arg("line", *s.sysctl_d),
                                        fmt::arg("file", rules::kSysctlDFile))));
      }
    }
  };
  details(SettingStatus::below, Msg::audit_below_heading);
  details(SettingStatus::info, Msg::audit_info_heading);

  const bool any_limited = std::any_of(r.listeners.begin(), r.listeners.end(),
                                       [](const rules::ListenerCheck& c) { return c.limited_by_backlog; });
  if (any_limited) {
    const auto somaxconn = r.listeners.front().somaxconn.value_or(0);
    fmt::print("\n{}\n", style.bold(tr(lang, Msg::audit_listeners_heading, fmt::arg("somaxconn", somaxconn))));
    for (std::size_t i = 0; i < r.listeners.size(); ++i) {
      const auto& c = r.listeners[i];
      if (!c.limited_by_backlog) continue;
      const auto& l = c.listener;
      const std::string owner =
          l.pid ? tr(lang, Msg::f_owner_suffix, fmt::arg("command", l.command), fmt::arg("pid", *l.pid))
                : tr(lang, Msg::audit_owner_unknown);
      fmt::print("{}\n", tr(lang, Msg::audit_listener_line, fmt::arg("addr", gathered.endpoints[i].to_string()),
                            fmt::arg("limit", l.backlog_limit), fmt::arg("owner", owner)));
    }
    fmt::print("{}\n", style.dim(wrap(tr(lang, Msg::audit_listener_note), 2)));
  }

  // Settings findings were shown above with their why and fix; the others come here.
  bool first = true;
  for (const auto& f : r.findings) {
    if (f.id.starts_with("sysctl.")) continue;
    if (first) fmt::print("\n{}\n", style.bold(tr(lang, Msg::audit_findings_heading)));
    first = false;
    const std::string line = tr(lang, Msg::audit_finding_line, fmt::arg("severity", severity_text(lang, f.severity)),
                                fmt::arg("id", f.id), fmt::arg("summary", f.summary));
    fmt::print("{}\n", f.severity == rules::Severity::critical ? style.red(line) : style.yellow(line));
    fmt::print("{}\n", wrap("    " + tr(lang, Msg::finding_why, f.cause), 9));
    fmt::print("{}\n", wrap("    " + tr(lang, Msg::finding_fix, f.fix), 9));
  }

  const auto others = std::count_if(r.findings.begin(), r.findings.end(),
                                    [](const rules::Finding& f) { return !f.id.starts_with("sysctl."); });
  fmt::print("\n{}\n", tr(lang, Msg::audit_summary, fmt::arg("below", counts[1]), fmt::arg("info", counts[2]),
                          fmt::arg("ok", counts[0]), fmt::arg("unavailable", counts[3]),
                          fmt::arg("findings", others)));
  for (const auto& n : gathered.notes) fmt::print("{}\n", style.dim(n));
}

int run_audit(const GlobalOptions& g, const AuditFlags& f) {
  auto gathered = gather(g, f);
  if (!gathered) return report(g, gathered.error(), ExitCode::could_not_run);
  const auto result = rules::evaluate_audit(gathered->evidence, g.lang);
  if (g.json) {
    fmt::print("{}\n", to_json(*gathered, result).dump());
  } else {
    print_human(g, *gathered, result);
  }
  std::fflush(stdout);
  return static_cast<int>(result.below_recommendation() ? ExitCode::problems : ExitCode::healthy);
}

}  // namespace

std::function<int()> register_audit(CLI::App& app, const GlobalOptions& global) {
  auto flags = std::make_shared<AuditFlags>();
  const Lang lang = global.lang;
  auto* cmd = app.add_subcommand("audit", tr(lang, Msg::help_audit));
  cmd->footer(tr(lang, Msg::help_audit_footer));
  cmd->add_flag("--no-owners", flags->no_owners, tr(lang, Msg::help_audit_no_owners));
  return [cmd, flags, &global]() -> int {
    if (!cmd->parsed()) return -1;
    return run_audit(global, *flags);
  };
}

}  // namespace connscope::cli
