// `connscope trace TARGET`: parses the target and options, resolves a name (c-ares), runs
// probe::trace on one io_context, optionally looks up the hops' reverse names, and renders a
// traceroute-style table (an mtr-style report with --cycles), the loss notes and the verdict
// line, or JSON (docs/json.md).

#include "cli/cmd_trace.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/App.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/duration.h"
#include "core/target.h"
#include "probe/dns.h"
#include "probe/dns_reverse.h"
#include "probe/trace.h"

namespace connscope::cli {

namespace {

namespace asio = boost::asio;
using nlohmann::json;
using probe::HopLoss;
using probe::ProbeReply;
using probe::TraceHop;
using probe::TraceMode;
using probe::TraceResult;
using probe::TraceVerdict;
using std::chrono::milliseconds;

struct TraceFlags {
  std::string target;
  std::optional<int> port;
  bool tcp = false;
  bool udp = false;
  bool icmp = false;
  bool v4 = false;
  bool v6 = false;
  int max_hops = 30;
  int first_hop = 1;
  int probes = 3;
  std::optional<int> cycles;
  std::string interval;
  bool mtu = false;
  bool resolve = false;
  std::string source;
};

constexpr std::uint16_t kDefaultTcpPort = 80;  // tcptraceroute's and traceroute -T's default

double ms(std::chrono::microseconds d) { return std::chrono::duration<double, std::milli>(d).count(); }
json ms_or_null(const std::optional<std::chrono::microseconds>& d) { return d ? json(ms(*d)) : json(nullptr); }
std::string dur(std::chrono::microseconds d) {
  return format_elapsed(std::chrono::duration_cast<std::chrono::nanoseconds>(d));
}
std::string percent(double p) { return fmt::format("{:.0f}%", p); }

std::string quoted(std::string_view what, std::string_view value) {
  return fmt::format("{} \"{}\"", what, value);
}

// What the user asked for, checked; the address is filled in after resolving.
struct Plan {
  Target target;
  probe::TraceOptions options;
  probe::DnsFamily family = probe::DnsFamily::any;
};

Result<Plan> make_plan(const GlobalOptions& g, const TraceFlags& f) {
  Plan plan;
  auto target = parse_target(f.target);
  if (!target) return std::unexpected(target.error());
  plan.target = *target;
  if (int(f.tcp) + int(f.udp) + int(f.icmp) > 1) {
    return fail("--tcp, --udp and --icmp", tr(g.lang, Msg::trace_choose_mode));
  }
  auto& o = plan.options;
  o.mode = f.udp ? TraceMode::udp : f.icmp ? TraceMode::icmp : TraceMode::tcp;
  if (f.v4 && f.v6) return fail("-4 and -6", tr(g.lang, Msg::trace_choose_mode));
  plan.family = f.v4 ? probe::DnsFamily::v4 : f.v6 ? probe::DnsFamily::v6 : probe::DnsFamily::any;
  if ((target->kind == HostKind::ipv4 && f.v6) || (target->kind == HostKind::ipv6 && f.v4)) {
    return fail(quoted("target", f.target), f.v6 ? "an IPv4 address with -6" : "an IPv6 address with -4");
  }
  std::optional<std::uint16_t> port;
  if (f.port) {
    if (*f.port < 1 || *f.port > 65535) return fail(quoted("--port", std::to_string(*f.port)), "not a port (1-65535)");
    port = static_cast<std::uint16_t>(*f.port);
  } else if (target->port) {
    port = *target->port;
  }
  if (o.mode == TraceMode::icmp) {
    if (f.port || target->port_explicit) {
      return fail(f.port ? quoted("--port", std::to_string(*f.port)) : quoted("target", f.target),
                  tr(g.lang, Msg::trace_icmp_no_port));
    }
    port.reset();
  }
  if (o.mode == TraceMode::tcp) o.destination.port = port.value_or(kDefaultTcpPort);
  if (o.mode == TraceMode::udp) o.destination.port = port.value_or(probe::kTraceUdpPort);
  if (f.max_hops < 1 || f.max_hops > 255) return fail(quoted("--max-hops", std::to_string(f.max_hops)), "must be 1 to 255");
  if (f.first_hop < 1 || f.first_hop > f.max_hops) {
    return fail(quoted("--first-hop", std::to_string(f.first_hop)), "must be 1 to --max-hops");
  }
  if (f.probes < 1 || f.probes > 10) return fail(quoted("--probes", std::to_string(f.probes)), "must be 1 to 10");
  if (f.cycles && (*f.cycles < 1 || *f.cycles > 1000)) {
    return fail(quoted("--cycles", std::to_string(*f.cycles)), "must be 1 to 1000");
  }
  o.max_hops = f.max_hops;
  o.first_ttl = f.first_hop;
  o.probes = f.probes;
  o.cycles = f.cycles.value_or(1);
  // Routers send about one ICMP error per second to one host after a small burst: an mtr-style
  // report paces its rounds to that, a one-off trace goes faster.
  o.interval = f.cycles ? milliseconds(1000) : milliseconds(200);
  if (!f.interval.empty()) {
    auto d = parse_duration(f.interval, "--interval");
    if (!d) return std::unexpected(d.error());
    o.interval = std::chrono::duration_cast<milliseconds>(*d);
  }
  o.probe_timeout = std::max(milliseconds(1), std::chrono::duration_cast<milliseconds>(g.timeout));
  o.path_mtu = f.mtu;
  if (o.mode == TraceMode::udp) o.mtu_port = o.destination.port;
  if (!f.source.empty()) {
    auto literal = probe::parse_address_literal(f.source);
    if (!literal) return fail(quoted("--source", f.source), "not a numeric IP address");
    o.source = literal->address;
  }
  return plan;
}

// ---- words ----

std::string icmp_text(Lang lang, probe::ErrOrigin origin, std::uint8_t type, std::uint8_t code) {
  const auto name = probe::icmp_known_name(origin, type, code);
  return tr(lang, Msg::trace_icmp_code, fmt::arg("type", type), fmt::arg("code", code),
            fmt::arg("name", name ? " " + std::string(*name) : std::string()));
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
  return r.error ? r.error->message() : std::string("error");
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
    return tr(lang, Msg::trace_mtu_error, fmt::arg("error", m.error ? m.error->message() : std::string("?")));
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

json result_json(const TraceFlags& f, const TraceResult& r, const probe::TraceOptions& o,
                 const std::map<std::string, std::string>& names) {
  json j;
  j["target"] = f.target;
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
  return j;
}

// ---- human ----

void print_human(const GlobalOptions& g, const Target& target, const TraceResult& r,
                 const probe::TraceOptions& o, const std::map<std::string, std::string>& names) {
  const Lang lang = g.lang;
  const Style st{g.color};
  fmt::print("{}\n",
             trn(lang, Msg::trace_header, static_cast<unsigned long long>(o.probes), fmt::arg("target", target.host),
                fmt::arg("address", target.is_ip_literal() ? std::string() : " (" + r.destination.address + ")"),
                fmt::arg("port", r.mode == TraceMode::icmp ? std::string() : " port " + std::to_string(r.destination.port)),
                fmt::arg("mode", probe::trace_mode_name(r.mode)), fmt::arg("max_hops", o.max_hops),
                fmt::arg("probes", o.probes),
                fmt::arg("cycles", o.cycles > 1 ? tr(lang, Msg::trace_header_cycles, fmt::arg("cycles", o.cycles)) : ""),
                fmt::arg("method", r.mode == TraceMode::icmp
                                       ? tr(lang, Msg::trace_header_method, fmt::arg("method", method_words(r.icmp_method)))
                                       : "")));
  auto opt_dur = [](const std::optional<std::chrono::microseconds>& d) { return d ? dur(*d) : std::string("-"); };
  const bool mtr = o.cycles > 1;
  std::size_t width = tr(lang, Msg::trace_col_address).size();
  for (const auto& h : r.hops) width = std::max(width, hop_address(lang, h, names).size());
  if (mtr) {
    fmt::print("{:>4}  {:<{}}  {:>5} {:>5} {:>8} {:>8} {:>8} {:>8} {:>8}  {}\n", tr(lang, Msg::trace_col_hop),
               tr(lang, Msg::trace_col_address), width, tr(lang, Msg::trace_col_loss), tr(lang, Msg::trace_col_sent),
               tr(lang, Msg::trace_col_last), tr(lang, Msg::trace_col_avg), tr(lang, Msg::trace_col_best),
               tr(lang, Msg::trace_col_worst), tr(lang, Msg::trace_col_stdev), tr(lang, Msg::trace_col_note));
  } else {
    fmt::print("{:>4}  {:<{}}  {:>5}  {:<26}  {}\n", tr(lang, Msg::trace_col_hop), tr(lang, Msg::trace_col_address),
               width, tr(lang, Msg::trace_col_loss), tr(lang, Msg::trace_col_rtt), tr(lang, Msg::trace_col_answered));
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
    fmt::print("{}\n", line);
  }
  if (r.verdict == TraceVerdict::stopped && !r.hops.empty() && r.hops.back().ttl < o.max_hops) {
    fmt::print("{}\n", tr(lang, Msg::trace_hops_silent_after, fmt::arg("from", r.hops.back().ttl + 1),
                          fmt::arg("to", o.max_hops)));
  }
  for (const auto& n : loss_notes(lang, r, names)) fmt::print("{}\n", n);
  if (r.path_mtu) fmt::print("{}\n", mtu_line(lang, *r.path_mtu, o.mtu_port, names));
  const std::string verdict = verdict_line(lang, r, names);
  fmt::print("{}\n", r.verdict == TraceVerdict::reached ? st.green(verdict) : st.red(verdict));
}

int run_trace_cmd(const GlobalOptions& g, const TraceFlags& f) {
  auto plan = make_plan(g, f);
  if (!plan) return report(g, plan.error(), ExitCode::usage);
  probe::TraceOptions o = plan->options;

  asio::io_context io(1);
  // The target's address: a literal as it is, a name through c-ares (as doctor resolves it).
  if (plan->target.is_ip_literal()) {
    o.destination.family = plan->target.family();
    o.destination.address = plan->target.host;
  } else {
    probe::DnsOptions dns;
    dns.family = plan->family;
    dns.timeout = std::max(milliseconds(1), std::chrono::duration_cast<milliseconds>(g.timeout));
    auto future = asio::co_spawn(io, probe::resolve(io.get_executor(), plan->target.host, dns), asio::use_future);
    io.run();
    io.restart();
    const probe::DnsResult d = future.get();
    if (d.failure == probe::DnsFailure::bad_name) {
      return report(g, Error{quoted("target", f.target), 0, d.detail}, ExitCode::usage);
    }
    if (!d.ok() || d.addresses.empty()) {
      const std::string why = d.detail.empty() ? std::string(probe::dns_failure_name(d.failure)) : d.detail;
      return report(g, Error{quoted("target", f.target), 0, tr(g.lang, Msg::trace_resolve_failed, why)},
                    ExitCode::could_not_run);
    }
    o.destination.family = d.addresses.front().family;
    o.destination.address = d.addresses.front().address;
  }

  // Progress on a terminal only, and never into JSON.
  const bool progress = !g.json && ::isatty(STDERR_FILENO) == 1 && o.probes * o.cycles > 1;
  if (progress) {
    const Lang lang = g.lang;
    o.on_round = [lang](int round, int rounds) {
      fmt::print(stderr, "\r{}", tr(lang, Msg::trace_progress, fmt::arg("round", round), fmt::arg("rounds", rounds)));
      std::fflush(stderr);
    };
  }
  auto future = asio::co_spawn(io, probe::trace(io.get_executor(), o), asio::use_future);
  io.run();
  const TraceResult r = future.get();
  if (progress) fmt::print(stderr, "\r\x1b[K");

  if (r.verdict == TraceVerdict::error) {
    if (g.json) fmt::print("{}\n", result_json(f, r, o, {}).dump(2));
    return report(g, r.error.value_or(Error{"trace", 0, "failed"}), ExitCode::could_not_run);
  }
  std::map<std::string, std::string> names;
  if (f.resolve) {
    std::vector<std::string> addresses{r.destination.address};
    for (const auto& h : r.hops) {
      for (const auto& a : h.responders) {
        if (std::find(addresses.begin(), addresses.end(), a) == addresses.end()) addresses.push_back(a);
      }
    }
    names = probe::reverse_names(addresses, std::max(milliseconds(1), std::chrono::duration_cast<milliseconds>(g.timeout)));
  }
  if (g.json) {
    fmt::print("{}\n", result_json(f, r, o, names).dump(2));
  } else {
    print_human(g, plan->target, r, o, names);
  }
  return static_cast<int>(r.verdict == TraceVerdict::reached ? ExitCode::healthy : ExitCode::problems);
}

}  // namespace

std::function<int()> register_trace(CLI::App& app, const GlobalOptions& global) {
  auto flags = std::make_shared<TraceFlags>();
  const Lang lang = global.lang;
  auto* cmd = app.add_subcommand("trace", tr(lang, Msg::help_trace));
  cmd->footer(tr(lang, Msg::help_trace_footer));
  cmd->add_option("target", flags->target, tr(lang, Msg::help_trace_target))->required()->type_name("TARGET[:PORT]");
  cmd->add_flag("--tcp", flags->tcp, tr(lang, Msg::help_trace_tcp));
  cmd->add_flag("--udp", flags->udp, tr(lang, Msg::help_trace_udp));
  cmd->add_flag("--icmp", flags->icmp, tr(lang, Msg::help_trace_icmp));
  cmd->add_option("-p,--port", flags->port, tr(lang, Msg::help_trace_port))->type_name("PORT");
  cmd->add_flag("-4", flags->v4, tr(lang, Msg::help_trace_v4));
  cmd->add_flag("-6", flags->v6, tr(lang, Msg::help_trace_v6));
  cmd->add_option("-m,--max-hops", flags->max_hops, tr(lang, Msg::help_trace_max_hops))->type_name("N");
  cmd->add_option("-f,--first-hop", flags->first_hop, tr(lang, Msg::help_trace_first_hop))->type_name("N");
  cmd->add_option("-q,--probes", flags->probes, tr(lang, Msg::help_trace_probes))->type_name("N");
  cmd->add_option("-c,--cycles", flags->cycles, tr(lang, Msg::help_trace_cycles))->type_name("N");
  cmd->add_option("--interval", flags->interval, tr(lang, Msg::help_trace_interval))->type_name("DURATION");
  cmd->add_flag("--mtu", flags->mtu, tr(lang, Msg::help_trace_mtu));
  cmd->add_flag("-r,--resolve", flags->resolve, tr(lang, Msg::help_trace_resolve));
  cmd->add_option("-s,--source", flags->source, tr(lang, Msg::help_trace_source))->type_name("ADDR");
  return [cmd, flags, &global]() -> int {
    if (!cmd->parsed()) return -1;
    return run_trace_cmd(global, *flags);
  };
}

}  // namespace connscope::cli
