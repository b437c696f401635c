#include "cli/doctor_request.h"

#include <cstdint>
#include <string_view>

#include "core/error_text.h"
#include "core/target.h"
#include "probe/doctor_defaults.h"
#include "probe/dns.h"
#include "probe/tls_result.h"

namespace connscope::cli {

namespace {

constexpr AppProtocol kProtocols[] = {AppProtocol::banner, AppProtocol::http,     AppProtocol::ssh,
                                      AppProtocol::smtp,   AppProtocol::ftp,      AppProtocol::redis,
                                      AppProtocol::postgres, AppProtocol::mysql};

std::optional<AppProtocol> parse_protocol(std::string_view name) {
  for (AppProtocol p : kProtocols) {
    if (protocol_name(p) == name) return p;
  }
  return std::nullopt;
}

std::string protocol_names() {
  std::string out;
  for (AppProtocol p : kProtocols) out += (out.empty() ? "" : ", ") + std::string(protocol_name(p));
  return out;
}

}  // namespace

Result<probe::DoctorOptions> doctor_options(const DoctorFlags& f, std::chrono::nanoseconds timeout) {
  auto target = parse_target(f.target);
  if (!target) return std::unexpected(target.error());
  std::uint16_t port = 0;
  if (f.port) {
    if (*f.port < 1 || *f.port > 65535) return fail_text("--port \"" + std::to_string(*f.port) + "\"", Msg::in_not_port);
    port = static_cast<std::uint16_t>(*f.port);
  } else if (target->port) {
    port = *target->port;
  } else {
    return fail_text("target \"" + f.target + "\"", Msg::doctor_no_port);
  }
  // Without a scheme, the port may suggest a protocol and TLS (5432 → postgres); --port counts too.
  probe::DoctorOptions o =
      probe::doctor_defaults(*target, port, std::chrono::duration_cast<std::chrono::milliseconds>(timeout));
  if (f.v4 && f.v6) return fail_text("-4 and -6", Msg::probe_choose_one);
  o.family = f.v4 ? probe::DnsFamily::v4 : f.v6 ? probe::DnsFamily::v6 : probe::DnsFamily::any;
  if ((target->kind == HostKind::ipv4 && f.v6) || (target->kind == HostKind::ipv6 && f.v4)) {
    return fail_text("target \"" + f.target + "\"", f.v6 ? Msg::opt_ipv4_with_v6 : Msg::opt_ipv6_with_v4);
  }
  if (!f.resolver.empty()) {
    auto r = probe::parse_resolver(f.resolver);
    if (!r) return std::unexpected(r.error());
    o.resolver = *r;
  }
  if (!f.proto.empty()) {
    auto p = parse_protocol(f.proto);
    if (!p) return fail_text("--proto \"" + f.proto + "\"", Msg::doctor_unknown_protocol, {{"known", protocol_names()}});
    o.protocol = *p;
  }
  if (!f.http_path.empty()) {
    if (f.http_path.front() != '/') return fail_text("--http-path \"" + f.http_path + "\"", Msg::doctor_path_slash);
    o.http_path = f.http_path;
  }
  if (f.tls && f.no_tls) return fail_text("--tls and --no-tls", Msg::probe_choose_one);
  o.tls = f.tls || (!f.no_tls && o.tls);
  if (!f.sni.empty()) o.sni = f.sni;
  // Any flag that says what the service speaks ends the guessing.
  o.identify = o.identify && f.proto.empty() && !f.tls && !f.no_tls;
  o.insecure = f.insecure;
  if (!f.ca_file.empty()) o.ca_file = f.ca_file;
  if (f.cert.empty() != f.key.empty()) return fail_text(f.cert.empty() ? "--key" : "--cert", Msg::opt_cert_and_key);
  if (!f.cert.empty()) o.client_cert = probe::ClientCertificate{f.cert, f.key};
  // Checked here so that a wrong file is a usage error naming it; the secure stage loads them.
  if (auto check = probe::check_tls_files(o.ca_file, o.client_cert); !check) return std::unexpected(check.error());
  if (f.repeat < 1 || f.repeat > 1000) {
    return fail_text("--repeat \"" + std::to_string(f.repeat) + "\"", Msg::opt_range, {{"min", "1"}, {"max", "1000"}});
  }
  o.repeat = f.repeat;
  return o;
}

DoctorFlags redirect_flags(const DoctorFlags& f, const std::string& url) {
  DoctorFlags hop = f;
  hop.target = url;
  hop.port.reset();
  hop.sni.clear();
  hop.http_path.clear();
  hop.proto.clear();
  hop.tls = hop.no_tls = false;
  return hop;
}

}  // namespace connscope::cli
