// `connscope serve`: flags -> serve::ServeRequest -> serve::build_options -> serve::Server; this
// file parses the flags and prints the server's events.

#include "cli/cmd_serve.h"

#include <csignal>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/App.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/duration.h"
#include "serve/request.h"
#include "serve/server.h"

namespace connscope::cli {

namespace {

using serve::Mode;

std::string mode_description(Lang lang, const serve::Options& o, Mode m) {
  switch (m) {
    case Mode::echo: return tr(lang, Msg::mode_echo);
    case Mode::discard: return tr(lang, Msg::mode_discard);
    case Mode::http: return tr(lang, Msg::mode_http, o.http_status);
    case Mode::banner: return tr(lang, Msg::mode_banner, o.banner);
    case Mode::never_accept: return tr(lang, Msg::mode_never_accept);
    case Mode::reset_after_accept: return tr(lang, Msg::mode_reset_after_accept);
    case Mode::close_after_accept: return tr(lang, Msg::mode_close_after_accept);
    case Mode::slow_first_byte: return tr(lang, Msg::mode_slow_first_byte, format_duration(o.delay));
    case Mode::drip: return tr(lang, Msg::mode_drip, format_duration(o.interval));
    case Mode::garbage: return tr(lang, Msg::mode_garbage);
    case Mode::no_close: return tr(lang, Msg::mode_no_close);
  }
  return {};
}

std::string close_text(Lang lang, serve::CloseReason r) {
  switch (r) {
    case serve::CloseReason::peer_closed: return tr(lang, Msg::close_peer_closed);
    case serve::CloseReason::peer_reset: return tr(lang, Msg::close_peer_reset);
    case serve::CloseReason::server_closed: return tr(lang, Msg::close_server_closed);
    case serve::CloseReason::server_reset: return tr(lang, Msg::close_server_reset);
    case serve::CloseReason::server_stop: return tr(lang, Msg::close_server_stop);
    case serve::CloseReason::tls_failed: return tr(lang, Msg::close_tls_failed);
    case serve::CloseReason::error: return tr(lang, Msg::close_error);
  }
  return {};
}

std::string_view close_id(serve::CloseReason r) {
  switch (r) {
    case serve::CloseReason::peer_closed: return "peer_closed";
    case serve::CloseReason::peer_reset: return "peer_reset";
    case serve::CloseReason::server_closed: return "server_closed";
    case serve::CloseReason::server_reset: return "server_reset";
    case serve::CloseReason::server_stop: return "server_stop";
    case serve::CloseReason::tls_failed: return "tls_failed";
    case serve::CloseReason::error: return "error";
  }
  return "error";
}

std::string timestamp(std::chrono::system_clock::time_point t) {
  const auto secs = std::chrono::time_point_cast<std::chrono::seconds>(t);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t - secs).count();
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z", secs, ms);
}

class Printer {
 public:
  Printer(const GlobalOptions& g, const serve::Options& o) : g_(g), o_(o), style_{g.color} {}

  void listening(const std::vector<serve::Listener>& ls, bool demo) const {
    if (g_.json) {
      nlohmann::json j;
      j["event"] = "listening";
      j["listeners"] = nlohmann::json::array();
      for (const auto& l : ls) {
        j["listeners"].push_back({{"address", l.endpoint.address},
                                  {"port", l.endpoint.port},
                                  {"mode", serve::mode_name(l.mode)},
                                  {"tls", o_.tls.has_value()},
                                  {"backlog", o_.backlog}});
      }
      emit(j);
      return;
    }
    if (demo) {
      fmt::print("{}\n", tr(g_.lang, Msg::serve_demo_intro));
      for (const auto& l : ls) {
        fmt::print("{}\n", tr(g_.lang, Msg::serve_demo_line,
                              fmt::arg("addr", l.endpoint.to_string()),
                              fmt::arg("mode", style_.bold(serve::mode_name(l.mode))),
                              fmt::arg("what", mode_description(g_.lang, o_, l.mode))));
      }
    } else {
      std::string extra;
      if (o_.tls) {
        extra = o_.tls->self_signed ? tr(g_.lang, Msg::serve_tls_self_signed)
                                    : tr(g_.lang, Msg::serve_tls_files, o_.tls->cert_file);
      }
      for (const auto& l : ls) {
        fmt::print("{}: {}\n",
                   tr(g_.lang, Msg::serve_listening, fmt::arg("mode", style_.bold(serve::mode_name(l.mode))),
                      fmt::arg("addr", l.endpoint.to_string()), fmt::arg("backlog", o_.backlog),
                      fmt::arg("extra", extra)),
                   mode_description(g_.lang, o_, l.mode));
      }
    }
    fmt::print("{}\n", style_.dim(tr(g_.lang, Msg::serve_stop_hint)));
    std::fflush(stdout);
  }

