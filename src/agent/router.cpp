#include "agent/router.h"

#include <nlohmann/json.hpp>

#include "agent/api_query.h"
#include "agent/dashboard.h"
#include "agent/dashboard_texts.h"
#include "agent/metrics.h"
#include "agent/prometheus.h"
#include "agent/snapshot_json.h"
#include "rules/findings_json.h"

namespace connscope::agent {

namespace {

HttpResponse json_response(const nlohmann::json& j) {
  HttpResponse res;
  res.content_type = "application/json";
  res.body = j.dump();
  res.body += '\n';
  return res;
}

HttpResponse error_response(unsigned status, std::string message) {
  HttpResponse res;
  res.status = status;
  res.body = std::move(message);
  res.body += '\n';
  return res;
}

nlohmann::json error_json(const std::optional<Error>& e) {
  return e ? nlohmann::json(e->message()) : nlohmann::json(nullptr);
}

HttpResponse snapshot_route(const AgentView& v, Lang lang) {
  nlohmann::json j;
  j["fast"] = v.fast ? fast_json(*v.fast) : nlohmann::json(nullptr);
  j["fast_error"] = error_json(v.fast_error);
  j["full"] = v.full ? full_json(*v.full, lang) : nlohmann::json(nullptr);
  j["full_wait_ms"] = v.full_wait.count();
  j["sampler"] = sampler_json(v.sampler);
  if (v.history) {
    const auto& hs = v.history->writer;
    j["history"] = {{"file", v.history->file.string()},
                    {"writes", hs.jobs_done},
                    {"failed", hs.jobs_failed},
                    {"dropped", hs.jobs_dropped},
                    {"listeners_not_charted", v.history->listeners_not_charted},
                    {"last_error", error_json(hs.last_error)}};
  } else {
    j["history"] = nullptr;
  }
  j["full_error"] = error_json(v.full_error);
  return json_response(j);
}

HttpResponse events_route(const AgentView& v, Lang lang) {
  // The stream starts with the latest samples, so a page draws at once.
  HttpResponse res;
  res.stream = true;
  // Its channel is the reader's language: the agent publishes the findings in each (agent.cpp).
  res.stream_channel = std::string(lang_name(lang));
  res.body = "retry: 2000\n\n";
  if (v.fast) res.body += sse_event("fast", fast_json(*v.fast));
  if (v.full) res.body += sse_event("full", full_json(*v.full, lang));
  return res;
}

HttpResponse history_route(const std::string& target, const AgentView& v) {
  if (v.reader == nullptr) return error_response(503, "history is off (no data dir)");
  auto req = parse_history_request(target, v.now);
  if (!req) return error_response(400, req.error().message());
  if (req->series.empty()) return json_response({{"series_names", v.reader->series_names()}});
  std::vector<HistorySeries> out;
  for (const auto& name : req->series) {
    auto s = v.reader->query(HistoryQuery{name, req->from, req->to, req->step});
    if (!s) return error_response(400, s.error().message());
    out.push_back(std::move(*s));
  }
  return json_response(history_json(*req, out));
}

HttpResponse findings_route(const std::string& target, const AgentView& v, Lang lang) {
  nlohmann::json j;
  j["current"] = v.full ? rules::findings_json(v.full->findings, lang) : nlohmann::json::array();
  if (v.reader == nullptr) {
    j["events"] = nullptr;
    return json_response(j);
  }
  auto q = parse_event_request(target, v.now, std::chrono::hours(1));
  if (!q) return error_response(400, q.error().message());
  auto events = v.reader->findings(*q);
  if (!events) return error_response(500, events.error().message());
  j["events"] = finding_events_json(*events, lang);
  return json_response(j);
}

HttpResponse probes_route(const AgentView& v, Lang lang) {
  nlohmann::json list = nlohmann::json::array();
  if (v.probes) {
    for (const auto& p : v.probes()) list.push_back(probe_json(p, lang));
  }
  return json_response({{"probes", std::move(list)}});
}

HttpResponse metrics_route(const AgentView& v) {
  auto families = metric_families(v.fast.get(), v.full.get());
  if (v.probes) {
    const auto statuses = v.probes();
    for (auto& f : probe_metric_families(statuses)) families.push_back(std::move(f));
  }
  auto page = prom::render(families);
  if (!page) return error_response(500, page.error().message());
  HttpResponse res;
  res.content_type = std::string(prom::kContentType);
  res.body = std::move(*page);
  return res;
}

HttpResponse asset_route(const DashboardAsset& asset) {
  HttpResponse res;
  res.content_type = std::string(asset.content_type);
  res.body = std::string(asset.body);
  res.headers.emplace_back("ETag", std::string(asset.etag));
  // The page and its files are embedded: no-cache plus the ETag revalidates them cheaply.
  res.headers.emplace_back("Cache-Control", "no-cache");
  return res;
}

}  // namespace

std::string sse_event(std::string_view name, const nlohmann::json& data) {
  std::string out = "event: ";
  out += name;
  out += "\ndata: ";
  out += data.dump();
  out += "\n\n";
  return out;
}

HttpResponse route(const HttpRequest& r, const AgentView& view) {
  if (r.method != "GET" && r.method != "HEAD") return method_not_allowed();
  const std::string path = r.target.substr(0, r.target.find('?'));
  if (const DashboardAsset* asset = dashboard_asset(path)) return asset_route(*asset);
  if (path == "/api/v1/history") return history_route(r.target, view);
  // The routes that carry findings render them in the reader's language.
  if (path == "/api/v1/snapshot" || path == "/api/v1/events" || path == "/api/v1/probes" || path == "/api/v1/findings") {
    auto lang = reader_lang(query_param(r.target, "lang"), r.accept_language, view.lang);
    if (!lang) return error_response(400, lang.error().message());
    if (path == "/api/v1/snapshot") return snapshot_route(view, *lang);
    if (path == "/api/v1/events") return events_route(view, *lang);
    if (path == "/api/v1/probes") return probes_route(view, *lang);
    return findings_route(r.target, view, *lang);
  }
  if (path == "/api/v1/texts") {
    auto lang = dashboard_lang(query_param(r.target, "lang"), r.accept_language);
    if (!lang) return error_response(400, lang.error().message());
    return json_response(dashboard_texts(*lang));
  }
  if (path == "/metrics") return metrics_route(view);
  return error_response(404, "not found: " + path);
}

}  // namespace connscope::agent
