#pragma once
// `connscope doctor`'s output: what one command run found (DoctorResult), and the pure renderers
// that say it, in the reader's language (render_text) or as docs/json.md's JSON (render_json).
// The golden tests (tests/unit/cli/render_golden_test.cpp) feed recorded results through them.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "cli/context.h"
#include "core/error.h"
#include "core/text.h"
#include "probe/doctor_result.h"
#include "rules/doctor_findings.h"
#include "watch/event.h"

namespace connscope::cli {

struct DoctorResult {
  std::string target;       // as typed
  std::uint16_t port = 0;   // of the first run
  probe::DoctorReport report;  // the last run's (--follow), with the redirect chain applied
  std::vector<rules::StageFinding> findings;
  // The finding that speaks for the verdict: the first of the deciding stage.
  std::optional<std::size_t> lead;
  // This host's kernel events about the doctor's own connections (a target on this host).
  std::vector<watch::Event> host_events;
  bool traced = false;               // the tracers ran
  std::optional<Error> tracing_off;  // why they could not be attached

  // The URL the report is about: the last of --follow's chain, else the target.
  [[nodiscard]] const std::string& final_target() const;
};

// The result of a run: the findings the rules give in `lang`, their lead, and the kernel events
// attached to the findings they concern (each finding of the deciding stage that names an address
// gets that address's events; the lead, naming none, gets them all). Pure.
DoctorResult doctor_result(std::string target, std::uint16_t port, probe::DoctorReport report,
                           std::vector<watch::Event> host_events, bool traced,
                           std::optional<Error> tracing_off, Lang lang);

// The verdict line, one line per stage, the findings and the kernel events; `verbose` adds why
// the kernel events were not watched. Ends with a newline.
std::string render_text(const DoctorResult& result, Lang lang, const Style& style, bool verbose = false);

// docs/json.md's doctor object. `lang` is for the kernel events' texts (the findings' are the
// result's own).
nlohmann::json render_json(const DoctorResult& result, Lang lang);

}  // namespace connscope::cli
