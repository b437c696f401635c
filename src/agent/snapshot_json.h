#pragma once
// The agent's samples as JSON (/api/v1/snapshot; docs/json.md). Pure.

#include <nlohmann/json_fwd.hpp>

#include "agent/fast_tier.h"
#include "agent/full_tier.h"
#include "agent/sampler.h"
#include "core/text.h"

namespace connscope::agent {

nlohmann::json fast_json(const FastSample& s);
// The findings' texts in `lang` (the reader's: router.h).
nlohmann::json full_json(const FullSample& s, Lang lang);
// {"kind", "fast_interval_ms", "full_interval_ms", "bpf": {"enabled", "reason"}}; the reason is
// null when BPF is on or no reason was given.
nlohmann::json sampler_json(const SamplerInfo& s);

}  // namespace connscope::agent