  void event(const serve::Event& ev) const {
    using Kind = serve::Event::Kind;
    // Back-offs are always shown: they mean clients are being turned away.
    if (ev.kind != Kind::accept_backoff && g_.verbose == 0) return;
    if (g_.json) {
      nlohmann::json j{{"time", timestamp(ev.time)},
                       {"listener", ev.listener.to_string()},
                       {"mode", serve::mode_name(ev.mode)}};
      switch (ev.kind) {
        case Kind::accepted:
          j["event"] = "accept";
          j["id"] = ev.id;
          j["peer"] = ev.peer.to_string();
          break;
        case Kind::closed:
          j["event"] = "close";
          j["id"] = ev.id;
          j["peer"] = ev.peer.to_string();
          j["reason"] = close_id(ev.reason);
          j["duration_ms"] = std::chrono::duration<double, std::milli>(ev.duration).count();
          j["rx_bytes"] = ev.rx_bytes;
          j["tx_bytes"] = ev.tx_bytes;
          break;
        case Kind::accept_backoff:
          j["event"] = "accept_backoff";
          j["error"] = ev.error.message();
          j["open_fds"] = ev.open_fds;
          j["fd_limit"] = ev.fd_limit;
          j["backoff_ms"] = std::chrono::duration<double, std::milli>(ev.backoff).count();
          break;
      }
      emit(j);
      return;
    }
    switch (ev.kind) {
      case Kind::accepted:
        fmt::print("{}\n", tr(g_.lang, Msg::serve_conn_open, fmt::arg("time", timestamp(ev.time)),
                              fmt::arg("listener", ev.listener.to_string()),
                              fmt::arg("peer", ev.peer.to_string()), fmt::arg("id", ev.id)));
        break;
      case Kind::closed:
        fmt::print("{}\n", tr(g_.lang, Msg::serve_conn_close, fmt::arg("time", timestamp(ev.time)),
                              fmt::arg("listener", ev.listener.to_string()),
                              fmt::arg("peer", ev.peer.to_string()), fmt::arg("id", ev.id),
                              fmt::arg("duration", format_duration(std::chrono::duration_cast<std::chrono::milliseconds>(ev.duration))),
                              fmt::arg("rx", ev.rx_bytes), fmt::arg("tx", ev.tx_bytes),
                              fmt::arg("how", close_text(g_.lang, ev.reason))));
        break;
      case Kind::accept_backoff:
        fmt::print(stderr, "{}\n",
                   style_.yellow(tr(g_.lang, Msg::serve_accept_backoff,
                                    fmt::arg("time", timestamp(ev.time)),
                                    fmt::arg("listener", ev.listener.to_string()),
                                    fmt::arg("reason", ev.error.message(g_.lang)),
                                    fmt::arg("open", ev.open_fds), fmt::arg("limit", ev.fd_limit),
                                    fmt::arg("backoff", format_duration(ev.backoff)))));
        break;
    }
    std::fflush(stdout);
  }

  void summary(const serve::Stats& s, std::chrono::nanoseconds uptime) const {
    if (g_.json) {
      emit({{"event", "summary"},
            {"accepted", s.accepted},
            {"active", s.active},
            {"rx_bytes", s.rx_bytes},
            {"tx_bytes", s.tx_bytes},
            {"peer_resets", s.peer_resets},
            {"accept_backoffs", s.accept_backoffs},
            {"uptime_s", std::chrono::duration<double>(uptime).count()}});
      return;
    }
    fmt::print("{}\n", tr(g_.lang, Msg::serve_summary, fmt::arg("accepted", s.accepted),
                          fmt::arg("active", s.active), fmt::arg("rx", s.rx_bytes),
                          fmt::arg("tx", s.tx_bytes), fmt::arg("resets", s.peer_resets),
                          fmt::arg("backoffs", s.accept_backoffs),
                          fmt::arg("uptime", format_duration(std::chrono::duration_cast<std::chrono::seconds>(uptime)))));
    std::fflush(stdout);
  }

