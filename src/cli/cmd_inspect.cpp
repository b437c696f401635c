// `connscope inspect`: flags -> inspect::collect (live, recorded or replayed) ->
// rules::inspect_findings -> the renderers of cli/inspect_render.h.

#include "cli/cmd_inspect.h"
#include "cli/inspect_render.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <CLI/App.hpp>
#include <fmt/format.h>

#include "cli/json_stream.h"

#include "core/duration.h"
#include "core/error_text.h"
#include "core/endpoint.h"
#include "core/number.h"
#include "inspect/collect.h"
#include "rules/inspect_findings.h"
#include "sys/netlink.h"
#include "sys/proc_net.h"

namespace connscope::cli {

namespace {

namespace fs = std::filesystem;

struct InspectFlags {
  std::string port;
  std::string state;
  std::string pid;
  bool listen = false;
  bool all = false;
  bool no_owners = false;
  std::string interval;
  std::string record;
  std::string replay;
};

int run_inspect(const GlobalOptions& g, const InspectFlags& f) {
  inspect::CollectOptions o;
  if (!f.port.empty()) {
    auto p = parse_port(f.port, "--port");
    if (!p) return report(g, p.error(), ExitCode::usage);
    o.port = *p;
  }
  if (!f.state.empty()) {
    auto m = inspect::parse_state_filter(f.state);
    if (!m) return report(g, m.error(), ExitCode::usage);
    o.states = *m;
  }
  if (!f.pid.empty()) {
    auto p = parse_int(f.pid, "--pid", 1, 4194304);
    if (!p) return report(g, p.error(), ExitCode::usage);
    o.pid = static_cast<pid_t>(*p);
    if (f.no_owners) return report(g, error_text("--pid", Msg::inspect_err_pid_needs_owners), ExitCode::usage);
  }
  if (!f.interval.empty()) {
    auto d = parse_duration(f.interval, "--interval");
    if (!d) return report(g, d.error(), ExitCode::usage);
    o.interval = *d;
  }
  o.listeners_only = f.listen;
  o.owners = !f.no_owners;
  o.keep_sockets = f.all;
  if (!f.record.empty() && !f.replay.empty()) {
    return report(g, error_text("--record", Msg::rec_err_record_and_replay), ExitCode::usage);
  }

  std::unique_ptr<sys::DumpSource> source;
  std::optional<sys::DumpRecorder> recorder;
  if (!f.replay.empty()) {
    const std::string dir = f.replay;
    auto replay = sys::DumpReplay::open(dir + "/sock_diag.nldump");
    if (!replay) return report(g, replay.error(), ExitCode::usage);
    source = std::make_unique<sys::DumpReplay>(std::move(*replay));
    o.first_proc = dir + "/first";
    o.second_proc = dir + "/second";
    o.is_replay = true;
    auto meta = sys::read_file(dir + "/interval");
    if (!meta) return report(g, meta.error(), ExitCode::usage);
    auto interval = parse_duration(std::string_view(*meta).substr(0, meta->find('\n')), dir + "/interval");
    if (!interval) return report(g, interval.error(), ExitCode::usage);
    o.interval = *interval;
    if (auto owners = sys::read_file(dir + "/owners.txt")) {
      o.owner_records = *owners;
    } else {
      o.owners = false;
    }
  } else {
    auto sock = sys::SockDiagSocket::open();
    if (!sock) return report(g, sock.error(), ExitCode::could_not_run);
    if (!f.record.empty()) {
      std::error_code ec;
      fs::create_directories(f.record, ec);
      if (ec) {
        return report(g, error_text("--record \"" + f.record + "\"", Msg::rec_err_create_dir, {}, ec.value()),
                      ExitCode::usage);
      }
      auto rec = sys::DumpRecorder::create(f.record + "/sock_diag.nldump");
      if (!rec) return report(g, rec.error(), ExitCode::could_not_run);
      recorder.emplace(std::move(*rec));
      o.record_dir = f.record;
    }
    auto live = std::make_unique<sys::SockDiagSocket>(std::move(*sock));
    if (recorder) live->set_recorder(&*recorder);
    source = std::move(live);
  }

  const bool replay = o.is_replay;
  auto collected = inspect::collect(*source, o, g.lang, [replay](std::chrono::nanoseconds d) {
    if (!replay) std::this_thread::sleep_for(d);  // a replay's interval is already recorded
  });
  if (!collected) {
    const bool bad_input = !f.replay.empty();
    return report(g, collected.error(), bad_input ? ExitCode::usage : ExitCode::could_not_run);
  }
  if (!f.record.empty()) {
    auto file = fs::path(f.record) / "interval";
    FILE* out = std::fopen(file.c_str(), "w");
    if (out == nullptr) return report(g, Error{"write " + file.string(), errno, {}}, ExitCode::could_not_run);
    // The interval as measured, so that replayed rates equal the live ones exactly.
    fmt::print(out, "{}\n", format_duration(collected->interval));
    std::fclose(out);
  }
  const auto findings = rules::inspect_findings(*collected, g.lang);
  Result<void> written;
  if (g.json) {
    JsonStream out(STDOUT_FILENO, "standard output");
    write_inspect_json(out, *collected, findings);
    written = out.finish("\n");
  } else {
    written = write_all(STDOUT_FILENO, render_inspect_text(*collected, findings, f.listen, Style{g.color}, g.lang),
                        "standard output");
  }
  // A reader that went away (connscope inspect --json | head -c 100) or a full disk: one line,
  // exit 3; what was written before stays a cut-off document, as with any writer.
  if (!written) return report(g, written.error(), ExitCode::could_not_run);
  const bool problems = std::any_of(findings.begin(), findings.end(), [](const rules::Finding& x) {
    return x.severity != rules::Severity::info;
  });
  return static_cast<int>(problems ? ExitCode::problems : ExitCode::healthy);
}

}  // namespace

std::function<int()> register_inspect(CLI::App& app, const GlobalOptions& global) {
  auto flags = std::make_shared<InspectFlags>();
  const Lang lang = global.lang;
  auto help = [lang](Msg id) { return tr(lang, id); };
  auto* cmd = app.add_subcommand("inspect", help(Msg::help_inspect));
  cmd->add_option("-p,--port", flags->port, help(Msg::help_inspect_port))->type_name("PORT");
  cmd->add_option("-s,--state", flags->state, help(Msg::help_inspect_state))->type_name("STATES");
  cmd->add_option("--pid", flags->pid, help(Msg::help_inspect_pid))->type_name("PID");
  cmd->add_flag("-l,--listen", flags->listen, help(Msg::help_inspect_listen));
  cmd->add_flag("-a,--all", flags->all, help(Msg::help_inspect_all));
  cmd->add_flag("--no-owners", flags->no_owners, help(Msg::help_inspect_no_owners));
  cmd->add_option("-i,--interval", flags->interval, help(Msg::help_inspect_interval))->type_name("DURATION");
  cmd->add_option("--record", flags->record, help(Msg::help_inspect_record))->type_name("DIR");
  cmd->add_option("--replay", flags->replay, help(Msg::help_inspect_replay))->type_name("DIR");
  return [cmd, flags, &global]() -> int {
    if (!cmd->parsed()) return -1;
    return run_inspect(global, *flags);
  };
}

}  // namespace connscope::cli
