#include "cli/findings_text.h"

#include <fmt/format.h>

namespace connscope::cli {

std::string severity_text(Lang lang, rules::Severity s) {
  switch (s) {
    case rules::Severity::critical: return tr(lang, Msg::finding_severity_critical);
    case rules::Severity::warning: return tr(lang, Msg::finding_severity_warning);
    case rules::Severity::info: break;
  }
  return tr(lang, Msg::finding_severity_info);
}

std::string why_and_fix(const rules::Finding& f, Lang lang) {
  return fmt::format("    {}\n    {}", tr(lang, Msg::finding_why, f.cause), tr(lang, Msg::finding_fix, f.fix));
}

std::string finding_text(const rules::Finding& f, const Style& st, Lang lang) {
  const std::string sev = severity_text(lang, f.severity);
  return fmt::format("  {} {}: {}\n{}", f.severity == rules::Severity::critical ? st.red(sev) : st.yellow(sev),
                     st.bold(f.id), f.summary, why_and_fix(f, lang));
}

}  // namespace connscope::cli
