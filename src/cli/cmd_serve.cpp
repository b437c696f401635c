#include "cli/cmd_serve.h"

#include <sys/stat.h>

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
#include "core/number.h"
#include "serve/server.h"
#include "sys/limits.h"
#include "sys/proc_net.h"
#include "sys/sysctl.h"

namespace connscope::cli {

namespace {

using serve::Mode;

struct ServeFlags {
  std::vector<std::string> listen;
  std::string port;
  std::string mode = "echo";
  std::string backlog;
  bool reuseport = false;
  std::string fastopen;
  std::string keepalive;
  std::string tls_cert;
  std::string tls_key;
  bool tls_self_signed = false;
  std::string http_status;
  std::string http_location;
  std::optional<std::string> banner;
  std::string delay;
  std::string interval;
  bool demo = false;
  std::string demo_port = "9601";
};

// The first port of the demo block; the modes follow in kAllModes order.
constexpr int kDemoModes = static_cast<int>(std::size(serve::kAllModes));

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

bool have_ipv6() {
  struct stat st {};
  return ::stat("/proc/net/if_inet6", &st) == 0;
}

// Turns the flags into server options; errors are usage errors.
Result<serve::Options> build_options(const ServeFlags& f) {
  serve::Options o;
  auto spec = serve::parse_mode(f.mode);
  if (!spec) return std::unexpected(spec.error());
  if (!f.backlog.empty()) {
    auto v = parse_int(f.backlog, "--backlog", 0, 65535);
    if (!v) return std::unexpected(v.error());
    o.backlog = static_cast<int>(*v);
  } else if (auto somaxconn = sys::read_sysctl_int("net.core.somaxconn"); somaxconn && *somaxconn > 0) {
    o.backlog = static_cast<int>(std::min<std::int64_t>(*somaxconn, 65535));
  }
  o.reuseport = f.reuseport;
  if (!f.fastopen.empty()) {
    auto v = parse_int(f.fastopen, "--fastopen", 0, 65535);
    if (!v) return std::unexpected(v.error());
    o.fastopen = static_cast<int>(*v);
  }
  if (!f.keepalive.empty()) {
    auto k = serve::parse_keepalive(f.keepalive);
    if (!k) return std::unexpected(k.error());
    o.keepalive = *k;
  }
  if (f.tls_self_signed && (!f.tls_cert.empty() || !f.tls_key.empty())) {
    return fail("--tls-self-signed", "cannot be combined with --tls-cert/--tls-key");
  }
  if (f.tls_cert.empty() != f.tls_key.empty()) {
    return fail(f.tls_cert.empty() ? "--tls-key" : "--tls-cert",
                "needs its partner (--tls-cert and --tls-key go together)");
  }
  if (f.tls_self_signed) o.tls = serve::TlsConfig{{}, {}, true};
  if (!f.tls_cert.empty()) o.tls = serve::TlsConfig{f.tls_cert, f.tls_key, false};
  if (!f.http_status.empty()) {
    auto s = serve::parse_http_status(f.http_status);
    if (!s) return std::unexpected(s.error());
    o.http_status = *s;
  }
  if (!f.http_location.empty()) {
    // It goes into a header line: CR, LF and other control bytes would split the response.
    for (char ch : f.http_location) {
      if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) {
        return fail("--http-location \"" + f.http_location + "\"", "control characters are not allowed");
      }
    }
    o.http_location = f.http_location;
  }
  if (f.banner) o.banner = *f.banner;
  if (!f.delay.empty()) {
    auto d = parse_duration(f.delay, "--delay");
    if (!d) return std::unexpected(d.error());
    o.delay = *d;
  }
  if (!f.interval.empty()) {
    auto d = parse_duration(f.interval, "--interval");
    if (!d) return std::unexpected(d.error());
    if (d->count() == 0) return fail("--interval \"" + f.interval + "\"", "must be more than 0");
    o.interval = *d;
  }
  if (spec->argument) {
    const std::string op = "--mode \"" + f.mode + "\"";
    if (spec->mode == Mode::banner) o.banner = *spec->argument;
    if (spec->mode == Mode::slow_first_byte || spec->mode == Mode::drip) {
      auto d = parse_duration(*spec->argument, op);
      if (!d) return std::unexpected(d.error());
      (spec->mode == Mode::drip ? o.interval : o.delay) = *d;
    }
  }

