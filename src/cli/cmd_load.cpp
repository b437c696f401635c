// `connscope load TARGET --rate N | --connections N`: flags → load::LoadOptions (the target
// resolved, the connections in flight sized to the descriptor limit) → load::run_load →
// load_render's text or JSON, with a progress line on a terminal and Ctrl-C as "stop and report".

#include "cli/cmd_load.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include <CLI/App.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/load_render.h"
#include "cli/stop_signals.h"
#include "core/duration.h"
#include "core/error_text.h"
#include "core/target.h"
#include "probe/resolve_names.h"
#include "probe/scan.h"
#include "sys/limits.h"

namespace connscope::cli {

namespace {

using std::chrono::milliseconds;

struct LoadFlags {
  std::string target;
  std::optional<int> port;
  std::optional<double> rate;
  std::optional<std::size_t> connections;
  std::string duration = "10s";
  std::string close = "fin";
};

// The default per-connection deadline: long enough to see a SYN resent at 1 s and again at 3 s.
constexpr milliseconds kDefaultTimeout{5000};

// Flags to options, without the network: a usage error names the flag.
Result<load::LoadOptions> load_options(const GlobalOptions& g, const LoadFlags& f) {
  load::LoadOptions o;
  if (f.rate && f.connections) return fail_text("--rate, --connections", Msg::load_model_both);
  if (!f.rate && !f.connections) return fail_text("load", Msg::load_model_missing);
  if (f.rate) {
    if (!(*f.rate > 0) || !std::isfinite(*f.rate)) {
      return fail_text(fmt::format("--rate {}", *f.rate), Msg::load_bad_rate);
    }
    o.rate = f.rate;
  }
  o.connections = f.connections;
  auto d = parse_duration(f.duration, "--duration");
  if (!d) return std::unexpected(d.error());
  if (d->count() <= 0 || *d < milliseconds(1)) return fail_text("--duration \"" + f.duration + "\"", Msg::cli_more_than_zero);
  o.duration = std::chrono::duration_cast<milliseconds>(*d);
  o.timeout = g.timeout_given ? std::max(milliseconds(1), std::chrono::duration_cast<milliseconds>(g.timeout)) : kDefaultTimeout;
  o.close = f.close == "rst" ? load::CloseHow::rst : load::CloseHow::fin;
  return o;
}

// The endpoint: a literal as it is, a name through c-ares (as doctor and probe resolve it).
Result<Endpoint> resolve_target(const GlobalOptions& g, const Target& t, std::uint16_t port, const std::string& typed) {
  if (t.is_ip_literal()) return Endpoint{t.family(), t.host, port};
  const auto timeout = std::max(milliseconds(1), std::chrono::duration_cast<milliseconds>(g.timeout));
  const auto resolved = probe::resolve_names({t.host}, probe::DnsFamily::any, timeout);
  const auto& r = resolved.at(t.host);
  if (!r.address) {
    return fail_text("target \"" + typed + "\"", Msg::load_resolve_failed,
                     {{"error", r.detail.empty() ? r.failure : r.detail}});
  }
  return Endpoint{r.family, *r.address, port};
}

int run_load_cmd(const GlobalOptions& g, const LoadFlags& f) {
  auto options = load_options(g, f);
  if (!options) return report(g, options.error(), ExitCode::usage);
  auto target = parse_target(f.target);
  if (!target) return report(g, target.error(), ExitCode::usage);
  if (f.port) target->port = static_cast<std::uint16_t>(*f.port);
  if (!target->port) return report(g, error_text("target \"" + f.target + "\"", Msg::doctor_no_port), ExitCode::usage);
  auto endpoint = resolve_target(g, *target, *target->port, f.target);
  if (!endpoint) return report(g, endpoint.error(), ExitCode::could_not_run);
  options->target = *endpoint;

  // The descriptor limit: raised to its hard limit; the connections in flight fit under it.
  const auto limit = sys::raise_fd_limit();
  if (!limit) return report(g, limit.error(), ExitCode::could_not_run);
  const auto open_fds = sys::count_open_fds();
  const std::uint64_t open_now = open_fds ? *open_fds : 3;
  const double timeout_s = std::chrono::duration<double>(options->timeout).count();
  const std::size_t wanted =
      options->rate ? static_cast<std::size_t>(std::min(1e7, std::ceil(*options->rate * timeout_s) + 1)) : *options->connections;
  options->max_in_flight = probe::concurrency_for_fd_limit(wanted, limit->soft, open_now);
  if (options->max_in_flight == 0) {
    return report(g, error_text("RLIMIT_NOFILE", Msg::load_fd_limit_too_low,
                                {{"limit", std::to_string(limit->soft)}, {"open", std::to_string(open_now)}}),
                  ExitCode::could_not_run);
  }
  if (options->max_in_flight < wanted) {
    fmt::print(stderr, "connscope: {}\n",
               tr(g.lang, Msg::load_in_flight_limited, fmt::arg("used", options->max_in_flight),
                  fmt::arg("limit", limit->soft), fmt::arg("open", open_now)));
  }

  auto signals = stop_signals();
  if (!signals) return report(g, signals.error(), ExitCode::could_not_run);
  options->stop_fd = signals->get();
  const bool progress = !g.json && ::isatty(STDERR_FILENO) == 1;
  if (progress) {
    const Lang lang = g.lang;
    options->progress = [lang](const load::LoadProgress& p) {
      fmt::print(stderr, "\r\x1b[K{}", render_load_progress(p, lang));
      std::fflush(stderr);
    };
  }
  const auto result = load::run_load(*options);
  if (progress) fmt::print(stderr, "\r\x1b[K");
  if (!result) return report(g, result.error(), ExitCode::could_not_run);

  const LoadRun run{f.target, endpoint->to_string(), *options, limit->soft};
  if (g.json) {
    fmt::print("{}\n", render_load_json(run, *result).dump(2));
  } else {
    fmt::print("{}", render_load_text(run, *result, g.lang));
  }
  return load_exit_code(*result);
}

}  // namespace

std::function<int()> register_load(CLI::App& app, const GlobalOptions& global) {
  auto flags = std::make_shared<LoadFlags>();
  const Lang lang = global.lang;
  auto* cmd = app.add_subcommand("load", tr(lang, Msg::help_load));
  cmd->footer(tr(lang, Msg::help_load_footer));
  cmd->add_option("target", flags->target, tr(lang, Msg::help_load_target))->required()->type_name("TARGET");
  cmd->add_option("-p,--port", flags->port, tr(lang, Msg::help_trace_port))->type_name("PORT")->check(CLI::Range(1, 65535));
  // "1000" or "1000/s".
  cmd->add_option("--rate", flags->rate, tr(lang, Msg::help_load_rate))
      ->type_name("N[/s]")
      ->transform([](std::string s) {
        if (s.size() > 2 && s.ends_with("/s")) s.resize(s.size() - 2);
        return s;
      });
  cmd->add_option("--connections", flags->connections, tr(lang, Msg::help_load_connections))
      ->type_name("N")
      ->check(CLI::Range(std::size_t{1}, std::size_t{10'000'000}));
  cmd->add_option("--duration", flags->duration, tr(lang, Msg::help_load_duration))->type_name("DURATION");
  cmd->add_option("--close", flags->close, tr(lang, Msg::help_load_close))
      ->type_name("fin|rst")
      ->check(CLI::IsMember({"fin", "rst"}));
  return [cmd, flags, &global]() -> int {
    if (!cmd->parsed()) return -1;
    return run_load_cmd(global, *flags);
  };
}

}  // namespace connscope::cli
