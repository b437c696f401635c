// What an HTTP client sends the agent: request targets with their query strings, parsed with
// Boost.URL into history requests (series selectors, from / to / step) and event queries
// (agent::parse_history_request, parse_event_request, query_param), and the Authorization and
// Cookie headers checked against the token (agent::bearer_matches, cookie_matches).

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "agent/api_query.h"
#include "agent/auth.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace connscope;
  using namespace connscope::agent;
  const auto text = fuzz::text(data, size);
  // A fixed "now" keeps runs reproducible.
  const HistoryTime now{std::chrono::milliseconds(1'700'000'000'000)};
  const ApiLimits limits;
  if (auto r = parse_history_request(text, now, limits)) {
    fuzz::check(r->series.size() <= limits.max_series, "series limit");
    fuzz::check(r->from <= r->to, "from before to");
  }
  if (auto q = parse_event_request(text, now, std::chrono::hours(24), limits)) {
    fuzz::check(q->limit >= 1 && q->limit <= limits.max_limit, "event limit");
  }
  (void)query_param(text, "series");
  (void)bearer_matches(text, "0123456789abcdef0123456789abcdef");
  (void)cookie_matches(text, "0123456789abcdef0123456789abcdef");
  return 0;
}
