// `connscope doctor TARGET`: flags → doctor options (cli/doctor_request.h) → the runs
// (probe::run_doctor, with this host's kernel events when the target is local, and
// probe::follow_redirects with --follow) → DoctorResult → cli/doctor_render.h's renderers.

#include "cli/cmd_doctor.h"

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

#include "cli/doctor_render.h"
#include "cli/doctor_request.h"
#include "core/target.h"
#include "probe/doctor.h"
#include "probe/redirects.h"
#include "watch/host_events.h"

namespace connscope::cli {

namespace {

namespace asio = boost::asio;
using probe::StageStatus;

// The target's addresses when it is this host (an address of it, or localhost), with the port.
std::vector<Endpoint> local_targets(const probe::DoctorOptions& o) {
  std::vector<Endpoint> out;
  if (o.target.kind == HostKind::ipv4 || o.target.kind == HostKind::ipv6) {
    Endpoint e{o.target.kind == HostKind::ipv4 ? AF_INET : AF_INET6, o.target.host, o.port};
    if (watch::is_local_address(e)) out.push_back(e);
  } else if (o.target.host == "localhost") {
    out.push_back(Endpoint{AF_INET, "127.0.0.1", o.port});
    out.push_back(Endpoint{AF_INET6, "::1", o.port});
  }
  return out;
}

// One run, with this host's kernel events when the target is on it: the kernel's drops and
// resets of the doctor's own connections are evidence (a firewall rule here, nothing listening).
// Needs the privilege to load BPF. Each run (each --follow hop: another address, another port)
// attaches tracers of its own.
struct TracedRun {
  probe::DoctorReport report;
  std::vector<watch::Event> events;
  bool traced = false;
  std::optional<Error> off;  // why the tracers could not be attached
};

TracedRun traced_run(const probe::DoctorOptions& o) {
  TracedRun t;
  std::optional<watch::ConnectionEvents> host;
  if (auto targets = local_targets(o); !targets.empty()) {
    auto started = watch::ConnectionEvents::start(std::move(targets));
    if (started) {
      host.emplace(std::move(*started));
    } else {
      t.off = started.error();
    }
  }
  asio::io_context io(1);
  auto future = asio::co_spawn(io, probe::run_doctor(io.get_executor(), o), asio::use_future);
  io.run();
  t.report = future.get();
  if (host) {
    std::vector<std::uint16_t> ports;
    for (const auto& a : t.report.connect)
      if (a.local) ports.push_back(a.local->port);
    t.events = host->collect(ports);
    t.traced = true;
  }
  return t;
}

int run_doctor_cmd(const GlobalOptions& g, const DoctorFlags& f) {
  auto options = doctor_options(f, g.timeout);
  if (!options) return report(g, options.error(), ExitCode::usage);

  // Like curl_global_init: outside the secure stage's time, which then compares with curl's.
  if (options->tls || f.follow || options->identify || options->ca_file || options->client_cert) {
    probe::init_tls_library();
  }
  TracedRun run = traced_run(*options);
  if (f.follow) {
    // Each hop's run replaces `run`: the report and events are the last hop's.
    auto chain = probe::follow_redirects(f.target, run.report, [&](const std::string& url) -> Result<const probe::DoctorReport*> {
      auto hop = doctor_options(redirect_flags(f, url), g.timeout);
      if (!hop) return std::unexpected(hop.error());
      run = traced_run(*hop);
      return &run.report;
    });
    probe::apply_redirects(run.report, std::move(chain));
  }
  const DoctorResult result = doctor_result(f.target, options->port, std::move(run.report), std::move(run.events),
                                            run.traced, std::move(run.off), g.lang);
  if (g.json) {
    fmt::print("{}\n", render_json(result, g.lang).dump(2));
  } else {
    fmt::print("{}", render_text(result, g.lang, Style{g.color}, g.verbose > 0));
  }
  return static_cast<int>(result.report.verdict() == StageStatus::ok ? ExitCode::healthy : ExitCode::problems);
}

}  // namespace

std::function<int()> register_doctor(CLI::App& app, const GlobalOptions& global) {
  auto flags = std::make_shared<DoctorFlags>();
  const Lang lang = global.lang;
  auto* cmd = app.add_subcommand("doctor", tr(lang, Msg::help_doctor));
  cmd->add_option("target", flags->target, tr(lang, Msg::help_doctor_target))->required()->type_name("TARGET");
  cmd->add_option("--port", flags->port, tr(lang, Msg::help_doctor_port))->type_name("PORT");
  cmd->add_flag("-4", flags->v4, tr(lang, Msg::help_doctor_v4));
  cmd->add_flag("-6", flags->v6, tr(lang, Msg::help_doctor_v6));
  cmd->add_option("--resolver", flags->resolver, tr(lang, Msg::help_doctor_resolver))->type_name("IP[:PORT]");
  cmd->add_option("--proto", flags->proto, tr(lang, Msg::help_doctor_proto))->type_name("PROTO");
  cmd->add_option("--http-path", flags->http_path, tr(lang, Msg::help_doctor_http_path))->type_name("PATH");
  cmd->add_option("--repeat", flags->repeat, tr(lang, Msg::help_doctor_repeat))->type_name("N");
  cmd->add_flag("--follow", flags->follow, tr(lang, Msg::help_doctor_follow));
  cmd->add_option("--sni", flags->sni, tr(lang, Msg::help_doctor_sni))->type_name("NAME");
  cmd->add_flag("--tls", flags->tls, tr(lang, Msg::help_doctor_tls));
  cmd->add_flag("--no-tls", flags->no_tls, tr(lang, Msg::help_doctor_no_tls));
  cmd->add_option("--ca-file", flags->ca_file, tr(lang, Msg::help_doctor_ca_file))->type_name("FILE");
  cmd->add_flag("--insecure", flags->insecure, tr(lang, Msg::help_doctor_insecure));
  cmd->add_option("--cert", flags->cert, tr(lang, Msg::help_doctor_cert))->type_name("FILE");
  cmd->add_option("--key", flags->key, tr(lang, Msg::help_doctor_key))->type_name("FILE");
  return [cmd, flags, &global]() -> int {
    if (!cmd->parsed()) return -1;
    return run_doctor_cmd(global, *flags);
  };
}

}  // namespace connscope::cli
