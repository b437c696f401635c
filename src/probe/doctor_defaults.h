#pragma once
// What a target means to the doctor when nothing else is said: the one mapping `connscope doctor
// TARGET` and the agent's configured probes share, so that the CLI and the agent run the same
// stages for the same target (tests/unit/cli/doctor_options_test.cpp holds them to it).

#include <chrono>
#include <cstdint>

#include "core/target.h"
#include "probe/doctor_result.h"

namespace connscope::probe {

// The doctor options for `target` on `port` (decided by the caller: the target's own or --port)
// with a per-stage `timeout` (at least 1 ms; less is raised to it):
// - protocol and TLS: the scheme's, or without a scheme what the port suggests (5432 → postgres,
//   443 → TLS and HTTP);
// - the URL's path, or "/";
// - identify: nothing says what the service speaks (no scheme, a port no protocol is known for),
//   so the doctor finds out (probe::Identification).
// Everything else keeps DoctorOptions' defaults. Pure.
DoctorOptions doctor_defaults(const Target& target, std::uint16_t port, std::chrono::milliseconds timeout);

}  // namespace connscope::probe
