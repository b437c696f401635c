// `connscope trace TARGET`: parses the target and options, resolves a name (c-ares), runs
// probe::trace on one io_context, optionally looks up the hops' reverse names, and prints what
// the pure renderers of cli/trace_render.h make of the result (text or JSON, docs/json.md).

#include "cli/cmd_trace.h"
#include "cli/trace_render.h"

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

#include "core/duration.h"
#include "core/error_text.h"
#include "core/target.h"
#include "probe/dns.h"
#include "probe/dns_reverse.h"
#include "probe/trace.h"

namespace connscope::cli {

namespace {

namespace asio = boost::asio;
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
    return fail_text("--tcp, --udp and --icmp", Msg::trace_choose_mode);
  }
  auto& o = plan.options;
  o.mode = f.udp ? TraceMode::udp : f.icmp ? TraceMode::icmp : TraceMode::tcp;
  if (f.v4 && f.v6) return fail_text("-4 and -6", Msg::trace_choose_mode);
  plan.family = f.v4 ? probe::DnsFamily::v4 : f.v6 ? probe::DnsFamily::v6 : probe::DnsFamily::any;
  if ((target->kind == HostKind::ipv4 && f.v6) || (target->kind == HostKind::ipv6 && f.v4)) {
    return fail_text(quoted("target", f.target), f.v6 ? Msg::trace_err_ipv4_with_6 : Msg::trace_err_ipv6_with_4);
  }
  std::optional<std::uint16_t> port;
  if (f.port) {
    if (*f.port < 1 || *f.port > 65535) return fail_text(quoted("--port", std::to_string(*f.port)), Msg::in_not_port);
    port = static_cast<std::uint16_t>(*f.port);
  } else if (target->port) {
    port = *target->port;
  }
  if (o.mode == TraceMode::icmp) {
    if (f.port || target->port_explicit) {
      return fail_text(f.port ? quoted("--port", std::to_string(*f.port)) : quoted("target", f.target),
                       Msg::trace_icmp_no_port);
    }
    port.reset();
  }
  if (o.mode == TraceMode::tcp) o.destination.port = port.value_or(kDefaultTcpPort);
  if (o.mode == TraceMode::udp) o.destination.port = port.value_or(probe::kTraceUdpPort);
  if (f.max_hops < 1 || f.max_hops > 255) return fail_text(quoted("--max-hops", std::to_string(f.max_hops)), Msg::trace_err_range, {{"min", "1"}, {"max", "255"}});
  if (f.first_hop < 1 || f.first_hop > f.max_hops) {
    return fail_text(quoted("--first-hop", std::to_string(f.first_hop)), Msg::trace_err_range, {{"min", "1"}, {"max", "--max-hops"}});
  }
  if (f.probes < 1 || f.probes > 10) return fail_text(quoted("--probes", std::to_string(f.probes)), Msg::trace_err_range, {{"min", "1"}, {"max", "10"}});
  if (f.cycles && (*f.cycles < 1 || *f.cycles > 1000)) {
    return fail_text(quoted("--cycles", std::to_string(*f.cycles)), Msg::trace_err_range, {{"min", "1"}, {"max", "1000"}});
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
    if (!literal) return fail_text(quoted("--source", f.source), Msg::in_not_numeric_ip);
    o.source = literal->address;
  }
  return plan;
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

  const TraceShown shown{f.target, plan->target.host, plan->target.is_ip_literal()};
  if (r.verdict == TraceVerdict::error) {
    if (g.json) fmt::print("{}\n", render_trace_json(shown, r, o, {}));
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
    fmt::print("{}\n", render_trace_json(shown, r, o, names));
  } else {
    fmt::print("{}", render_trace_text(shown, r, o, names, Style{g.color}, g.lang));
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
