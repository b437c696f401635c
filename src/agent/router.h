#pragma once
// The agent's routes (docs/json.md), as one pure function: a request that passed the access
// check (auth.h) and a read-only view of the agent's state in, the response out. No I/O of its
// own, no clock, no timers: what it needs of the world is in the view (the history reader's
// queries are the one read it makes), so every route can be tested on a view built by hand.
//   GET/HEAD only (405)
//   /api/v1/snapshot  the latest fast and full samples, the sampler, the history writer
//   /api/v1/events    the start of an event stream (`stream = true`: the server keeps it open
//                     and sends it what the agent publishes; sse_event renders those)
//   /api/v1/history   series over time (history_series.h names them); 503 without history
//   /api/v1/findings  the current findings and their events over time
//   /api/v1/probes    the continuous probes (probes.h)
//   /api/v1/texts     the dashboard's words in the reader's language (dashboard_texts.h)
// The findings in /api/v1/snapshot, /events, /findings and /probes are stored as id + severity +
// evidence and rendered per request in the reader's language: ?lang=, else Accept-Language, else
// the agent's --lang (dashboard_texts.h: reader_lang); an unknown ?lang= is a 400 naming it.
//   /metrics          Prometheus metrics (metrics.h)
//   /, /assets/...    the dashboard (dashboard.h)
// anything else 404.

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "agent/fast_tier.h"
#include "agent/full_tier.h"
#include "agent/history.h"
#include "agent/history_writer.h"
#include "agent/http_message.h"
#include "agent/probe_status.h"
#include "agent/sampler.h"
#include "core/error.h"
#include "core/text.h"

namespace connscope::agent {

struct HistoryStatus {
  std::filesystem::path file;
  HistoryWriterStats writer;
  std::size_t listeners_not_charted = 0;  // ListenerSeriesGate::over_limit()
};

// What the routes read. The agent keeps one and updates it on the server's thread as samples
// come in; `now` and the history writer's stats are refreshed before each request.
struct AgentView {
  std::shared_ptr<const FastSample> fast;  // null before the first one
  std::optional<Error> fast_error;         // the latest fast sample failed
  std::shared_ptr<const FullSample> full;
  std::optional<Error> full_error;
  std::chrono::milliseconds full_wait{};
  SamplerInfo sampler;
  std::optional<HistoryStatus> history;  // none: history is off
  HistoryReader* reader = nullptr;       // none: history is off (the history routes answer 503)
  // Every probe's status (ProbeScheduler::snapshot); empty function: no probes.
  std::function<std::vector<ProbeStatus>()> probes;
  HistoryTime now{};  // for the history routes' default ranges
  // The agent's --lang: the language of the findings' texts for a request that names none
  // (neither ?lang= nor a supported Accept-Language).
  Lang lang = Lang::en;
};

HttpResponse route(const HttpRequest& r, const AgentView& view);

// One Server-Sent Event; JSON dumps have no line breaks, so the data is one line.
std::string sse_event(std::string_view name, const nlohmann::json& data);

}  // namespace connscope::agent