  if (f.demo) {
    if (!f.listen.empty() || !f.port.empty()) {
      return fail("--demo", "chooses its own addresses; leave out --listen and --port");
    }
    auto base = parse_int(f.demo_port, "--demo-port", 1, 65535 - kDemoModes + 1);
    if (!base) return std::unexpected(base.error());
    int port = static_cast<int>(*base);
    for (Mode m : serve::kAllModes) {
      serve::Listener l;
      l.endpoint = Endpoint{AF_INET, "127.0.0.1", static_cast<std::uint16_t>(port++)};
      l.mode = m;
      o.listeners.push_back(l);
    }
    return o;
  }
  for (const auto& text : f.listen) {
    auto ep = parse_endpoint(text, "--listen", /*allow_zero=*/true);
    if (!ep) return std::unexpected(ep.error());
    o.listeners.push_back({*ep, spec->mode});
  }
  if (!f.port.empty()) {
    auto p = parse_port(f.port, "--port", /*allow_zero=*/true);
    if (!p) return std::unexpected(p.error());
    o.listeners.push_back({Endpoint{AF_INET, "0.0.0.0", *p}, spec->mode});
    if (have_ipv6()) o.listeners.push_back({Endpoint{AF_INET6, "::", *p}, spec->mode});
  }
  if (o.listeners.empty()) o.listeners.push_back({Endpoint{AF_INET, "127.0.0.1", 8080}, spec->mode});
  return o;
}

// Bind errors get the words an operator needs: who holds the port, or which privilege is missing.
Error explain_open_error(const GlobalOptions& g, Error e, const serve::Options& o) {
  if (e.code == EADDRINUSE) {
    for (const auto& l : o.listeners) {
      if (e.op == "bind " + l.endpoint.to_string()) {
        const auto owner = sys::find_tcp_port_owner(l.endpoint.port);
        const std::string where = l.endpoint.to_string();
        return Error{owner ? tr(g.lang, Msg::serve_port_in_use_owner, where, owner->pid, owner->command)
                           : tr(g.lang, Msg::serve_port_in_use, where),
                     0, {}};
      }
    }
  }
  if (e.code == EACCES && e.op.starts_with("bind ")) {
    return Error{tr(g.lang, Msg::serve_need_root_port, e.op), 0, {}};
  }
  return e;
}

ExitCode exit_for_open_error(const Error& e) {
  // Bad files and addresses are the user's input; busy ports, privileges and limits are the
  // machine's state.
  if (e.op.starts_with("--")) return ExitCode::usage;
  if (e.code == EADDRNOTAVAIL || e.code == EAFNOSUPPORT) return ExitCode::usage;
  return ExitCode::could_not_run;
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

int run_serve(const GlobalOptions& g, const ServeFlags& f) {
  auto options = build_options(f);
  if (!options) return report(g, options.error(), ExitCode::usage);

  // Servers take the hard limit: the soft default is a select() relic, not a policy.
  const auto before = sys::get_fd_limit();
  const auto limit = sys::raise_fd_limit();

  boost::asio::io_context io(1);
  Printer printer(g, *options);
  auto server = serve::Server::create(io, *options, [&printer](const serve::Event& ev) { printer.event(ev); });
  if (!server) {
    const Error e = explain_open_error(g, server.error(), *options);
    return report(g, e, exit_for_open_error(server.error()));
  }
  // Before saying we listen: whoever reads that line may stop us at once, and the signal must
  // find its handler installed, not the default action.
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (!ec) (*server)->stop();
  });
  printer.listening((*server)->listeners(), f.demo);
  if (before && limit && before->soft != limit->soft && g.verbose > 0 && !g.json) {
    fmt::print("{}\n", tr(g.lang, Msg::serve_fd_limit, before->soft, limit->soft));
  }

  const auto started = std::chrono::steady_clock::now();
  (*server)->start();
  io.run();
  printer.summary((*server)->stats(), std::chrono::steady_clock::now() - started);
  return static_cast<int>(ExitCode::healthy);
}

}  // namespace

std::function<int()> register_serve(CLI::App& app, const GlobalOptions& global) {
  auto flags = std::make_shared<ServeFlags>();
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
