#pragma once
// Every finding's texts, from its id, severity and evidence alone (DESIGN.md, "Findings"). A
// finding is stored and sent as id + severity + evidence; its summary, cause and fix are rendered
// when it is read, in the reader's language (the CLI's --lang, the agent API's ?lang= or
// Accept-Language). The rules produce their findings through here too: one path, one copy of the
// texts (core/text_findings.h, the client catalog in rules/client_findings.h, the audit's why_*).
//
// Evidence values that are words stay machine tokens in the evidence ("none", "1"/"0"/"unknown")
// and are rendered here; where a text depends on what the evidence holds (an owner, a port, the
// syncookies setting), each case is a whole sentence of the catalog and the renderer picks it. Pure.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/text.h"
#include "rules/finding.h"

namespace connscope::rules {

using Evidence = std::map<std::string, std::string>;

struct FindingText {
  std::string summary;
  std::string cause;
  std::string fix;
};

// The texts of finding `id`. An unknown id, or evidence that lacks a name a text quotes, is an
// error naming the id (a bug in the rule, or a finding stored by another version of connscope).
Result<FindingText> render_finding_text(std::string_view id, Severity severity, const Evidence& evidence, Lang lang);

// The finding with its texts filled in.
Result<Finding> render_finding(std::string_view id, Severity severity, Evidence evidence, Lang lang);

// The rules' way: render_finding, and when that fails (a rule whose evidence lacks a name its
// texts quote: a bug, which the tests cover for every id) the finding with the error as its
// summary, shown as such rather than dropped.
Finding make_finding(std::string_view id, Severity severity, Evidence evidence, Lang lang);

// `f` with its texts rendered again in `lang` from its id, severity and evidence; when that
// fails (a finding recorded by another version), its texts as they were.
Finding rendered_in(const Finding& f, Lang lang);

// Every finding id connscope can emit: the client catalog, the server, event and audit rules
// (sysctl.<name> for every audited setting). The tests render each of them in every language.
std::vector<std::string> known_finding_ids();

// The evidence values that are tokens the texts render, as (key, value); "*" is any value of
// the key. ICMP errors are tokens too: "icmp:TYPE:CODE", "icmp6:TYPE:CODE" (key "icmp").
std::vector<std::pair<std::string_view, std::string_view>> evidence_tokens();

// The audit's explanation of a setting ("why"): the message for sysctl `name` with `value`
// (tcp_syncookies=2 has its own); nullopt for a name the audit does not judge.
std::optional<Msg> sysctl_why(std::string_view name, std::string_view value);

// `id` in `lang` with its {names} taken from `args`, evidence tokens rendered first (the
// client catalog and the audit's why texts use it).
Result<std::string> render_with_evidence(Lang lang, Msg id, const Evidence& args);

}  // namespace connscope::rules
