#include "agent/api_query.h"

#include "core/error_text.h"

#include <boost/url/parse.hpp>
#include <charconv>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <optional>

#include "core/duration.h"
#include "rules/finding_text.h"

namespace connscope::agent {

namespace {

using nlohmann::json;

struct Params {
  std::vector<std::pair<std::string, std::string>> pairs;  // decoded, in order
  [[nodiscard]] std::optional<std::string> one(std::string_view key) const {
    std::optional<std::string> v;
    for (const auto& [k, val] : pairs) {
      if (k == key) v = val;
    }
    return v;
  }
};

// Browsers and curl send some characters that RFC 3986 does not allow in a query as they are
// ({, }, " and a few more), and series names are full of them: encode those before parsing.
std::string encode_unsafe(std::string_view target) {
  std::string out;
  out.reserve(target.size());
  for (char c : target) {
    const auto u = static_cast<unsigned char>(c);
    if (std::string_view("{}\"|\\^`<>").find(c) != std::string_view::npos || u >= 0x80) {
      out += fmt::format("%{:02X}", u);
    } else {
      out += c;
    }
  }
  return out;
}

Result<Params> parse_params(std::string_view raw_target, std::initializer_list<std::string_view> known) {
  const std::string target = encode_unsafe(raw_target);
  auto url = boost::urls::parse_origin_form(target);
  if (!url) return fail_text("query", Msg::err_query_target, {{"target", std::string(target)}});
  Params p;
  for (const auto& param : url->params()) {
    if (param.key.empty() && !param.has_value) continue;  // "a=1&&b=2", a trailing "&"
    bool ok = false;
    for (auto k : known) ok = ok || param.key == k;
    if (!ok) return fail_text("query", Msg::err_query_parameter, {{"name", std::string(param.key)}});
    p.pairs.emplace_back(param.key, param.value);
  }
  return p;
}

Result<std::chrono::milliseconds> parse_ms_duration(std::string_view text, std::string_view what) {
  auto d = parse_duration(text, what);
  if (!d) {
    Error e = d.error();  // the duration's own message and arguments, under this op
    e.op = "query";
    return std::unexpected(std::move(e));
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(*d);
}

// Unix ms, "now", or "-<duration>" back from now.
Result<HistoryTime> parse_time(std::string_view text, std::string_view what, HistoryTime now) {
  if (text == "now") return now;
  if (!text.empty() && text.front() == '-') {
    auto d = parse_ms_duration(text.substr(1), what);
    if (!d) return std::unexpected(d.error());
    return now - *d;
  }
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || v < 0) {
    return fail_text("query", Msg::err_query_time, {{"name", std::string(what)}, {"value", std::string(text)}});
  }
  return HistoryTime{std::chrono::milliseconds{v}};
}

Result<std::pair<HistoryTime, HistoryTime>> parse_range(const Params& p, HistoryTime now,
                                                        std::chrono::milliseconds span) {
  HistoryTime to = now;
  if (auto t = p.one("to")) {
    auto v = parse_time(*t, "to", now);
    if (!v) return std::unexpected(v.error());
    to = *v;
  }
  HistoryTime from = to - span;
  if (auto f = p.one("from")) {
    auto v = parse_time(*f, "from", now);
    if (!v) return std::unexpected(v.error());
    from = *v;
  }
  if (from > to) return fail_text("query", Msg::err_from_after_to);
  return std::pair{from, to};
}

json finding_evidence(const std::string& text) {
  // Stored by the agent from a json object; a row that does not parse is shown as text.
  auto j = json::parse(text, nullptr, false);
  return j.is_discarded() ? json(text) : j;
}

}  // namespace

std::optional<std::string> query_param(std::string_view target, std::string_view key) {
  const std::string encoded = encode_unsafe(target);
  auto url = boost::urls::parse_origin_form(encoded);
  if (!url) return std::nullopt;
  std::optional<std::string> v;
  for (const auto& param : url->params()) {
    if (param.key == key) v = param.value;
  }
  return v;
}

Result<HistoryRequest> parse_history_request(std::string_view target, HistoryTime now, const ApiLimits& limits) {
  auto p = parse_params(target, {"series", "from", "to", "step"});
  if (!p) return std::unexpected(p.error());
  HistoryRequest r;
  for (const auto& [k, v] : p->pairs) {
    if (k != "series") continue;
    if (v.empty()) return fail_text("query", Msg::err_query_series_empty);
    r.series.push_back(v);
  }
  if (r.series.size() > limits.max_series) {
    return fail_text("query", Msg::err_query_too_many_series,
                     {{"count", std::to_string(r.series.size())}, {"max", std::to_string(limits.max_series)}});
  }
  auto range = parse_range(*p, now, limits.default_span);
  if (!range) return std::unexpected(range.error());
  std::tie(r.from, r.to) = *range;
  const auto span = (r.to - r.from).count();
  if (auto s = p->one("step")) {
    auto step = parse_ms_duration(*s, "step");
    if (!step) return std::unexpected(step.error());
    if (step->count() < 1) return fail_text("query", Msg::err_step_too_small);
    r.step = *step;
    if (static_cast<std::size_t>(span / r.step.count()) >= limits.max_step_points) {
      return fail_text("query", Msg::err_step_too_many_points,
                       {{"step", std::string(*s)}, {"max", std::to_string(limits.max_step_points)}});
    }
  } else {
    const auto points = static_cast<std::int64_t>(limits.max_points);
    const std::int64_t seconds = std::max<std::int64_t>(1, (span / 1000 + points - 1) / points);
    r.step = std::chrono::seconds(seconds);
    while (span / r.step.count() >= points) r.step += std::chrono::seconds(1);
  }
  const auto per_series = static_cast<std::size_t>(span / r.step.count()) + 1;
  if (per_series * r.series.size() > limits.max_total_points) {
    return fail_text("query", Msg::err_query_too_many_points,
                     {{"series", std::to_string(r.series.size())}, {"points", std::to_string(per_series)},
                      {"max", std::to_string(limits.max_total_points)}});
  }
  return r;
}

Result<EventQuery> parse_event_request(std::string_view target, HistoryTime now, std::chrono::milliseconds span,
                                       const ApiLimits& limits) {
  // lang: the language the texts are rendered in (router.h), not a filter.
  auto p = parse_params(target, {"from", "to", "limit", "lang"});
  if (!p) return std::unexpected(p.error());
  EventQuery q;
  auto range = parse_range(*p, now, span);
  if (!range) return std::unexpected(range.error());
  std::tie(q.from, q.to) = *range;
  q.limit = limits.default_limit;
  if (auto l = p->one("limit")) {
    std::size_t v = 0;
    const auto [end, ec] = std::from_chars(l->data(), l->data() + l->size(), v);
    if (ec != std::errc{} || end != l->data() + l->size() || v < 1 || v > limits.max_limit) {
      return fail_text("query", Msg::err_query_limit,
                       {{"value", std::string(*l)}, {"max", std::to_string(limits.max_limit)}});

    }
    q.limit = v;
  }
  return q;
}

json history_json(const HistoryRequest& r, const std::vector<HistorySeries>& series) {
  json out{{"from_ms", unix_ms(r.from)}, {"to_ms", unix_ms(r.to)}, {"step_ms", r.step.count()}};
  json list = json::array();
  for (const auto& s : series) {
    json points = json::array();
    for (const auto& pt : s.points) {
      points.push_back({{"t", unix_ms(pt.time)}, {"avg", pt.avg}, {"min", pt.min}, {"max", pt.max}, {"count", pt.count}});
    }
    list.push_back({{"name", s.series}, {"source", history_source_name(s.source)}, {"points", std::move(points)}});
  }
  out["series"] = std::move(list);
  return out;
}

json finding_events_json(const std::vector<FindingEvent>& events, Lang lang) {
  json out = json::array();
  for (const auto& e : events) {
    json evidence = finding_evidence(e.evidence_json);
    std::string summary = e.summary;
    if (const auto sev = rules::severity_from_name(e.severity); sev && evidence.is_object()) {
      rules::Evidence ev;
      for (const auto& [k, v] : evidence.items()) {
        if (v.is_string()) ev[k] = v.get<std::string>();
      }
      if (auto text = rules::render_finding_text(e.finding_id, *sev, ev, lang)) summary = std::move(text->summary);
    }
    out.push_back({{"key", e.key},
                   {"id", e.finding_id},
                   {"severity", e.severity},
                   {"summary", std::move(summary)},
                   {"evidence", std::move(evidence)},
                   {"first_seen_ms", unix_ms(e.first_seen)},
                   {"last_seen_ms", unix_ms(e.last_seen)},
                   {"open", e.open}});
  }
  return out;
}

}  // namespace connscope::agent
