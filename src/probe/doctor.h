#pragma once
// One `connscope doctor` run: the stages of DESIGN.md in order (resolve → route → reach →
// connect → secure → talk → close), each with its own deadline, each stage's typed result kept
// whole; a stage after a failed one is skipped. What the results mean (findings and their texts)
// is rules/doctor_findings.h; how they look is the CLI's.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "probe/doctor_result.h"

namespace connscope::probe {

// Runs the stages on `ex` (an io_context run by one thread). Never throws for network or
// system errors: they are stage results. Reach (ICMP echo) runs alongside connect and the
// stages after it, so its waits do not add to the run: the report's total is then less than the
// sum of the stage times.
boost::asio::awaitable<DoctorReport> run_doctor(boost::asio::any_io_executor ex,
                                                DoctorOptions options);

}  // namespace connscope::probe
