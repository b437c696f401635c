// `connscope audit`: flags -> inspect::gather_audit (live, recorded or replayed) ->
// rules::evaluate_audit -> the pure renderers of cli/audit_render.h.

#include "cli/cmd_audit.h"

#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include <CLI/App.hpp>
#include <fmt/format.h>

#include "cli/audit_render.h"
#include "core/error_text.h"
#include "inspect/audit.h"
#include "rules/sysctl_rules.h"
#include "sys/netlink.h"
#include "sys/proc_net.h"

namespace connscope::cli {

namespace {

namespace fs = std::filesystem;

struct AuditFlags {
  bool no_owners = false;
  std::string record;
  std::string replay;
};

int run_audit(const GlobalOptions& g, const AuditFlags& f) {
  if (!f.record.empty() && !f.replay.empty()) {
    return report(g, error_text("--record", Msg::rec_err_record_and_replay), ExitCode::usage);
  }
  inspect::AuditGatherOptions o;
  o.sysctls = rules::audited_sysctls();
  o.owners = !f.no_owners;

  std::unique_ptr<sys::DumpSource> source;
  std::unique_ptr<sys::DumpRecorder> recorder;  // outlives the dumps that write into it
  if (!f.replay.empty()) {
    auto replay = sys::DumpReplay::open(inspect::audit_recording_dumps(f.replay));
    if (!replay) return report(g, replay.error(), ExitCode::usage);
    source = std::make_unique<sys::DumpReplay>(std::move(*replay));
    o.proc_root = inspect::audit_recording_proc(f.replay);
    // No owners recorded: the recording was made with --no-owners.
    if (auto owners = sys::read_file(inspect::audit_recording_owners(f.replay))) o.owner_records = *owners;
    o.owners = false;
  } else {
    auto sock = sys::SockDiagSocket::open();
    if (!sock) return report(g, sock.error(), ExitCode::could_not_run);
    auto live = std::make_unique<sys::SockDiagSocket>(std::move(*sock));
    if (!f.record.empty()) {
      std::error_code ec;
      fs::create_directories(f.record, ec);
      if (ec) {
        return report(g, error_text("--record \"" + f.record + "\"", Msg::rec_err_create_dir, {}, ec.value()),
                      ExitCode::usage);
      }
      auto rec = sys::DumpRecorder::create(inspect::audit_recording_dumps(f.record));
      if (!rec) return report(g, rec.error(), ExitCode::could_not_run);
      recorder = std::make_unique<sys::DumpRecorder>(std::move(*rec));
      live->set_recorder(recorder.get());
      o.record_dir = f.record;
    }
    source = std::move(live);
  }

  auto gathered = inspect::gather_audit(*source, o, g.lang);
  if (!gathered) return report(g, gathered.error(), f.replay.empty() ? ExitCode::could_not_run : ExitCode::usage);
  const auto result = rules::evaluate_audit(audit_evidence(*gathered), g.lang);
  if (g.json) {
    fmt::print("{}\n", render_audit_json(*gathered, result));
  } else {
    fmt::print("{}", render_audit_text(*gathered, result, Style{g.color}, g.lang));
  }
  std::fflush(stdout);
  return static_cast<int>(result.below_recommendation() ? ExitCode::problems : ExitCode::healthy);
}

}  // namespace

std::function<int()> register_audit(CLI::App& app, const GlobalOptions& global) {
  auto flags = std::make_shared<AuditFlags>();
  const Lang lang = global.lang;
  auto* cmd = app.add_subcommand("audit", tr(lang, Msg::help_audit));
  cmd->footer(tr(lang, Msg::help_audit_footer));
  cmd->add_flag("--no-owners", flags->no_owners, tr(lang, Msg::help_audit_no_owners));
  cmd->add_option("--record", flags->record, tr(lang, Msg::help_audit_record))->type_name("DIR");
  cmd->add_option("--replay", flags->replay, tr(lang, Msg::help_audit_replay))->type_name("DIR");
  return [cmd, flags, &global]() -> int {
    if (!cmd->parsed()) return -1;
    return run_audit(global, *flags);
  };
}

}  // namespace connscope::cli
