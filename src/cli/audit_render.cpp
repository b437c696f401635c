#include "cli/audit_render.h"

#include <algorithm>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/findings_text.h"
#include "core/display_width.h"
#include "rules/findings_json.h"

namespace connscope::cli {

namespace {

nlohmann::json opt_json(const std::optional<std::string>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

// Wraps a long sentence under an indented label so the why/fix lines stay readable in a
// terminal; the text itself comes from the catalog.
std::string wrap(const std::string& text, std::size_t indent, std::size_t width = 100) {
  return wrap_columns(text, indent, width);
}

}  // namespace

rules::AuditEvidence audit_evidence(const inspect::AuditInputs& in) {
  rules::AuditEvidence e;
  e.sysctls = in.sysctls;
  for (const auto& seen : in.listeners) {
    rules::AuditListener l;
    l.address = seen.local.to_string();
    l.port = seen.local.port;
    l.backlog_limit = seen.backlog_limit;
    if (seen.owner) {
      l.pid = seen.owner->pid;
      l.command = seen.owner->command;
      l.nofile_soft = seen.owner->nofile_soft;
      l.open_fds = seen.owner->open_fds;
    }
    e.listeners.push_back(std::move(l));
  }
  return e;
}

std::string render_audit_json(const inspect::AuditInputs& in, const rules::AuditReport& r) {
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
    nlohmann::json lj{{"address", in.listeners[i].local.address},
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
  j["notes"] = in.notes;
  return j.dump();
}

std::string render_audit_text(const inspect::AuditInputs& in, const rules::AuditReport& r, const Style& style,
                               Lang lang) {
  std::string out;
  auto line = [&out](const std::string& s) {
    out += s;
    out += '\n';
  };
  // A line after a blank one.
  auto paragraph = [&out, &line](const std::string& s) {
    out += '\n';
    line(s);
  };
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
  line(style.bold(fmt::format("{}  {}  {}  {}", pad_right(tr(lang, Msg::audit_col_setting), w_name),
                              pad_right(tr(lang, Msg::audit_col_current), w_cur),
                              pad_right(tr(lang, Msg::audit_col_recommended), w_rec),
                              tr(lang, Msg::audit_col_status))));
  std::size_t counts[4] = {0, 0, 0, 0};
  for (const auto& s : r.settings) {
    ++counts[static_cast<std::size_t>(s.status)];
    // Padding is applied before colouring: escape codes have no width.
    line(fmt::format("{}  {}  {}  {}", pad_right(s.name, w_name), pad_right(current(s), w_cur),
                     pad_right(s.recommended, w_rec), paint(s.status, status_text(s.status))));
  }

  auto details = [&](SettingStatus which, Msg heading) {
    bool first = true;
    for (const auto& s : r.settings) {
      if (s.status != which) continue;
      if (first) paragraph(style.bold(tr(lang, heading)));
      first = false;
      line(paint(which, tr(lang, Msg::audit_item_line, fmt::arg("name", s.name), fmt::arg("value", current(s)),
                           fmt::arg("recommended", s.recommended))));
      line(wrap("    " + tr(lang, Msg::finding_why, s.why), 9));
      if (s.fix_command) {
        line("    " + tr(lang, Msg::finding_fix, *s.fix_command));
        // Persisting is for what is below; a judgement call is tried first, then kept.
        if (which == SettingStatus::below) {
          line(style.dim(tr(lang, Msg::audit_persist_line, fmt::arg("line", *s.sysctl_d),
                            fmt::arg("file", rules::kSysctlDFile))));
        }
      }
    }
  };
  details(SettingStatus::below, Msg::audit_below_heading);
  details(SettingStatus::info, Msg::audit_info_heading);

  const bool any_limited = std::any_of(r.listeners.begin(), r.listeners.end(),
                                       [](const rules::ListenerCheck& c) { return c.limited_by_backlog; });
  if (any_limited) {
    const auto somaxconn = r.listeners.front().somaxconn.value_or(0);
    paragraph(style.bold(tr(lang, Msg::audit_listeners_heading, fmt::arg("somaxconn", somaxconn))));
    for (std::size_t i = 0; i < r.listeners.size(); ++i) {
      const auto& c = r.listeners[i];
      if (!c.limited_by_backlog) continue;
      const auto& l = c.listener;
      const std::string owner =
          l.pid ? tr(lang, Msg::f_owner_suffix, fmt::arg("command", l.command), fmt::arg("pid", *l.pid))
                : tr(lang, Msg::audit_owner_unknown);
      line(tr(lang, Msg::audit_listener_line, fmt::arg("addr", in.listeners[i].local.to_string()),
              fmt::arg("limit", l.backlog_limit), fmt::arg("owner", owner)));
    }
    line(style.dim(wrap(tr(lang, Msg::audit_listener_note), 2)));
  }

  // Settings findings were shown above with their why and fix; the others come here.
  bool first = true;
  for (const auto& f : r.findings) {
    if (f.id.starts_with("sysctl.")) continue;
    if (first) paragraph(style.bold(tr(lang, Msg::audit_findings_heading)));
    first = false;
    const std::string text = tr(lang, Msg::audit_finding_line, fmt::arg("severity", severity_text(lang, f.severity)),
                                fmt::arg("id", f.id), fmt::arg("summary", f.summary));
    line(f.severity == rules::Severity::critical ? style.red(text) : style.yellow(text));
    line(wrap("    " + tr(lang, Msg::finding_why, f.cause), 9));
    line(wrap("    " + tr(lang, Msg::finding_fix, f.fix), 9));
  }

  const auto others = std::count_if(r.findings.begin(), r.findings.end(),
                                    [](const rules::Finding& f) { return !f.id.starts_with("sysctl."); });
  paragraph(tr(lang, Msg::audit_summary, fmt::arg("below", counts[1]), fmt::arg("info", counts[2]),
                 fmt::arg("ok", counts[0]), fmt::arg("unavailable", counts[3]), fmt::arg("findings", others)));
  for (const auto& n : in.notes) line(style.dim(n));
  return out;
}

}  // namespace connscope::cli
