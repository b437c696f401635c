#include "cli/trace_render.h"

#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/display_width.h"
#include "core/duration.h"
#include "probe/icmp.h"
#include "probe/icmp_echo.h"

namespace connscope::cli {

namespace {

using nlohmann::json;
using probe::HopLoss;
using probe::ProbeReply;
using probe::TraceHop;
using probe::TraceMode;
using probe::TraceResult;
using probe::TraceVerdict;

double ms(std::chrono::microseconds d) { return std::chrono::duration<double, std::milli>(d).count(); }
json ms_or_null(const std::optional<std::chrono::microseconds>& d) { return d ? json(ms(*d)) : json(nullptr); }
std::string dur(std::chrono::microseconds d) {
  return format_elapsed(std::chrono::duration_cast<std::chrono::nanoseconds>(d));
}
std::string percent(double p) { return fmt::format("{:.0f}%", p); }

// ---- words ----

std::string icmp_text(Lang lang, probe::ErrOrigin origin, std::uint8_t type, std::uint8_t code) {
  const auto name = probe::icmp_known_name(origin, type, code, lang);
  if (!name) return tr(lang, Msg::trace_icmp_code, fmt::arg("type", type), fmt::arg("code", code));
  return tr(lang, Msg::trace_icmp_code_named, fmt::arg("type", type), fmt::arg("code", code), fmt::arg("name", *name));
}

std::string errno_text(int error) { return Error{"", error, ""}.message(); }

std::string reply_text(Lang lang, const probe::TraceProbe& p) {
  switch (p.reply) {
    case ProbeReply::time_exceeded: return tr(lang, Msg::trace_reply_time_exceeded);
    case ProbeReply::unreachable:
      return tr(lang, Msg::trace_reply_unreachable, fmt::arg("icmp", icmp_text(lang, p.origin, p.icmp_type, p.icmp_code)));
    case ProbeReply::port_unreachable: return tr(lang, Msg::trace_reply_port_unreachable);
    case ProbeReply::syn_ack: return tr(lang, Msg::trace_reply_syn_ack);
    case ProbeReply::rst: return tr(lang, Msg::trace_reply_rst);
    case ProbeReply::echo_reply: return tr(lang, Msg::trace_reply_echo_reply);
    case ProbeReply::udp_reply: return tr(lang, Msg::trace_reply_udp_reply);
    case ProbeReply::local_error: return tr(lang, Msg::trace_reply_local_error, fmt::arg("error", errno_text(p.error)));
    case ProbeReply::timeout: return tr(lang, Msg::trace_reply_timeout);
  }
  return {};
}

// The distinct answers of a hop in order, with counts when there is more than one kind.
std::string answers_text(Lang lang, const TraceHop& hop) {
  std::vector<std::pair<std::string, int>> kinds;
  for (const auto& p : hop.probes) {
    const std::string t = reply_text(lang, p);
    auto it = std::find_if(kinds.begin(), kinds.end(), [&](const auto& k) { return k.first == t; });
    if (it == kinds.end()) {
      kinds.emplace_back(t, 1);
    } else {
      ++it->second;
    }
  }
  std::string out;
  for (const auto& [text, n] : kinds) {
    if (!out.empty()) out.append(", ");
    out.append(text);
    if (kinds.size() > 1) out.append(fmt::format(" x{}", n));
  }
  return out;
}

std::string with_name(const std::string& address, const std::map<std::string, std::string>& names) {
  auto it = names.find(address);
  if (it == names.end() || it->second == address) return address;
  return fmt::format("{} ({})", it->second, address);
}

std::string hop_address(Lang lang, const TraceHop& hop, const std::map<std::string, std::string>& names) {
  if (hop.responders.empty()) return tr(lang, Msg::trace_no_answer_mark);
  std::string out;
  for (const auto& r : hop.responders) {
    if (!out.empty()) out.append(" ");
    out.append(with_name(r, names));
  }
  return out;
}

std::string loss_note(Lang lang, HopLoss loss) {
  if (loss == HopLoss::rate_limited) return tr(lang, Msg::trace_loss_rate_limited);
  if (loss == HopLoss::path_loss) return tr(lang, Msg::trace_loss_path);
  if (loss == HopLoss::silent) return tr(lang, Msg::trace_loss_silent);
  return {};
}

std::string verdict_line(Lang lang, const TraceResult& r, const std::map<std::string, std::string>& names) {
  const auto& v = r.info;
  const std::string port = std::to_string(r.destination.port);
  const std::string reporter = v.reporter ? with_name(*v.reporter, names) : std::string("?");
  if (v.verdict == TraceVerdict::reached) {
    const std::string address = with_name(r.destination.address, names);
    const auto a = fmt::arg("address", address);
    const auto h = fmt::arg("hop", v.hop);
    const auto p = fmt::arg("port", port);
    switch (v.answer) {
      case ProbeReply::syn_ack: return tr(lang, Msg::trace_reached_syn_ack, a, h, p);
      case ProbeReply::rst: return tr(lang, Msg::trace_reached_rst, a, h, p);
      case ProbeReply::port_unreachable:
        return r.mode == TraceMode::udp ? tr(lang, Msg::trace_reached_port_unreachable_udp, a, h, p)
                                        : tr(lang, Msg::trace_reached_port_unreachable_tcp, a, h, p);
      case ProbeReply::echo_reply: return tr(lang, Msg::trace_reached_echo, a, h);
      case ProbeReply::udp_reply: return tr(lang, Msg::trace_reached_udp_reply, a, h, p);
      default:
        return tr(lang, Msg::trace_reached_icmp, a, h,
                  fmt::arg("icmp", icmp_text(lang, v.origin, v.icmp_type, v.icmp_code)));
    }
  }
  if (v.verdict == TraceVerdict::stopped) {
    if (v.hop == 0) return tr(lang, Msg::trace_stopped_none, fmt::arg("first", r.hops.empty() ? 1 : r.hops.front().ttl));
    return tr(lang, Msg::trace_stopped, fmt::arg("hop", v.hop), fmt::arg("address", reporter),
              fmt::arg("next", v.hop + 1));
  }
  if (v.verdict == TraceVerdict::unreachable) {
    if (v.answer == ProbeReply::local_error) {
      return tr(lang, Msg::trace_unreachable_local, fmt::arg("error", errno_text(v.error)));
    }
    return tr(lang, Msg::trace_unreachable, fmt::arg("hop", v.hop), fmt::arg("address", reporter),
              fmt::arg("icmp", icmp_text(lang, v.origin, v.icmp_type, v.icmp_code)));
  }
  return r.error ? r.error->message(lang) : std::string("error");
}

std::vector<std::string> loss_notes(Lang lang, const TraceResult& r, const std::map<std::string, std::string>& names) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < r.hops.size(); ++i) {
    const auto& h = r.hops[i];
    const std::string address = h.responders.empty() ? "*" : with_name(h.responders.front(), names);
    if (h.loss == HopLoss::rate_limited) {
      double later = 100.0;
      for (std::size_t j = i + 1; j < r.hops.size(); ++j) {
        if (r.hops[j].stats.sent > 0) later = std::min(later, r.hops[j].stats.loss_percent);
      }
      out.push_back(tr(lang, Msg::trace_note_rate_limited, fmt::arg("hop", h.ttl), fmt::arg("address", address),
                       fmt::arg("loss", percent(h.stats.loss_percent)), fmt::arg("later", percent(later))));
    } else if (h.loss == HopLoss::path_loss) {
      out.push_back(tr(lang, Msg::trace_note_path_loss, fmt::arg("hop", h.ttl), fmt::arg("address", address),
                       fmt::arg("loss", percent(h.stats.loss_percent))));
    } else if (h.loss == HopLoss::silent) {
      out.push_back(tr(lang, Msg::trace_note_silent, fmt::arg("hop", h.ttl)));
    }
  }
  return out;
}

