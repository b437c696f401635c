#pragma once
// `connscope audit`'s output, as pure functions of what was gathered and what the rules made of
// it: the table, the details and the summary for a person (render_audit_text), and the JSON of
// docs/json.md (render_audit_json). No I/O; unit-tested in tests/unit/cli.

#include <string>

#include "cli/context.h"
#include "core/text.h"
#include "inspect/audit.h"
#include "rules/sysctl_rules.h"

namespace connscope::cli {

// The evidence the rules judge, from what inspect::gather_audit read.
rules::AuditEvidence audit_evidence(const inspect::AuditInputs& in);

// The report for a terminal, every line ending in a newline. `in` and `r` come from the same
// gathering (r.listeners parallel to in.listeners).
std::string render_audit_text(const inspect::AuditInputs& in, const rules::AuditReport& r, const Style& style,
                              Lang lang);

// One JSON object, without a final newline.
std::string render_audit_json(const inspect::AuditInputs& in, const rules::AuditReport& r);

}  // namespace connscope::cli
