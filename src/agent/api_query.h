#pragma once
// The query strings of the agent's JSON API (docs/json.md), parsed with Boost.URL, and the
// JSON of its history and event answers. Pure: the request target and "now" in, a request or a
// one-line error (HTTP 400) out.
//
//   /api/v1/history?series=NAME[&series=NAME...]&from=&to=&step=
//   /api/v1/findings?from=&to=&limit=&lang=
// `from` and `to` are Unix milliseconds, "now", or a duration back from now ("-15m", "-1h",
// "-30d"); `to` defaults to now, `from` to `to` minus the default span. `step` is a duration;
// by default the smallest whole number of seconds that keeps a series within `max_points`.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "agent/history.h"
#include "core/error.h"
#include "core/text.h"

namespace connscope::agent {

struct HistoryRequest {
  std::vector<std::string> series;  // empty: list the series names instead
  HistoryTime from{};
  HistoryTime to{};
  std::chrono::milliseconds step{};
};

struct ApiLimits {
  std::size_t max_series = 64;     // per history request
  std::size_t max_points = 1000;   // per series when the step is chosen
  std::size_t max_step_points = 11'000;  // per series when the step is given
  // Over every series of a request: the answer is built on the server's thread, so its size
  // is bounded (about 15 MB of JSON).
  std::size_t max_total_points = 200'000;
  std::chrono::milliseconds default_span{std::chrono::minutes(15)};
  std::size_t default_limit = 1000;
  std::size_t max_limit = 10'000;
};

Result<HistoryRequest> parse_history_request(std::string_view target, HistoryTime now,
                                             const ApiLimits& limits = {});
// Events (findings): `span` is how far back `from` defaults to.
Result<EventQuery> parse_event_request(std::string_view target, HistoryTime now,
                                       std::chrono::milliseconds span, const ApiLimits& limits = {});

// The decoded value of a query parameter (the last one of that name); nullopt when absent or the
// target does not parse.
std::optional<std::string> query_param(std::string_view target, std::string_view key);

nlohmann::json history_json(const HistoryRequest& r, const std::vector<HistorySeries>& series);
// Each event's texts are rendered from its id, severity and evidence in `lang`
// (rules/finding_text.h); an event recorded by an older version whose evidence does not render
// keeps the summary it was stored with.
nlohmann::json finding_events_json(const std::vector<FindingEvent>& events, Lang lang);

}  // namespace connscope::agent
