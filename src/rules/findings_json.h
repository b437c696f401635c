#pragma once
// Findings as JSON, one shape for every command (docs/json.md).

#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/text.h"
#include "rules/finding.h"

namespace connscope::rules {

nlohmann::json findings_json(const std::vector<rules::Finding>& findings);

// The same, with every finding's texts rendered again from its id, severity and evidence in
// `lang` (rules/finding_text.h): the agent answers each reader in the reader's language.
nlohmann::json findings_json(const std::vector<rules::Finding>& findings, Lang lang);

}  // namespace connscope::rules