std::string mtu_line(Lang lang, const probe::PathMtu& m, std::uint16_t port,
                     const std::map<std::string, std::string>& names) {
  if (m.outcome == probe::MtuOutcome::error) {
    return tr(lang, Msg::trace_mtu_error, fmt::arg("error", m.error ? m.error->message(lang) : std::string("?")));
  }
  const std::string confirmed = m.outcome == probe::MtuOutcome::confirmed
                                    ? tr(lang, Msg::trace_mtu_confirmed, fmt::arg("mtu", m.mtu))
                                    : tr(lang, Msg::trace_mtu_unconfirmed, fmt::arg("mtu", m.mtu), fmt::arg("port", port));
  if (!m.reporter) {
    return tr(lang, Msg::trace_mtu_whole_path, fmt::arg("mtu", m.mtu), fmt::arg("confirmed", confirmed));
  }
  if (m.hop.value_or(0) == 0) {
    return tr(lang, Msg::trace_mtu_drop_unknown_hop, fmt::arg("mtu", m.mtu), fmt::arg("address", with_name(*m.reporter, names)),
              fmt::arg("local", m.local_mtu), fmt::arg("confirmed", confirmed));
  }
  return tr(lang, Msg::trace_mtu_drop, fmt::arg("mtu", m.mtu), fmt::arg("hop", *m.hop),
            fmt::arg("address", with_name(*m.reporter, names)), fmt::arg("local", m.local_mtu),
            fmt::arg("confirmed", confirmed));
}

