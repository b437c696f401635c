#include "cli/load_render.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/display_width.h"
#include "core/duration.h"
#include "core/exit_code.h"

namespace connscope::cli {

namespace {

using load::Fate;
using nlohmann::json;

std::string elapsed(std::chrono::microseconds d) {
  return format_elapsed(std::chrono::duration_cast<std::chrono::nanoseconds>(d));
}

double seconds(load::Clock::duration d) { return std::chrono::duration<double>(d).count(); }

std::string rate_text(double per_second) {
  return per_second >= 100 ? fmt::format("{:.0f}", per_second) : fmt::format("{:.1f}", per_second);
}

Msg fate_words(Fate f) {
  switch (f) {
    case Fate::connected: return Msg::load_fate_connected;
    case Fate::connected_retried: return Msg::load_fate_connected_after_retransmits;
    case Fate::reset: return Msg::load_fate_reset;
    case Fate::refused: return Msg::load_fate_refused;
    case Fate::icmp: return Msg::load_fate_icmp;
    case Fate::timed_out: return Msg::load_fate_timed_out;
    case Fate::local_ports: return Msg::load_fate_local_ports;
    case Fate::local_nofile: return Msg::load_fate_local_nofile;
    case Fate::local_error: return Msg::load_fate_local_error;
  }
  return Msg::load_fate_local_error;
}

std::optional<Msg> fate_why(Fate f) {
  switch (f) {
    case Fate::connected: return std::nullopt;
    case Fate::connected_retried: return Msg::load_why_connected_after_retransmits;
    case Fate::reset: return Msg::load_why_reset;
    case Fate::refused: return Msg::load_why_refused;
    case Fate::icmp: return Msg::load_why_icmp;
    case Fate::timed_out: return Msg::load_why_timed_out;
    case Fate::local_ports: return Msg::load_why_local_ports;
    case Fate::local_nofile: return Msg::load_why_local_nofile;
    case Fate::local_error: return Msg::load_why_local_error;
  }
  return std::nullopt;
}

// Rows of cells, each column padded to its widest cell by display width; numbers right-aligned.
std::string table(const std::vector<std::vector<std::string>>& rows, const std::vector<bool>& right) {
  std::vector<std::size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()));
    for (std::size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], display_width(row[c]));
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line = "  ";
    for (std::size_t c = 0; c < row.size(); ++c) {
      if (c > 0) line += "  ";
      const bool r = c < right.size() && right[c];
      line += r ? pad_left(row[c], width[c]) : (c + 1 == row.size() ? row[c] : pad_right(row[c], width[c]));
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + '\n';
  }
  return out;
}

json ms_or_null(const std::optional<std::chrono::microseconds>& v) {
  if (!v) return nullptr;
  return static_cast<double>(v->count()) / 1000.0;
}

json latency_json(const load::LatencySummary& s) {
  return {{"count", s.count}, {"p50", ms_or_null(s.p50)},  {"p90", ms_or_null(s.p90)},
          {"p99", ms_or_null(s.p99)}, {"p99_9", ms_or_null(s.p999)}, {"max", ms_or_null(s.max)}};
}

std::string_view close_name(load::CloseHow c) { return c == load::CloseHow::rst ? "rst" : "fin"; }

}  // namespace

int load_exit_code(const load::LoadReport& r) {
  const bool all_first_syn = r.finished > 0 && r.count(Fate::connected) == r.finished;
  return static_cast<int>(all_first_syn ? ExitCode::healthy : ExitCode::problems);
}

std::string render_load_progress(const load::LoadProgress& p, Lang lang) {
  return tr(lang, Msg::load_progress,
            fmt::arg("elapsed", format_elapsed(std::chrono::duration_cast<std::chrono::nanoseconds>(p.elapsed))),
            fmt::arg("rate", rate_text(p.rate_last_second)), fmt::arg("in_flight", p.in_flight),
            fmt::arg("connected", p.connected), fmt::arg("failed", p.failed));
}

