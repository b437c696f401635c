// `connscope agent`: the file, then the flags over it (agent::agent_options maps them to the
// agent's options), make or read the token for a non-loopback bind, run the agent until SIGINT or
// SIGTERM.
#include "cli/cmd_agent.h"

#include <unistd.h>

#include <CLI/App.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <memory>
#include <string>

#include "agent/agent.h"
#include "agent/config.h"
#include "agent/snapshot_json.h"
#include "agent/token.h"
#include "core/duration.h"
#include "core/endpoint.h"
#include "core/error_text.h"

namespace connscope::cli {

namespace {

struct AgentFlags {
  std::string config;
  std::string listen;         // empty: the config's, else 127.0.0.1:9600
  std::string data_dir;       // empty: the config's, else default_data_dir()
  std::string full_interval;  // empty: the config's, else 10s
  std::string check_interval;  // empty: the config's, else 10m
  bool owners = false;
  bool no_bpf = false;
};

std::string default_data_dir() {
  if (::geteuid() == 0) return "/var/lib/connscope";
  const char* state = std::getenv("XDG_STATE_HOME");
  if (state != nullptr && *state != '\0') return std::string(state) + "/connscope";
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr ? home : ".") + "/.local/state/connscope";
}

int run_agent_cmd(const GlobalOptions& g, const AgentFlags& f) {
  // The file first, then the command line over it.
  agent::AgentConfig config;
  bool data_dir_from_file = false;
  if (!f.config.empty()) {
    auto loaded = agent::load_config(f.config);
    if (!loaded) return report(g, loaded.error(), ExitCode::usage);
    config = std::move(*loaded);
    data_dir_from_file = true;
  }
  if (!f.listen.empty()) {
    auto listen = parse_endpoint(f.listen, "--listen", true);
    if (!listen) return report(g, listen.error(), ExitCode::usage);
    config.listen = *listen;
  }
  // --full-interval and --check-interval: at least a second, as in the file.
  const auto interval_flag = [&](const std::string& text, const char* name,
                                 std::chrono::milliseconds& into) -> std::optional<Error> {
    if (text.empty()) return std::nullopt;
    auto d = parse_duration(text, name);
    if (!d) return d.error();
    if (*d < std::chrono::seconds(1)) {
      return error_text(fmt::format("{} \"{}\"", name, text), Msg::agent_interval_too_short, {{"min", "1s"}});
    }
    into = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
    return std::nullopt;
  };
  if (auto e = interval_flag(f.full_interval, "--full-interval", config.sampling.full_interval)) {
    return report(g, *e, ExitCode::usage);
  }
  if (auto e = interval_flag(f.check_interval, "--check-interval", config.sampling.check_interval)) {
    return report(g, *e, ExitCode::usage);
  }
  agent::AgentOptions o = agent::agent_options(config, {f.no_bpf, f.owners, g.lang});
  const auto* listen = &o.listen;
  const std::string data_dir = !f.data_dir.empty()     ? f.data_dir
                               : data_dir_from_file ? config.data_dir
                                                    : default_data_dir();
  if (auto made = agent::make_data_dir(data_dir); !made) return report(g, made.error(), ExitCode::could_not_run);
  auto lock = agent::lock_data_dir(data_dir);
  if (!lock) return report(g, lock.error(), ExitCode::could_not_run);
  o.history_file = std::filesystem::path(data_dir) / "history.db";
  std::optional<agent::TokenFile> token;
  if (!agent::is_loopback(*listen)) {
    auto t = agent::load_or_create_token(data_dir);
    if (!t) return report(g, t.error(), ExitCode::could_not_run);
    token = std::move(*t);
    o.token = token->token;
  }

  boost::asio::io_context io(1);
  auto running = agent::Agent::start(io, o);
  if (!running) return report(g, running.error(), ExitCode::could_not_run);
  const std::string address = (*running)->local().to_string();
  if (g.json) {
    // One line a program can wait for: where to connect, and the token when it was just made.
    nlohmann::json j{{"event", "listening"},
                     {"address", address},
                     {"port", (*running)->local().port},
                     {"token_path", token ? nlohmann::json(token->path) : nlohmann::json(nullptr)},
                     {"token", token && token->created ? nlohmann::json(token->token) : nlohmann::json(nullptr)},
                     {"sampler", agent::sampler_json((*running)->sampler())}};
    fmt::print("{}\n", j.dump());
  } else {
    if (token && token->created) {
      fmt::print("{}\n", tr(g.lang, Msg::agent_token_created, fmt::arg("path", token->path), fmt::arg("token", token->token)));
    }
    if (token) fmt::print("{}\n", tr(g.lang, Msg::agent_token_required, fmt::arg("address", address), fmt::arg("path", token->path)));
    fmt::print("{}\n", tr(g.lang, Msg::agent_listening, fmt::arg("address", address)));
    const auto sampler = (*running)->sampler();
    if (sampler.bpf) {
      fmt::print("{}\n", tr(g.lang, Msg::agent_bpf_on, fmt::arg("interval", format_duration(sampler.full_interval))));
    } else {
      fmt::print("{}\n", tr(g.lang, Msg::agent_bpf_off, fmt::arg("reason", sampler.bpf_off_reason),
                            fmt::arg("interval", format_duration(sampler.full_interval))));
    }
  }
  std::fflush(stdout);

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) {
    (*running)->stop();
    io.stop();
  });
  io.run();
  (*running)->stop();
  return static_cast<int>(ExitCode::healthy);
}

}  // namespace

std::function<int()> register_agent(CLI::App& app, const GlobalOptions& global) {
  auto flags = std::make_shared<AgentFlags>();
  const Lang lang = global.lang;
  auto* cmd = app.add_subcommand("agent", tr(lang, Msg::help_agent));
  cmd->add_option("--config", flags->config, tr(lang, Msg::help_agent_config))->type_name("FILE");
  cmd->add_option("--listen", flags->listen, tr(lang, Msg::help_agent_listen))->type_name("ADDR:PORT");
  cmd->add_option("--data-dir", flags->data_dir, tr(lang, Msg::help_agent_data_dir))->type_name("DIR");
  cmd->add_option("--full-interval", flags->full_interval, tr(lang, Msg::help_agent_full_interval))->type_name("DURATION");
  cmd->add_option("--check-interval", flags->check_interval, tr(lang, Msg::help_agent_check_interval))->type_name("DURATION");
  cmd->add_flag("--owners", flags->owners, tr(lang, Msg::help_agent_owners));
  cmd->add_flag("--no-bpf", flags->no_bpf, tr(lang, Msg::help_agent_no_bpf));
  return [cmd, flags, &global]() -> int {
    if (!cmd->parsed()) return -1;
    return run_agent_cmd(global, *flags);
  };
}

}  // namespace connscope::cli
