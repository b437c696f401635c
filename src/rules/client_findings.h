#pragma once
// The client-side knowledge base (DESIGN.md, "Findings"): for each finding id the doctor can
// report, its stage, severity and three texts (what we saw, why it happens, what to do) from the
// text catalog. The texts name the evidence they quote ({endpoint}, {from}, {port}, ...), so a
// finding is its id plus its evidence; make_client_finding fills the texts in. Pure.

#include <map>
#include <span>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/text.h"
#include "probe/stage.h"
#include "rules/finding.h"

namespace connscope::rules {

struct ClientFindingSpec {
  std::string_view id;  // "tcp.refused"
  probe::StageId stage;
  Severity severity;
  Msg summary;
  Msg cause;
  Msg fix;
};

// Every client finding, in stage order.
std::span<const ClientFindingSpec> client_findings_catalog();
const ClientFindingSpec* find_client_spec(std::string_view id);

// The finding `id` with `evidence` and its texts. An unknown id, or evidence that lacks a name
// one of the texts quotes, is an error (a bug in the caller: tests cover every id).
Result<Finding> make_client_finding(std::string_view id, std::map<std::string, std::string> evidence,
                                    Lang lang);

// A catalog template with its {names} taken from `args` (fmt named arguments); an error naming
// the template's id when one is missing.
Result<std::string> format_named(Lang lang, Msg id, const std::map<std::string, std::string>& args);

}  // namespace connscope::rules
