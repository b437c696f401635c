#pragma once
// Findings as JSON, one shape for every command (docs/json.md).

#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "rules/finding.h"

namespace connscope::rules {

nlohmann::json findings_json(const std::vector<rules::Finding>& findings);

}  // namespace connscope::rules
