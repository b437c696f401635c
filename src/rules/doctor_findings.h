#pragma once
// From a doctor run's stage results to its findings: which ids apply (the stages' own
// classifications decide) and the evidence their texts quote. Pure.

#include <vector>

#include "core/text.h"
#include "probe/doctor_result.h"
#include "probe/stage.h"
#include "rules/finding.h"

namespace connscope::rules {

struct StageFinding {
  probe::StageId stage;
  Finding finding;
};

// In stage order; within connect, in the order the addresses were tried.
std::vector<StageFinding> doctor_findings(const probe::DoctorReport& report, Lang lang);

}  // namespace connscope::rules
