#include "cli/findings_text.h"

#include <fmt/format.h>

namespace connscope::cli {

std::string finding_text(const rules::Finding& f, const Style& st) {
  const std::string sev(rules::severity_name(f.severity));
  return fmt::format("  {} {}: {}\n    why: {}\n    fix: {}",
                     f.severity == rules::Severity::critical ? st.red(sev) : st.yellow(sev), st.bold(f.id), f.summary,
                     f.cause, f.fix);
}

}  // namespace connscope::cli