// "raw socket", "ping socket".
std::string method_words(probe::ReachMethod m) {
  std::string out(probe::reach_method_name(m));
  std::replace(out.begin(), out.end(), '_', ' ');
  return out;
}

// ---- JSON ----

json icmp_json(probe::ErrOrigin origin, std::uint8_t type, std::uint8_t code) {
  if (origin != probe::ErrOrigin::icmp && origin != probe::ErrOrigin::icmp6) return nullptr;
  return {{"origin", probe::origin_name(origin)}, {"type", type}, {"code", code}};
}

json name_json(const std::optional<std::string>& address, const std::map<std::string, std::string>& names) {
  if (!address) return nullptr;
  auto it = names.find(*address);
  return it == names.end() ? json(nullptr) : json(it->second);
}

}  // namespace

std::string render_trace_json(const TraceShown& target, const TraceResult& r, const probe::TraceOptions& o,
                              const std::map<std::string, std::string>& names) {
  json j;
  j["target"] = target.typed;
  j["address"] = r.destination.address;
  j["family"] = r.destination.family == AF_INET6 ? "ipv6" : "ipv4";
  j["mode"] = probe::trace_mode_name(r.mode);
  j["port"] = r.mode == TraceMode::icmp ? json(nullptr) : json(r.destination.port);
  j["icmp_method"] = r.mode == TraceMode::icmp ? json(probe::reach_method_name(r.icmp_method)) : json(nullptr);
  j["first_hop"] = o.first_ttl;
  j["max_hops"] = o.max_hops;
  j["probes"] = o.probes;
  j["cycles"] = o.cycles;
  j["interval_ms"] = o.interval.count();
  j["probe_timeout_ms"] = o.probe_timeout.count();
  const auto& v = r.info;
  json verdict{{"result", probe::trace_verdict_name(r.verdict)}};
  if (r.verdict != TraceVerdict::error) {
    verdict["hop"] = v.hop;
    verdict["reporter"] = v.reporter ? json(*v.reporter) : json(nullptr);
    verdict["answer"] = r.verdict == TraceVerdict::stopped && v.hop == 0 ? json(nullptr) : json(probe::probe_reply_name(v.answer));
    verdict["icmp"] = icmp_json(v.origin, v.icmp_type, v.icmp_code);
    verdict["errno"] = v.error != 0 ? json(v.error) : json(nullptr);
    verdict["first_silent_hop"] = r.verdict == TraceVerdict::stopped ? json(v.hop + 1) : json(nullptr);
    verdict["last_responding_hop"] = r.last_responding_hop();
  }
  j["verdict"] = verdict;
  json hops = json::array();
  for (const auto& h : r.hops) {
    json responders = json::array();
    for (const auto& a : h.responders) responders.push_back({{"address", a}, {"name", name_json(a, names)}});
    json probes = json::array();
    for (const auto& p : h.probes) {
      probes.push_back({{"round", p.round},
                        {"reply", probe::probe_reply_name(p.reply)},
                        {"from", p.from ? json(*p.from) : json(nullptr)},
                        {"rtt_ms", ms_or_null(p.rtt)},
                        {"icmp", icmp_json(p.origin, p.icmp_type, p.icmp_code)},
                        {"errno", p.error != 0 ? json(p.error) : json(nullptr)}});
    }
    hops.push_back({{"ttl", h.ttl},
                    {"responders", responders},
                    {"destination", h.destination},
                    {"sent", h.stats.sent},
                    {"received", h.stats.received},
                    {"loss_percent", h.stats.loss_percent},
                    {"loss", probe::hop_loss_name(h.loss)},
                    {"rtt_last_ms", ms_or_null(h.stats.last)},
                    {"rtt_best_ms", ms_or_null(h.stats.best)},
                    {"rtt_avg_ms", ms_or_null(h.stats.avg)},
                    {"rtt_worst_ms", ms_or_null(h.stats.worst)},
                    {"rtt_stdev_ms", ms_or_null(h.stats.stdev)},
                    {"probes", probes}});
  }
  j["hops"] = hops;
  if (r.path_mtu) {
    const auto& m = *r.path_mtu;
    json steps = json::array();
    for (const auto& s : m.steps) {
      steps.push_back({{"size", s.size},
                       {"reply", probe::probe_reply_name(s.reply)},
                       {"from", s.from ? json(*s.from) : json(nullptr)},
                       {"icmp", icmp_json(s.origin, s.icmp_type, s.icmp_code)},
                       {"next_hop_mtu", s.next_hop_mtu != 0 ? json(s.next_hop_mtu) : json(nullptr)},
                       {"errno", s.error != 0 ? json(s.error) : json(nullptr)}});
    }
    j["path_mtu"] = {{"outcome", probe::mtu_outcome_name(m.outcome)},
                     {"mtu", m.mtu != 0 ? json(m.mtu) : json(nullptr)},
                     {"local_mtu", m.local_mtu != 0 ? json(m.local_mtu) : json(nullptr)},
                     {"hop", m.hop ? json(*m.hop) : json(nullptr)},
                     {"reporter", m.reporter ? json(*m.reporter) : json(nullptr)},
                     {"port", o.mtu_port},
                     {"steps", steps},
                     {"error", m.error ? json(m.error->message()) : json(nullptr)}};
  } else {
    j["path_mtu"] = nullptr;
  }
  j["rounds"] = r.rounds;
  j["duration_ms"] = ms(r.duration);
  if (r.error) j["error"] = r.error->message();
  return j.dump(2);
}

