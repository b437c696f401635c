#pragma once
// Findings as the human output of every command prints them: severity, id, summary, then why and
// fix, in the reader's language (ids stay as they are: they are API).

#include <string>

#include "cli/context.h"
#include "core/text.h"
#include "rules/finding.h"

namespace connscope::cli {

// The severity as a person reads it ("critical", "严重"); JSON keeps rules::severity_name.
std::string severity_text(Lang lang, rules::Severity s);

// One finding: "  critical listen.accept_queue_full: …\n    why: …\n    fix: …" (no final newline).
std::string finding_text(const rules::Finding& f, const Style& st, Lang lang);

// Its two last lines, indented by four: "    why: …\n    fix: …" (no final newline).
std::string why_and_fix(const rules::Finding& f, Lang lang);

}  // namespace connscope::cli
