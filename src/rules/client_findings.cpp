#include "rules/client_findings.h"

#include <array>
#include <charconv>

#include <fmt/format.h>

#include "core/error_text.h"
#include "rules/finding_text.h"

namespace connscope::rules {

namespace {

using probe::StageId;

#define CONNSCOPE_CF(id, stage, sev, name) \
  ClientFindingSpec { id, StageId::stage, Severity::sev, Msg::c_##name##_summary, Msg::c_##name##_cause, Msg::c_##name##_fix }

constexpr std::array kCatalog{
    CONNSCOPE_CF("dns.nxdomain", resolve, critical, dns_nxdomain),
    CONNSCOPE_CF("dns.servfail", resolve, critical, dns_servfail),
    CONNSCOPE_CF("dns.refused", resolve, critical, dns_refused),
    CONNSCOPE_CF("dns.timeout", resolve, critical, dns_timeout),
    CONNSCOPE_CF("dns.no_address", resolve, critical, dns_no_address),
    CONNSCOPE_CF("dns.unreachable", resolve, critical, dns_unreachable),
    CONNSCOPE_CF("dns.bad_answer", resolve, critical, dns_bad_answer),
    CONNSCOPE_CF("dns.failed", resolve, critical, dns_failed),
    CONNSCOPE_CF("net.no_route", route, critical, net_no_route),
    CONNSCOPE_CF("net.route_failed", route, warning, net_route_failed),
    CONNSCOPE_CF("net.no_echo_reply", reach, warning, net_no_echo_reply),
    CONNSCOPE_CF("net.reach_failed", reach, warning, net_reach_failed),
    CONNSCOPE_CF("tcp.refused", connect, critical, tcp_refused),
    CONNSCOPE_CF("tcp.rejected_icmp", connect, critical, tcp_rejected_icmp),
    CONNSCOPE_CF("net.admin_prohibited", connect, critical, net_admin_prohibited),
    CONNSCOPE_CF("net.host_unreachable", connect, critical, net_host_unreachable),
    CONNSCOPE_CF("tcp.filtered", connect, critical, tcp_filtered),
    CONNSCOPE_CF("tcp.local_port_exhaustion", connect, critical, tcp_local_port_exhaustion),
    CONNSCOPE_CF("tcp.slow_handshake", connect, warning, tcp_slow_handshake),
    CONNSCOPE_CF("tcp.handshake_loss", connect, warning, tcp_handshake_loss),
    CONNSCOPE_CF("net.some_addresses_fail", connect, warning, net_some_addresses_fail),
    CONNSCOPE_CF("tcp.connect_failed", connect, critical, tcp_connect_failed),
    CONNSCOPE_CF("tcp.reset_after_accept", talk, critical, tcp_reset_after_accept),
    CONNSCOPE_CF("tcp.closed_after_accept", talk, critical, tcp_closed_after_accept),
    CONNSCOPE_CF("tls.not_tls", secure, critical, tls_not_tls),
    CONNSCOPE_CF("tls.alert", secure, critical, tls_alert),
    CONNSCOPE_CF("tls.cert_expired", secure, critical, tls_cert_expired),
    CONNSCOPE_CF("tls.cert_not_yet_valid", secure, critical, tls_cert_not_yet_valid),
    CONNSCOPE_CF("tls.cert_hostname_mismatch", secure, critical, tls_cert_hostname_mismatch),
    CONNSCOPE_CF("tls.cert_untrusted", secure, critical, tls_cert_untrusted),
    CONNSCOPE_CF("tls.chain_incomplete", secure, critical, tls_chain_incomplete),
    CONNSCOPE_CF("tls.old_protocol", secure, warning, tls_old_protocol),
    CONNSCOPE_CF("tls.cert_expiring_soon", secure, warning, tls_cert_expiring_soon),
    CONNSCOPE_CF("tls.client_cert_required", secure, critical, tls_client_cert_required),
    CONNSCOPE_CF("tls.handshake_failed", secure, critical, tls_handshake_failed),
    CONNSCOPE_CF("app.no_response", talk, critical, app_no_response),
    CONNSCOPE_CF("app.http_5xx", talk, critical, app_http_5xx),
    CONNSCOPE_CF("app.http_4xx", talk, warning, app_http_4xx),
    CONNSCOPE_CF("app.slow_first_byte", talk, warning, app_slow_first_byte),
    CONNSCOPE_CF("app.unexpected_reply", talk, warning, app_unexpected_reply),
    CONNSCOPE_CF("app.error_reply", talk, warning, app_error_reply),
    CONNSCOPE_CF("app.incomplete_reply", talk, critical, app_incomplete_reply),
    CONNSCOPE_CF("app.truncated_reply", talk, critical, app_truncated_reply),
    CONNSCOPE_CF("app.silent", talk, warning, app_silent),
    CONNSCOPE_CF("http.no_final_response", talk, critical, http_no_final_response),
    CONNSCOPE_CF("http.redirect_loop", talk, critical, http_redirect_loop),
    CONNSCOPE_CF("http.too_many_redirects", talk, critical, http_too_many_redirects),
    CONNSCOPE_CF("app.failed", talk, critical, app_failed),
    CONNSCOPE_CF("path.loss", reach, warning, path_loss),
    CONNSCOPE_CF("path.mtu_blackhole", talk, critical, path_mtu_blackhole),
    CONNSCOPE_CF("tcp.close_failed", close, warning, tcp_close_failed),
};

#undef CONNSCOPE_CF

}  // namespace

std::span<const ClientFindingSpec> client_findings_catalog() { return kCatalog; }

const ClientFindingSpec* find_client_spec(std::string_view id) {
  for (const auto& spec : kCatalog) {
    if (spec.id == id) return &spec;
  }
  return nullptr;
}

Result<std::string> format_named(Lang lang, Msg id, const std::map<std::string, std::string>& args) {
  // A plural message's form is picked by the number its count placeholder quotes.
  unsigned long long n = 1;
  if (const auto count = plural_count_name(id); !count.empty()) {
    const auto it = args.find(std::string(count));
    const char* end = it == args.end() ? nullptr : it->second.data() + it->second.size();
    if (it == args.end() || std::from_chars(it->second.data(), end, n).ptr != end) {
      return fail("format message " + std::string(msg_id_name(id)),
                  "evidence lacks the number " + std::string(count) + " that picks the plural form");
    }
  }
  auto text = format_args(text_template(lang, id, n), args);
  if (!text) return fail("format message " + std::string(msg_id_name(id)), "evidence lacks a name the text quotes");
  return std::move(*text);
}

Result<Finding> make_client_finding(std::string_view id, std::map<std::string, std::string> evidence,
                                    Lang lang) {
  const auto* spec = find_client_spec(id);
  if (spec == nullptr) return fail("finding \"" + std::string(id) + "\"", "not in the catalog");
  return render_finding(id, spec->severity, std::move(evidence), lang);
}

}  // namespace connscope::rules
