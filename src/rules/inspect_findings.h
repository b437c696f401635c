#pragma once
// The server-side rules applied to one `inspect` run: builds the evidence from what was
// collected and evaluates it (pure).

#include <vector>

#include "core/text.h"
#include "inspect/collect.h"
#include "rules/finding.h"

namespace connscope::rules {

std::vector<Finding> inspect_findings(const inspect::Collected& collected, Lang lang);

}  // namespace connscope::rules