 private:
  static void emit(const nlohmann::json& j) {
    fmt::print("{}\n", j.dump());
    std::fflush(stdout);
  }
  const GlobalOptions& g_;
  const serve::Options& o_;
  Style style_;
};

int run_serve(const GlobalOptions& g, const serve::ServeRequest& f) {
  auto options = serve::build_options(f);
  if (!options) return report(g, options.error(), ExitCode::usage);
  const auto raised = serve::raise_fd_limit();

  boost::asio::io_context io(1);
  Printer printer(g, *options);
  auto server = serve::Server::create(io, *options, [&printer](const serve::Event& ev) { printer.event(ev); });
  if (!server) {
    const Error e = serve::explain_open_error(server.error(), *options, g.lang);
    return report(g, e, serve::exit_for_open_error(server.error()));
  }
  // Before saying we listen: whoever reads that line may stop us at once, and the signal must
  // find its handler installed, not the default action.
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (!ec) (*server)->stop();
  });
  printer.listening((*server)->listeners(), f.demo);
  if (raised && g.verbose > 0 && !g.json) {
    fmt::print("{}\n", tr(g.lang, Msg::serve_fd_limit, raised->before, raised->after));
  }

  const auto started = std::chrono::steady_clock::now();
  (*server)->start();
  io.run();
  printer.summary((*server)->stats(), std::chrono::steady_clock::now() - started);
  return static_cast<int>(ExitCode::healthy);
}

}  // namespace

std::function<int()> register_serve(CLI::App& app, const GlobalOptions& global) {
  auto flags = std::make_shared<serve::ServeRequest>();
  const Lang lang = global.lang;
  auto help = [lang](Msg id) { return tr(lang, id); };
  auto* cmd = app.add_subcommand("serve", help(Msg::help_serve));
  cmd->footer(help(Msg::help_serve_footer));
  cmd->add_option("-l,--listen", flags->listen, help(Msg::help_serve_listen))->type_name("ADDR:PORT");
  cmd->add_option("-p,--port", flags->port, help(Msg::help_serve_port))->type_name("PORT");
  cmd->add_option("-m,--mode", flags->mode, help(Msg::help_serve_mode))->type_name("MODE");
  cmd->add_option("--backlog", flags->backlog, help(Msg::help_serve_backlog))->type_name("N");
  cmd->add_flag("--reuseport", flags->reuseport, help(Msg::help_serve_reuseport));
  cmd->add_option("--fastopen", flags->fastopen, help(Msg::help_serve_fastopen))->type_name("N");
  cmd->add_option("--keepalive", flags->keepalive, help(Msg::help_serve_keepalive))
      ->type_name("IDLE,INTVL,COUNT");
  cmd->add_option("--tls-cert", flags->tls_cert, help(Msg::help_serve_tls_cert))->type_name("FILE");
  cmd->add_option("--tls-key", flags->tls_key, help(Msg::help_serve_tls_key))->type_name("FILE");
  cmd->add_flag("--tls-self-signed", flags->tls_self_signed, help(Msg::help_serve_tls_self_signed));
  cmd->add_option("--http-status", flags->http_status, help(Msg::help_serve_http_status))
      ->type_name("CODE");
  cmd->add_option("--http-location", flags->http_location, help(Msg::help_serve_http_location))
      ->type_name("URL");
  cmd->add_option("--banner", flags->banner, help(Msg::help_serve_banner))->type_name("TEXT");
  cmd->add_option("--delay", flags->delay, help(Msg::help_serve_delay))->type_name("DURATION");
  cmd->add_option("--interval", flags->interval, help(Msg::help_serve_interval))
      ->type_name("DURATION");
  cmd->add_flag("--demo", flags->demo, help(Msg::help_serve_demo));
  cmd->add_option("--demo-port", flags->demo_port, help(Msg::help_serve_demo_port))
      ->type_name("PORT");
  return [cmd, flags, &global]() -> int {
    if (!cmd->parsed()) return -1;
    return run_serve(global, *flags);
  };
}

}  // namespace connscope::cli
