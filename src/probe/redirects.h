#pragma once
// `doctor --follow`: which redirects are followed, and where the chain stops. The policy is pure;
// the runs are the caller's (a callback), so that it is unit-tested on recorded reports and the
// CLI keeps its own per-run state (the kernel events of each hop).

#include <functional>
#include <optional>
#include <string>

#include "core/error.h"
#include "probe/doctor_result.h"

namespace connscope::probe {

// Is this HTTP status one --follow follows (301, 302, 303, 307, 308)?
bool is_followed_redirect(unsigned status);

// Runs the doctor at `url`: the report of that run, or why no run could start there (its options
// could not be made: the chain then stops as unfollowable with that error). The report must stay
// alive until the next call (the caller keeps it).
using RunRedirect = std::function<Result<const DoctorReport*>(const std::string& url)>;

// Follows `first` (the run of `target`, as typed) through its redirects: each 3xx with a Location
// starts a run at the URL it names, resolved against the run's target. The chain ends at a final
// answer; at a URL already visited (loop; a redirect to itself included); after kMaxRedirects
// (too_many); or at a Location that is not a URL we can follow, or whose run cannot start
// (unfollowable, with the error). Returns the chain, whose final_target is the URL of the last
// run; apply it with apply_redirects() to that run's report.
RedirectChain follow_redirects(const std::string& target, const DoctorReport& first, const RunRedirect& run);

}  // namespace connscope::probe