// ---- human ----

std::string render_trace_text(const TraceShown& target, const TraceResult& r, const probe::TraceOptions& o,
                              const std::map<std::string, std::string>& names, const Style& st, Lang lang) {
  std::string out;
  auto print = [&out](std::string_view line) {
    out.append(line);
    out += '\n';
  };
  print(trn(lang, Msg::trace_header, static_cast<unsigned long long>(o.probes), fmt::arg("target", target.host),
                fmt::arg("address", target.ip_literal ? std::string() : " (" + r.destination.address + ")"),
                fmt::arg("port", r.mode == TraceMode::icmp ? std::string()
                                                         : tr(lang, Msg::trace_header_port, fmt::arg("port", r.destination.port))),
                fmt::arg("mode", probe::trace_mode_name(r.mode)), fmt::arg("max_hops", o.max_hops),
                fmt::arg("probes", o.probes),
                fmt::arg("cycles", o.cycles > 1 ? tr(lang, Msg::trace_header_cycles, fmt::arg("cycles", o.cycles)) : ""),
                fmt::arg("method", r.mode == TraceMode::icmp
                                       ? tr(lang, Msg::trace_header_method, fmt::arg("method", method_words(r.icmp_method)))
                                       : "")));
  auto opt_dur = [](const std::optional<std::chrono::microseconds>& d) { return d ? dur(*d) : std::string("-"); };
  const bool mtr = o.cycles > 1;
  // In terminal columns, as fmt pads: a Chinese heading is two columns a character.
  std::size_t width = display_width(tr(lang, Msg::trace_col_address));
  for (const auto& h : r.hops) width = std::max(width, display_width(hop_address(lang, h, names)));
  if (mtr) {
    print(fmt::format("{:>4}  {:<{}}  {:>5} {:>5} {:>8} {:>8} {:>8} {:>8} {:>8}  {}", tr(lang, Msg::trace_col_hop),
               tr(lang, Msg::trace_col_address), width, tr(lang, Msg::trace_col_loss), tr(lang, Msg::trace_col_sent),
               tr(lang, Msg::trace_col_last), tr(lang, Msg::trace_col_avg), tr(lang, Msg::trace_col_best),
               tr(lang, Msg::trace_col_worst), tr(lang, Msg::trace_col_stdev), tr(lang, Msg::trace_col_note)));
  } else {
    print(fmt::format("{:>4}  {:<{}}  {:>5}  {:<26}  {}", tr(lang, Msg::trace_col_hop), tr(lang, Msg::trace_col_address),
               width, tr(lang, Msg::trace_col_loss), tr(lang, Msg::trace_col_rtt), tr(lang, Msg::trace_col_answered)));
  }
  for (const auto& h : r.hops) {
    std::string line;
    const std::string note = loss_note(lang, h.loss);
    if (mtr) {
      line = fmt::format("{:>4}  {:<{}}  {:>5} {:>5} {:>8} {:>8} {:>8} {:>8} {:>8}  {}", h.ttl, hop_address(lang, h, names),
                         width, percent(h.stats.loss_percent), h.stats.sent, opt_dur(h.stats.last), opt_dur(h.stats.avg),
                         opt_dur(h.stats.best), opt_dur(h.stats.worst), opt_dur(h.stats.stdev),
                         note.empty() ? answers_text(lang, h) : note);
    } else {
      const std::string rtt = h.stats.best ? fmt::format("{}/{}/{}", dur(*h.stats.best), dur(*h.stats.avg), dur(*h.stats.worst))
                                           : std::string("-");
      std::string answered = answers_text(lang, h);
      if (!note.empty()) answered.append("; ").append(note);
      line = fmt::format("{:>4}  {:<{}}  {:>5}  {:<26}  {}", h.ttl, hop_address(lang, h, names), width,
                         percent(h.stats.loss_percent), rtt, answered);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    print(line);
  }
  if (r.verdict == TraceVerdict::stopped && !r.hops.empty() && r.hops.back().ttl < o.max_hops) {
    print(tr(lang, Msg::trace_hops_silent_after, fmt::arg("from", r.hops.back().ttl + 1), fmt::arg("to", o.max_hops)));
  }
  for (const auto& n : loss_notes(lang, r, names)) print(n);
  if (r.path_mtu) print(mtu_line(lang, *r.path_mtu, o.mtu_port, names));
  const std::string verdict = verdict_line(lang, r, names);
  print(r.verdict == TraceVerdict::reached ? st.green(verdict) : st.red(verdict));
  return out;
}


}  // namespace connscope::cli
