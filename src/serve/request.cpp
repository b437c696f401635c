#include "serve/request.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>

#include "core/duration.h"
#include "core/error_text.h"
#include "core/number.h"
#include "sys/limits.h"
#include "sys/proc_net.h"
#include "sys/sysctl.h"

namespace connscope::serve {

namespace {

// The demo block: one port per mode, in kAllModes order.
constexpr int kDemoModes = static_cast<int>(std::size(kAllModes));

bool have_ipv6() {
  struct stat st {};
  return ::stat("/proc/net/if_inet6", &st) == 0;
}

}  // namespace

Result<Options> build_options(const ServeRequest& f) {
  Options o;
  auto spec = parse_mode(f.mode);
  if (!spec) return std::unexpected(spec.error());
  if (!f.backlog.empty()) {
    auto v = parse_int(f.backlog, "--backlog", 0, 65535);
    if (!v) return std::unexpected(v.error());
    o.backlog = static_cast<int>(*v);
  } else if (auto somaxconn = sys::read_sysctl_int("net.core.somaxconn"); somaxconn && *somaxconn > 0) {
    // A known-good server should not be the one dropping SYNs: the most the kernel allows.
    o.backlog = static_cast<int>(std::min<std::int64_t>(*somaxconn, 65535));
  }
  o.reuseport = f.reuseport;
  if (!f.fastopen.empty()) {
    auto v = parse_int(f.fastopen, "--fastopen", 0, 65535);
    if (!v) return std::unexpected(v.error());
    o.fastopen = static_cast<int>(*v);
  }
  if (!f.keepalive.empty()) {
    auto k = parse_keepalive(f.keepalive);
    if (!k) return std::unexpected(k.error());
    o.keepalive = *k;
  }
  if (f.tls_self_signed && (!f.tls_cert.empty() || !f.tls_key.empty())) {
    return fail_text("--tls-self-signed", Msg::serve_err_self_signed_and_files);
  }
  if (f.tls_cert.empty() != f.tls_key.empty()) {
    return fail_text(f.tls_cert.empty() ? "--tls-key" : "--tls-cert", Msg::serve_err_tls_partner);
  }
  if (f.tls_self_signed) o.tls = TlsConfig{{}, {}, true};
  if (!f.tls_cert.empty()) o.tls = TlsConfig{f.tls_cert, f.tls_key, false};
  if (!f.http_status.empty()) {
    auto s = parse_http_status(f.http_status);
    if (!s) return std::unexpected(s.error());
    o.http_status = *s;
  }
  if (!f.http_location.empty()) {
    // It goes into a header line: CR, LF and other control bytes would split the response.
    for (char ch : f.http_location) {
      if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) {
        return fail_text("--http-location \"" + f.http_location + "\"", Msg::serve_err_location_control);
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
    if (d->count() == 0) return fail_text("--interval \"" + f.interval + "\"", Msg::cli_more_than_zero);
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
    if (!f.listen.empty() || !f.port.empty()) return fail_text("--demo", Msg::serve_err_demo_addresses);
    auto base = parse_int(f.demo_port, "--demo-port", 1, 65535 - kDemoModes + 1);
    if (!base) return std::unexpected(base.error());
    int port = static_cast<int>(*base);
    for (Mode m : kAllModes) {
      Listener l;
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

Error explain_open_error(Error e, const Options& o, Lang lang) {
  if (e.code == EADDRINUSE) {
    for (const auto& l : o.listeners) {
      if (e.op == "bind " + l.endpoint.to_string()) {
        const auto owner = sys::find_tcp_port_owner(l.endpoint.port);
        const std::string where = l.endpoint.to_string();
        return Error{owner ? tr(lang, Msg::serve_port_in_use_owner, where, owner->pid, owner->command)
                           : tr(lang, Msg::serve_port_in_use, where),
                     0, {}};
      }
    }
  }
  if (e.code == EACCES && e.op.starts_with("bind ")) {
    return Error{tr(lang, Msg::serve_need_root_port, e.op), 0, {}};
  }
  return e;
}

ExitCode exit_for_open_error(const Error& e) {
  if (e.op.starts_with("--")) return ExitCode::usage;
  if (e.code == EADDRNOTAVAIL || e.code == EAFNOSUPPORT) return ExitCode::usage;
  return ExitCode::could_not_run;
}

std::optional<FdLimitRaise> raise_fd_limit() {
  const auto before = sys::get_fd_limit();
  const auto after = sys::raise_fd_limit();
  if (!before || !after || before->soft == after->soft) return std::nullopt;
  return FdLimitRaise{before->soft, after->soft};
}

}  // namespace connscope::serve