std::string render_load_text(const LoadRun& run, const load::LoadReport& r, Lang lang) {
  const auto& o = run.options;
  std::string out;
  const auto duration = format_duration(std::chrono::duration_cast<std::chrono::nanoseconds>(o.duration));
  const auto timeout = format_duration(std::chrono::duration_cast<std::chrono::nanoseconds>(o.timeout));
  const std::string target = run.target == run.address ? run.address : run.target + " (" + run.address + ")";
  out += o.rate ? tr(lang, Msg::load_header_open, fmt::arg("target", target), fmt::arg("rate", rate_text(*o.rate)),
                     fmt::arg("duration", duration), fmt::arg("timeout", timeout), fmt::arg("close", close_name(o.close)))
                : tr(lang, Msg::load_header_closed, fmt::arg("target", target),
                     fmt::arg("connections", o.connections.value_or(0)), fmt::arg("duration", duration),
                     fmt::arg("timeout", timeout), fmt::arg("close", close_name(o.close)));
  out += '\n';
  out += tr(lang, Msg::load_started, fmt::arg("started", r.started),
            fmt::arg("span", format_elapsed(std::chrono::duration_cast<std::chrono::nanoseconds>(r.start_span))),
            fmt::arg("rate", rate_text(r.start_rate())),
            fmt::arg("elapsed", format_elapsed(std::chrono::duration_cast<std::chrono::nanoseconds>(r.elapsed))),
            fmt::arg("in_flight", r.max_in_flight));
  out += '\n';
  if (r.interrupted) {
    out += tr(lang, Msg::load_interrupted,
              fmt::arg("elapsed", format_elapsed(std::chrono::duration_cast<std::chrono::nanoseconds>(r.elapsed))),
              fmt::arg("unfinished", r.unfinished));
    out += '\n';
  }
  if (r.late_starts > 0) {
    out += tr(lang, Msg::load_late, fmt::arg("late", r.late_starts), fmt::arg("lag", elapsed(r.max_start_lag)));
    out += '\n';
  }

  // The fates.
  std::vector<std::vector<std::string>> rows;
  rows.push_back({tr(lang, Msg::load_col_fate), tr(lang, Msg::load_col_count), tr(lang, Msg::load_col_share),
                  tr(lang, Msg::load_col_reason), tr(lang, Msg::load_col_finding)});
  for (const auto& f : r.fates) {
    const auto finding = load::fate_finding(f.outcome);
    rows.push_back({tr(lang, fate_words(f.outcome.fate)), std::to_string(f.count),
                    fmt::format("{:.1f} %", r.finished ? 100.0 * static_cast<double>(f.count) / static_cast<double>(r.finished) : 0.0),
                    std::string(f.outcome.reason), finding ? std::string(*finding) : std::string("-")});
  }
  out += '\n' + table(rows, {false, true, true, false, false});
  // What each failing fate means, once per fate.
  std::vector<Fate> said;
  for (const auto& f : r.fates) {
    const auto why = fate_why(f.outcome.fate);
    if (!why || std::find(said.begin(), said.end(), f.outcome.fate) != said.end()) continue;
    said.push_back(f.outcome.fate);
    out += wrap_columns("  " + tr(lang, Msg::load_why_line, fmt::arg("fate", tr(lang, fate_words(f.outcome.fate))),
                                  fmt::arg("why", tr(lang, *why))),
                        4, 100) +
           '\n';
  }
  if (!r.syn_retransmits.empty()) {
    std::string items;
    for (const auto& [n, count] : r.syn_retransmits) {
      if (!items.empty()) items += ", ";
      items += tr(lang, Msg::load_retransmits_item, fmt::arg("n", n), fmt::arg("count", count));
    }
    out += '\n' + tr(lang, Msg::load_why_line, fmt::arg("fate", tr(lang, Msg::load_retransmits_title)), fmt::arg("why", items)) + '\n';
  }

  // Latency.
  out += '\n' + tr(lang, Msg::load_latency_title) + '\n';
  if (r.connect.count == 0) {
    out += "  " + tr(lang, Msg::load_none_connected) + '\n';
  } else {
    std::vector<std::vector<std::string>> lat{{"", "p50", "p90", "p99", "p99.9", "max"}};
    for (const auto& [msg, s] : {std::pair{Msg::load_latency_connect, &r.connect}, std::pair{Msg::load_latency_handshake, &r.handshake}}) {
      lat.push_back({tr(lang, msg), elapsed(*s->p50), elapsed(*s->p90), elapsed(*s->p99), elapsed(*s->p999), elapsed(*s->max)});
    }
    out += table(lat, {false, true, true, true, true, true});
  }

  // Per second.
  out += '\n' + tr(lang, Msg::load_timeline_title) + '\n';
  std::vector<std::vector<std::string>> tl{{tr(lang, Msg::load_col_second), tr(lang, Msg::load_col_started),
                                            tr(lang, Msg::load_col_connected), tr(lang, Msg::load_col_retransmitted),
                                            tr(lang, Msg::load_col_failed), tr(lang, Msg::load_col_in_flight)}};
  for (std::size_t i = 0; i < r.timeline.size(); ++i) {
    const auto& s = r.timeline[i];
    tl.push_back({std::to_string(i), std::to_string(s.started), std::to_string(s.connected), std::to_string(s.retransmitted),
                  std::to_string(s.failed), std::to_string(s.max_in_flight)});
  }
  out += table(tl, {true, true, true, true, true, true});
  return out;
}

