#pragma once
// The agent's samples as JSON (/api/v1/snapshot; docs/json.md). Pure.

#include <nlohmann/json.hpp>

#include "agent/fast_tier.h"
#include "agent/full_tier.h"

namespace connscope::agent {

nlohmann::json fast_json(const FastSample& s);
nlohmann::json full_json(const FullSample& s);

}  // namespace connscope::agent
