#pragma once
// The doctor's human lines, in the reader's language: a stage's status word and what the stage
// found (the stage table and the verdict line when no finding speaks). Pure: a report in, text out.

#include <string>

#include "core/text.h"
#include "probe/doctor.h"

namespace connscope::cli {

// "ok", "warn", "fail", "skipped" as a person reads them (JSON keeps probe::status_name).
std::string status_text(Lang lang, probe::StageStatus status);

// What stage `id` found, on one line ("" for a stage that has nothing to say).
std::string stage_summary(const probe::DoctorReport& r, probe::StageId id, Lang lang);

}  // namespace connscope::cli
