#pragma once
// Findings as the human output of every server-side command prints them: severity, id, summary,
// then why and fix.

#include <string>
#include <vector>

#include "cli/context.h"
#include "rules/finding.h"

namespace connscope::cli {

// One finding: "  critical listen.accept_queue_full: …\n    why: …\n    fix: …" (no final newline).
std::string finding_text(const rules::Finding& f, const Style& st);

}  // namespace connscope::cli