json render_load_json(const LoadRun& run, const load::LoadReport& r) {
  const auto& o = run.options;
  json fates = json::array();
  for (const auto& f : r.fates) {
    const auto finding = load::fate_finding(f.outcome);
    json row = {{"fate", std::string(load::fate_name(f.outcome.fate))},
                {"reason", std::string(f.outcome.reason)},
                {"finding", finding ? json(std::string(*finding)) : json(nullptr)},
                {"count", f.count}};
    if (f.outcome.fate == Fate::local_error || f.outcome.fate == Fate::local_nofile) row["errno"] = f.error;
    fates.push_back(std::move(row));
  }
  json retransmits = json::object();
  for (const auto& [n, count] : r.syn_retransmits) retransmits[std::to_string(n)] = count;
  json timeline = json::array();
  for (std::size_t i = 0; i < r.timeline.size(); ++i) {
    const auto& s = r.timeline[i];
    timeline.push_back({{"second", i}, {"started", s.started}, {"connected", s.connected},
                        {"retransmitted", s.retransmitted}, {"failed", s.failed}, {"max_in_flight", s.max_in_flight}});
  }
  return {{"target", run.target},
          {"address", run.address},
          {"mode", "connect"},
          {"model", o.rate ? "open_loop" : "closed_loop"},
          {"rate", o.rate ? json(*o.rate) : json(nullptr)},
          {"connections", o.connections ? json(*o.connections) : json(nullptr)},
          {"duration_ms", o.duration.count()},
          {"timeout_ms", o.timeout.count()},
          {"close", std::string(close_name(o.close))},
          {"in_flight_limit", o.max_in_flight},
          {"fd_limit", run.fd_limit},
          {"elapsed_ms", seconds(r.elapsed) * 1000},
          {"interrupted", r.interrupted},
          {"planned", o.rate ? json(r.planned) : json(nullptr)},
          {"started", r.started},
          {"finished", r.finished},
          {"unfinished", r.unfinished},
          {"start_span_ms", seconds(r.start_span) * 1000},
          {"achieved_rate", r.start_rate()},
          {"max_in_flight", r.max_in_flight},
          {"late_starts", r.late_starts},
          {"max_start_lag_ms", static_cast<double>(r.max_start_lag.count()) / 1000.0},
          {"fates", std::move(fates)},
          {"syn_retransmits", std::move(retransmits)},
          {"latency_ms", {{"connect", latency_json(r.connect)}, {"handshake", latency_json(r.handshake)}}},
          {"timeline", std::move(timeline)}};
}

}  // namespace connscope::cli
