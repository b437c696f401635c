#include "cli/probe_render.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/display_width.h"
#include "core/duration.h"

namespace connscope::cli {

namespace {

using nlohmann::json;
using probe::ScanResult;
using probe::ScanState;

double ms(std::chrono::microseconds d) { return std::chrono::duration<double, std::milli>(d).count(); }
std::string dur(std::chrono::nanoseconds d) { return format_elapsed(d); }

std::string csv_field(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string reason_text(Lang lang, const ProbeRow& row) {
  const ScanResult& r = row.result;
  if (!row.dns_failure.empty()) return "dns " + row.dns_failure;
  if (r.queued && r.queued->offender &&
      (r.queued->origin == probe::ErrOrigin::icmp || r.queued->origin == probe::ErrOrigin::icmp6)) {
    return tr(lang, Msg::probe_reason_icmp, fmt::arg("what", r.reason),
              fmt::arg("from", *r.queued->offender));
  }
  if (r.state == ScanState::error && r.error != 0) {
    return tr(lang, Msg::probe_reason_errno, fmt::arg("what", r.reason),
              fmt::arg("op", r.failed_op.empty() ? "connect" : r.failed_op),
              fmt::arg("error", std::strerror(r.error)));
  }
  return std::string(r.reason);
}

std::string endpoint_text(const ProbeRow& row) {
  const Target& t = row.target;
  const std::string host = t.kind == HostKind::ipv6 ? "[" + t.host + "]" : t.host;
  std::string out = fmt::format("{}:{}", host, row.port);
  if (t.kind == HostKind::name && row.remote) out += " (" + row.remote->address + ")";
  return out;
}

json row_json(const ProbeRow& row) {
  const ScanResult& r = row.result;
  json j;
  j["type"] = "endpoint";
  j["target"] = row.text;
  j["host"] = row.target.host;
  j["address"] = row.remote ? json(row.remote->address) : json(nullptr);
  j["port"] = row.port;
  j["state"] = probe::scan_state_name(r.state);
  j["reason"] = row.dns_failure.empty() ? json(r.reason) : json("dns-" + row.dns_failure);
  j["from"] = r.queued && r.queued->offender ? json(*r.queued->offender) : json(nullptr);
  j["icmp"] = r.queued && (r.queued->origin == probe::ErrOrigin::icmp ||
                           r.queued->origin == probe::ErrOrigin::icmp6)
                  ? json{{"origin", probe::origin_name(r.queued->origin)},
                         {"type", r.queued->type},
                         {"code", r.queued->code}}
                  : json(nullptr);
  j["failure"] = probe::connect_failure_name(r.failure);
  const auto finding = probe::finding_id(r.failure);
  j["finding"] = finding ? json(*finding) : json(nullptr);
  j["errno"] = r.error != 0 ? json(r.error) : json(nullptr);
  j["failed_op"] = r.failed_op.empty() ? json(nullptr) : json(r.failed_op);
  j["timed_out"] = r.timed_out;
  const bool started = row.remote && (r.failed_op.empty() || r.failed_op == "connect");
  j["start_ms"] = started ? json(ms(r.start)) : json(nullptr);
  j["time_ms"] = started ? json(ms(r.elapsed)) : json(nullptr);
  if (r.stages) {
    const auto& st = *r.stages;
    if (st.tls) {
      j["tls"] = {{"outcome", probe::outcome_name(*st.tls)},
                  {"version", st.tls_version.empty() ? json(nullptr) : json(st.tls_version)},
                  {"verified", st.tls_verified},
                  {"days_to_expiry", st.days_to_expiry ? json(*st.days_to_expiry) : json(nullptr)}};
    }
    if (st.talk) {
      j["talk"] = {{"protocol", protocol_name(st.protocol)},
                   {"outcome", probe::outcome_name(*st.talk)},
                   {"reply", st.reply.empty() ? json(nullptr) : json(st.reply)},
                   {"http_status", st.http_status ? json(*st.http_status) : json(nullptr)}};
    }
  }
  return j;
}

std::string tls_text(Lang lang, const ProbeRow& row) {
  if (!row.result.stages || !row.result.stages->tls) return "";
  const auto& st = *row.result.stages;
  if (st.days_to_expiry) {
    return tr(lang, Msg::probe_tls_days, fmt::arg("version", st.tls_version),
              fmt::arg("days", *st.days_to_expiry));
  }
  return std::string(probe::outcome_name(*st.tls));
}

std::string talk_text(const ProbeRow& row) {
  if (!row.result.stages || !row.result.stages->talk) return "";
  const auto& st = *row.result.stages;
  if (!st.reply.empty()) return st.reply;
  return std::string(probe::outcome_name(*st.talk));
}

bool shown(const ProbeResult& p, const ProbeRow& row) {
  return !p.failed_only || row.result.state != ScanState::open;
}

// The connect started (a name that resolved, no failed setup call): its times mean something.
bool started(const ProbeRow& row) {
  return row.remote && (row.result.failed_op.empty() || row.result.failed_op == "connect");
}

std::chrono::nanoseconds elapsed_of(const ProbeResult& p) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(p.stats.elapsed);
}

double per_second(const ProbeResult& p) {
  const double seconds = std::max(1e-9, std::chrono::duration<double>(elapsed_of(p)).count());
  return static_cast<double>(p.endpoints) / seconds;
}

}  // namespace

std::size_t ProbeResult::count(ScanState state) const {
  return static_cast<std::size_t>(
      std::count_if(rows.begin(), rows.end(), [state](const ProbeRow& r) { return r.result.state == state; }));
}

std::string render_json(const ProbeResult& p) {
  std::string out;
  for (const auto& row : p.rows) {
    if (shown(p, row)) out += row_json(row).dump() + "\n";
  }
  json s{{"type", "summary"},
         {"total", p.rows.size()},
         {"open", p.count(ScanState::open)},
         {"closed", p.count(ScanState::closed)},
         {"filtered", p.count(ScanState::filtered)},
         {"unreachable", p.count(ScanState::unreachable)},
         {"error", p.count(ScanState::error)},
         {"duration_ms", std::chrono::duration<double, std::milli>(elapsed_of(p)).count()},
         {"endpoints_per_second", per_second(p)},
         {"timeout_ms", p.timeout.count()},
         {"concurrency", p.concurrency},
         {"concurrency_requested", p.concurrency_requested},
         {"fd_limit", p.fd_limit},
         {"max_in_flight", p.stats.max_in_flight},
         {"shards", p.stats.shards},
         {"fd_waits", p.stats.fd_waits},
         {"rate_limit", p.rate ? json(*p.rate) : json(nullptr)}};
  out += s.dump() + "\n";
  return out;
}

std::string render_csv(const ProbeResult& p) {
  std::string out = "target,host,address,port,state,reason,from,time_ms,errno,tls_version,days_to_expiry,talk\n";
  for (const auto& row : p.rows) {
    if (!shown(p, row)) continue;
    const auto& r = row.result;
    const std::string reason = row.dns_failure.empty() ? std::string(r.reason) : "dns-" + row.dns_failure;
    std::string line;
    line.append(csv_field(row.text)).append(",");
    line.append(csv_field(row.target.host)).append(",");
    line.append(csv_field(row.remote ? row.remote->address : "")).append(",");
    line.append(std::to_string(row.port)).append(",");
    line.append(csv_field(probe::scan_state_name(r.state))).append(",");
    line.append(csv_field(reason)).append(",");
    line.append(csv_field(r.queued && r.queued->offender ? *r.queued->offender : "")).append(",");
    line.append(started(row) ? fmt::format("{:.3f}", ms(r.elapsed)) : "").append(",");
    line.append(r.error != 0 ? std::to_string(r.error) : "").append(",");
    const bool has_tls = r.stages && r.stages->tls;
    line.append(csv_field(has_tls ? r.stages->tls_version : "")).append(",");
    line.append(has_tls && r.stages->days_to_expiry ? std::to_string(*r.stages->days_to_expiry) : "").append(",");
    line.append(csv_field(talk_text(row)));
    out += line + "\n";
  }
  return out;
}

std::string render_summary(const ProbeResult& p, Lang lang) {
  std::string out =
      tr(lang, Msg::probe_summary, fmt::arg("total", p.rows.size()), fmt::arg("elapsed", dur(elapsed_of(p))),
         fmt::arg("rate", static_cast<long long>(per_second(p))), fmt::arg("open", p.count(ScanState::open)),
         fmt::arg("closed", p.count(ScanState::closed)), fmt::arg("filtered", p.count(ScanState::filtered)),
         fmt::arg("unreachable", p.count(ScanState::unreachable)), fmt::arg("error", p.count(ScanState::error))) +
      "\n";
  if (p.stats.fd_waits > 0) out += tr(lang, Msg::probe_backpressure, fmt::arg("waits", p.stats.fd_waits)) + "\n";
  return out;
}

std::string render_text(const ProbeResult& p, Lang lang, const Style& st) {
  std::string out;
  std::vector<std::vector<std::string>> cells;
  std::vector<ScanState> states;
  std::vector<std::string> head{tr(lang, Msg::probe_col_endpoint), tr(lang, Msg::probe_col_state),
                                tr(lang, Msg::probe_col_time), tr(lang, Msg::probe_col_reason)};
  if (p.tls_column) head.push_back(tr(lang, Msg::probe_col_tls));
  if (p.talk_column) head.push_back(tr(lang, Msg::probe_col_talk));
  for (const auto& row : p.rows) {
    if (!shown(p, row)) continue;
    const auto& r = row.result;
    std::vector<std::string> c{endpoint_text(row), std::string(probe::scan_state_name(r.state)),
                               started(row) ? dur(r.elapsed) : "", reason_text(lang, row)};
    if (p.tls_column) c.push_back(tls_text(lang, row));
    if (p.talk_column) c.push_back(talk_text(row));
    cells.push_back(std::move(c));
    states.push_back(r.state);
  }
  if (cells.empty()) {
    if (p.failed_only) out += st.green(tr(lang, Msg::probe_none_failed)) + "\n";
  } else {
    std::vector<std::size_t> width(head.size(), 0);
    for (std::size_t k = 0; k < head.size(); ++k) width[k] = display_width(head[k]);
    for (const auto& c : cells) {
      for (std::size_t k = 0; k < c.size(); ++k) width[k] = std::max(width[k], display_width(c[k]));
    }
    auto add_row = [&](const std::vector<std::string>& c, std::optional<ScanState> state) {
      std::string line;
      for (std::size_t k = 0; k < c.size(); ++k) {
        // Padded before colouring, so the escape codes do not shift the columns.
        std::string cell = k + 1 == c.size() ? c[k] : pad_right(c[k], width[k]);
        if (k == 1 && state) {
          if (*state == ScanState::open) cell = st.green(cell);
          else if (*state == ScanState::closed || *state == ScanState::filtered) cell = st.yellow(cell);
          else cell = st.red(cell);
        }
        if (k > 0) line.append("  ");
        line.append(cell);
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out += line + "\n";
    };
    add_row(head, std::nullopt);
    for (std::size_t i = 0; i < cells.size(); ++i) add_row(cells[i], states[i]);
  }
  return out + render_summary(p, lang);
}

}  // namespace connscope::cli
