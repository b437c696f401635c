// connscope's entry point: global options, subcommands, and the one place that turns errors
// and exceptions into a one-line message and an exit status.

#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/App.hpp>
#include <CLI/Config.hpp>
#include <CLI/Formatter.hpp>
#include <fmt/format.h>

#include "cli/parse_error_text.h"
#include "core/error_text.h"
#include "cli/cmd_inspect.h"
#include "cli/cmd_audit.h"
#include "cli/cmd_probe.h"
#include "cli/cmd_doctor.h"
#include "cli/cmd_serve.h"
#include "cli/cmd_load.h"
#include "cli/cmd_trace.h"
#include "cli/cmd_agent.h"
#include "cli/cmd_watch.h"
#include "cli/context.h"
#include "core/duration.h"
#include "core/locale.h"

#ifndef CONNSCOPE_VERSION
#define CONNSCOPE_VERSION "0.0.0"
#endif

namespace {

using connscope::ExitCode;
using connscope::Lang;
using connscope::Msg;
using connscope::tr;

// The --lang value, read before CLI11 parses the line because the help texts are made in the
// chosen language; the last one wins, as in CLI11.
std::optional<std::string> lang_flag(int argc, char** argv) {
  std::optional<std::string> flag;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg == "--lang" && i + 1 < argc) flag = argv[++i];
    if (arg.starts_with("--lang=")) flag = std::string(arg.substr(7));
  }
  return flag;
}

// CLI11's own words in the help (its labels, the default option and subcommand groups, the help
// and version flags) in `lang`; before the subcommands are added, which copy them.
void localize_help(CLI::App& app, Lang lang) {
  auto formatter = app.get_formatter();
  formatter->label("Usage", tr(lang, Msg::help_label_usage));
  formatter->label("OPTIONS", tr(lang, Msg::help_label_options));
  formatter->label("SUBCOMMAND", tr(lang, Msg::help_label_subcommand));
  formatter->label("Positionals", tr(lang, Msg::help_label_positionals));
  formatter->label("REQUIRED", tr(lang, Msg::help_label_required));
  app.option_defaults()->group(tr(lang, Msg::help_group_options));
  app.set_help_flag("-h,--help", tr(lang, Msg::help_help));
}

int run(int argc, char** argv) {
  connscope::cli::GlobalOptions global;
  // Sockets are written with MSG_NOSIGNAL by Asio; this also covers writes to a closed pipe
  // (connscope ... | head), which must end quietly, not by signal.
  std::signal(SIGPIPE, SIG_IGN);

  // The language is needed before parsing, for the help texts; an unknown --lang is a usage
  // error before anything else (the message is in the environment's language).
  const auto lang = connscope::choose_lang(lang_flag(argc, argv), connscope::locale_env_from_process());
  if (!lang) return connscope::cli::report(global, lang.error(), ExitCode::usage);
  global.lang = *lang;
  CLI::App app{tr(global.lang, Msg::help_app)};
  app.name("connscope");
  localize_help(app, global.lang);
  app.set_version_flag("--version", std::string("connscope ") + CONNSCOPE_VERSION, tr(global.lang, Msg::help_version));
  app.fallthrough();  // global options may follow the subcommand
  app.require_subcommand(0, 1);

  bool no_color = false;
  std::string timeout_text;
  std::string lang_text;
  app.add_flag("--json", global.json, tr(global.lang, Msg::help_json));
  app.add_flag("--no-color", no_color, tr(global.lang, Msg::help_no_color));
  auto* timeout_opt = app.add_option("--timeout", timeout_text, tr(global.lang, Msg::help_timeout))
                          ->type_name("DURATION");
  // Read by lang_flag() above; declared for the help and so that CLI11 accepts it.
  app.add_option("--lang", lang_text, tr(global.lang, Msg::help_lang))->type_name("LANG");
  app.add_flag("-v,--verbose", global.verbose, tr(global.lang, Msg::help_verbose));

  std::vector<std::function<int()>> commands;
  commands.push_back(connscope::cli::register_inspect(app, global));
  commands.push_back(connscope::cli::register_serve(app, global));
  commands.push_back(connscope::cli::register_audit(app, global));
  commands.push_back(connscope::cli::register_probe(app, global));
  commands.push_back(connscope::cli::register_doctor(app, global));
  commands.push_back(connscope::cli::register_trace(app, global));
  commands.push_back(connscope::cli::register_agent(app, global));
  commands.push_back(connscope::cli::register_watch(app, global));
  commands.push_back(connscope::cli::register_load(app, global));
  // A subcommand makes its help flag before it copies the option defaults: its group too.
  for (auto* sub : app.get_subcommands({})) {
    sub->group(tr(global.lang, Msg::help_group_subcommands));
    if (auto* help = sub->get_help_ptr(); help != nullptr) help->group(tr(global.lang, Msg::help_group_options));
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "{}{}\n", tr(global.lang, Msg::usage_error, connscope::cli::parse_error_text(global.lang, e)),
               tr(global.lang, Msg::cli_see_help));
    return static_cast<int>(ExitCode::usage);
  }

  global.color = connscope::cli::decide_color(no_color, STDOUT_FILENO);
  if (timeout_opt->count() > 0) {
    auto t = connscope::parse_duration(timeout_text, "--timeout");
    if (!t) return connscope::cli::report(global, t.error(), ExitCode::usage);
    if (t->count() == 0) {
      return connscope::cli::report(
          global, connscope::error_text("--timeout \"" + timeout_text + "\"", Msg::cli_more_than_zero), ExitCode::usage);
    }
    global.timeout = *t;
    global.timeout_given = true;
  }

  for (auto& command : commands) {
    if (const int code = command(); code >= 0) return code;
  }
  fmt::print(stderr, "{}", app.help());
  return static_cast<int>(ExitCode::usage);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    fmt::print(stderr, "connscope: internal error: {}\n", e.what());
    return static_cast<int>(ExitCode::could_not_run);
  }
}
