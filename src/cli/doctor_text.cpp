#include "cli/doctor_text.h"

#include <chrono>

#include <fmt/format.h>

#include "core/duration.h"
#include "core/target.h"

namespace connscope::cli {

namespace {

using probe::Clock;
using probe::StageId;

std::string dur(Clock::duration d) {
  return format_elapsed(std::chrono::duration_cast<std::chrono::nanoseconds>(d));
}

std::string dns_failure_text(Lang lang, probe::DnsFailure f) {
  using F = probe::DnsFailure;
  switch (f) {
    case F::nxdomain: return tr(lang, Msg::d_dns_nxdomain);
    case F::servfail: return tr(lang, Msg::d_dns_servfail);
    case F::refused: return tr(lang, Msg::d_dns_refused);
    case F::timeout: return tr(lang, Msg::d_dns_timeout);
    case F::no_address: return tr(lang, Msg::d_dns_no_address);
    case F::unreachable: return tr(lang, Msg::d_dns_unreachable);
    case F::bad_answer: return tr(lang, Msg::d_dns_bad_answer);
    case F::bad_name: return tr(lang, Msg::d_dns_bad_name);
    case F::none:
    case F::other: break;
  }
  return tr(lang, Msg::d_dns_other);
}

std::string route_outcome_text(Lang lang, probe::RouteOutcome o) {
  using O = probe::RouteOutcome;
  switch (o) {
    case O::no_route: return tr(lang, Msg::d_route_no_route);
    case O::unreachable_route: return tr(lang, Msg::d_route_unreachable_route);
    case O::prohibited_route: return tr(lang, Msg::d_route_prohibited_route);
    case O::blackhole_route: return tr(lang, Msg::d_route_blackhole_route);
    case O::ok:
    case O::local:
    case O::error: break;
  }
  return tr(lang, Msg::d_route_error);
}

std::string connect_failure_text(Lang lang, probe::ConnectFailure f) {
  using F = probe::ConnectFailure;
  switch (f) {
    case F::refused: return tr(lang, Msg::d_connect_refused);
    case F::rejected_icmp: return tr(lang, Msg::d_connect_rejected_icmp);
    case F::admin_prohibited: return tr(lang, Msg::d_connect_admin_prohibited);
    case F::host_unreachable: return tr(lang, Msg::d_connect_host_unreachable);
    case F::no_route: return tr(lang, Msg::d_connect_no_route);
    case F::filtered: return tr(lang, Msg::d_connect_filtered);
    case F::local_port_exhaustion: return tr(lang, Msg::d_connect_local_port_exhaustion);
    case F::none:
    case F::other: break;
  }
  return tr(lang, Msg::d_connect_other);
}

std::string tls_outcome_text(Lang lang, probe::TlsOutcome o) {
  using O = probe::TlsOutcome;
  switch (o) {
    case O::ok: return tr(lang, Msg::d_tls_ok);
    case O::not_tls: return tr(lang, Msg::d_tls_not_tls);
    case O::alert: return tr(lang, Msg::d_tls_alert_outcome);
    case O::client_cert_required: return tr(lang, Msg::d_tls_client_cert_required);
    case O::cert_expired: return tr(lang, Msg::d_tls_cert_expired);
    case O::cert_not_yet_valid: return tr(lang, Msg::d_tls_cert_not_yet_valid);
    case O::hostname_mismatch: return tr(lang, Msg::d_tls_hostname_mismatch);
    case O::untrusted: return tr(lang, Msg::d_tls_untrusted);
    case O::chain_incomplete: return tr(lang, Msg::d_tls_chain_incomplete);
    case O::old_protocol: return tr(lang, Msg::d_tls_old_protocol);
    case O::timeout: return tr(lang, Msg::d_tls_timeout);
    case O::closed_by_peer: return tr(lang, Msg::d_tls_closed_by_peer);
    case O::reset_by_peer: return tr(lang, Msg::d_tls_reset_by_peer);
    case O::other: break;
  }
  return tr(lang, Msg::d_tls_other);
}

std::string talk_outcome_text(Lang lang, probe::TalkOutcome o) {
  using O = probe::TalkOutcome;
  switch (o) {
    case O::ok: return tr(lang, Msg::d_talk_ok);
    case O::slow_first_byte: return tr(lang, Msg::d_talk_slow_first_byte);
    case O::http_4xx: return tr(lang, Msg::d_talk_http_4xx);
    case O::http_5xx: return tr(lang, Msg::d_talk_http_5xx);
    case O::http_no_final: return tr(lang, Msg::d_talk_http_no_final);
    case O::app_error: return tr(lang, Msg::d_talk_app_error);
    case O::unexpected_reply: return tr(lang, Msg::d_talk_unexpected_reply);
    case O::no_response: return tr(lang, Msg::d_talk_no_response);
    case O::silent: return tr(lang, Msg::d_talk_silent);
    case O::timeout: return tr(lang, Msg::d_talk_timeout);
    case O::closed_by_peer: return tr(lang, Msg::d_talk_closed_by_peer);
    case O::reset_by_peer: return tr(lang, Msg::d_talk_reset_by_peer);
    case O::failed: break;
  }
  return tr(lang, Msg::d_talk_failed);
}

// Parts of one line, each a whole clause from the catalog, joined by the language's separator.
std::string joined(Lang lang, const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) {
    if (p.empty()) continue;
    if (!out.empty()) out += tr(lang, Msg::d_list_sep);
    out += p;
  }
  return out;
}

std::string resolve_line(const probe::DnsResult& d, Lang lang) {
  if (d.source == probe::DnsSource::literal) return tr(lang, Msg::d_resolve_literal, fmt::arg("name", d.name));
  std::string addrs;
  for (const auto& a : d.addresses) addrs += (addrs.empty() ? "" : ", ") + a.address;
  const std::string via = d.source == probe::DnsSource::hosts_file ? tr(lang, Msg::d_via_hosts_file)
                          : d.server                                ? d.server->to_string()
                                                                    : tr(lang, Msg::d_via_no_server);
  const std::string rcode = d.rcode ? std::string(probe::rcode_name(*d.rcode)) : "";
  if (!d.ok()) {
    return tr(lang, rcode.empty() ? Msg::d_resolve_failed : Msg::d_resolve_failed_rcode, fmt::arg("name", d.name),
              fmt::arg("failure", dns_failure_text(lang, d.failure)), fmt::arg("via", via), fmt::arg("rcode", rcode));
  }
  std::vector<std::string> parts{tr(lang, rcode.empty() ? Msg::d_resolve_ok : Msg::d_resolve_ok_rcode,
                                    fmt::arg("name", d.name), fmt::arg("addresses", addrs), fmt::arg("via", via),
                                    fmt::arg("rcode", rcode))};
  for (const auto& c : d.cnames) {
    parts.push_back(tr(lang, Msg::d_resolve_alias, fmt::arg("alias", c.alias), fmt::arg("target", c.target)));
  }
  return joined(lang, parts);
}

std::string route_line(const std::vector<probe::RouteResult>& routes, Lang lang) {
  std::vector<std::string> parts;
  for (const auto& r : routes) {
    if (r.outcome == probe::RouteOutcome::local) {
      parts.push_back(tr(lang, Msg::d_route_local, fmt::arg("destination", r.destination),
                         fmt::arg("interface", r.interface)));
    } else if (r.outcome == probe::RouteOutcome::ok) {
      // ip-route's own notation: the same words in every language.
      std::string out = fmt::format("{} dev {}", r.destination, r.interface);
      if (r.gateway) out += " via " + *r.gateway;
      if (r.source) out += " src " + *r.source;
      if (r.link_mtu) out += fmt::format(" mtu {}", *r.link_mtu);
      if (r.link_up && !*r.link_up) out += tr(lang, Msg::d_route_link_down);
      parts.push_back(std::move(out));
    } else {
      parts.push_back(tr(lang, r.error ? Msg::d_route_failed_error : Msg::d_route_failed,
                         fmt::arg("destination", r.destination),
                         fmt::arg("outcome", route_outcome_text(lang, r.outcome)),
                         fmt::arg("error", r.error ? r.error->message() : std::string())));
    }
  }
  return joined(lang, parts);
}

std::string reach_line(const probe::ReachResult& r, Lang lang) {
  if (r.outcome == probe::ReachOutcome::unavailable || r.outcome == probe::ReachOutcome::error) {
    return tr(lang, Msg::d_reach_unavailable,
              fmt::arg("reason", r.reason ? r.reason->message() : std::string(probe::reach_outcome_name(r.outcome))));
  }
  std::string out = r.stats.rtt_avg
                        ? tr(lang, Msg::d_reach_replies_rtt, fmt::arg("destination", r.destination),
                             fmt::arg("received", r.stats.received), fmt::arg("sent", r.stats.sent),
                             fmt::arg("min", dur(*r.stats.rtt_min)), fmt::arg("avg", dur(*r.stats.rtt_avg)),
                             fmt::arg("max", dur(*r.stats.rtt_max)))
                        : tr(lang, Msg::d_reach_replies, fmt::arg("destination", r.destination),
                             fmt::arg("received", r.stats.received), fmt::arg("sent", r.stats.sent));
  if (!r.errors.empty()) {
    const auto& e = r.errors.front();
    const std::string from = e.from.empty() ? tr(lang, Msg::d_this_host) : e.from;
    out += tr(lang, Msg::d_reach_icmp, fmt::arg("icmp", probe::describe_icmp(e.origin, e.type, e.code, from)));
  } else if (r.outcome == probe::ReachOutcome::no_reply) {
    out += tr(lang, Msg::d_reach_maybe_filtered);
  }
  return out;
}

std::string connect_line(const std::vector<probe::ConnectAttempt>& attempts, Lang lang) {
  std::vector<std::string> parts;
  for (const auto& a : attempts) {
    if (a.connected()) {
      std::string out = tr(lang, Msg::d_connect_ok, fmt::arg("remote", a.remote.to_string()),
                           fmt::arg("time", dur(a.elapsed)));
      if (const unsigned n = a.syn_retransmits.value_or(0); n > 0) {
        out += trn(lang, Msg::d_connect_after_retransmits, n, fmt::arg("retransmits", n));
      }
      if (a.local) out += tr(lang, Msg::d_connect_from, fmt::arg("local", a.local->to_string()));
      parts.push_back(std::move(out));
    } else {
      const bool icmp = a.queued && a.queued->offender;
      parts.push_back(tr(lang, icmp ? Msg::d_connect_failed_icmp : Msg::d_connect_failed,
                         fmt::arg("remote", a.remote.to_string()),
                         fmt::arg("failure", connect_failure_text(lang, a.failure)),
                         fmt::arg("icmp", icmp ? probe::describe_icmp(a.queued->origin, a.queued->type,
                                                                      a.queued->code, a.queued->offender)
                                               : std::string()),
                         fmt::arg("time", dur(a.elapsed))));
    }
  }
  return joined(lang, parts);
}

// The doctor's trace, short: where the path ends.
std::string trace_text(const probe::TraceResult& t, Lang lang) {
  if (t.verdict == probe::TraceVerdict::error) {
    return tr(lang, Msg::d_trace_error, fmt::arg("error", t.error ? t.error->message() : std::string("?")));
  }
  const auto end = probe::path_end(t);
  if (end.hop == 0) return tr(lang, Msg::d_trace_no_hop);
  const std::string address = end.address.value_or("?");
  if (t.verdict == probe::TraceVerdict::unreachable) {
    return tr(lang, Msg::d_trace_unreachable, fmt::arg("hop", end.hop), fmt::arg("address", address));
  }
  std::string out = tr(lang, Msg::d_trace_last, fmt::arg("hop", end.hop), fmt::arg("address", address));
  if (t.verdict == probe::TraceVerdict::stopped) out += tr(lang, Msg::d_trace_silent, fmt::arg("hop", end.hop + 1));
  if (t.verdict == probe::TraceVerdict::reached) out += tr(lang, Msg::d_trace_destination);
  return out;
}

std::string secure_line(const probe::TlsResult& t, Lang lang) {
  if (!t.handshake_complete || t.alert_after_handshake) {
    std::string out = t.alert_after_handshake
                          ? tr(lang, Msg::d_tls_then_refused, fmt::arg("version", t.version), fmt::arg("cipher", t.cipher))
                          : tls_outcome_text(lang, t.outcome);
    if (t.peer_reply.kind != probe::ReplyKind::none) {
      out += tr(lang, Msg::d_tls_peer_sent, fmt::arg("reply", probe::summarize(t.peer_reply)));
    }
    if (t.alert_received) {
      out += tr(lang, Msg::d_tls_alert, fmt::arg("name", t.alert_received->name),
                fmt::arg("description", t.alert_received->description));
    }
    if (!t.verify_error.empty() && t.verification != probe::TlsOutcome::ok) {
      out += tr(lang, Msg::d_tls_verify_error, fmt::arg("error", t.verify_error));
    }
    return out;
  }
  std::string out = fmt::format("{} {}", t.version, t.cipher);
  if (!t.alpn.empty()) out += tr(lang, Msg::d_tls_alpn, fmt::arg("alpn", t.alpn));
  if (!t.chain.empty()) out += tr(lang, Msg::d_tls_subject, fmt::arg("subject", t.chain.front().subject));
  if (t.days_to_expiry) {
    const auto days = *t.days_to_expiry;
    out += trn(lang, Msg::d_tls_expires, static_cast<unsigned long long>(days < 0 ? -days : days),
               fmt::arg("days", days));
  }
  out += t.verified ? tr(lang, Msg::d_tls_verified) : tr(lang, Msg::d_tls_not_verified, fmt::arg("error", t.verify_error));
  return out;
}

// What identification found, for the talk line: the scheme to use next time.
std::string identified_text(const probe::DoctorReport& r, Lang lang) {
  if (!r.identified) return "";
  const std::string endpoint = r.connect.empty() ? r.options.target.host : r.connect.back().remote.to_string();
  if (r.identified->speaks == probe::Speaks::tls && r.tls) {
    return tr(lang, Msg::c_app_identified_tls_summary, fmt::arg("endpoint", endpoint),
              fmt::arg("version", r.tls->version.empty() ? "TLS" : r.tls->version),
              fmt::arg("subject", r.tls->chain.empty() ? tr(lang, Msg::d_no_subject) : r.tls->chain.front().subject));
  }
  if (r.identified->speaks == probe::Speaks::http) {
    return tr(lang, Msg::c_app_identified_http_summary, fmt::arg("endpoint", endpoint));
  }
  return "";
}

std::string talk_line(const probe::TalkResult& t, Lang lang) {
  const std::string what = t.reply.kind != probe::ReplyKind::none ? probe::summarize(t.reply)
                                                                   : talk_outcome_text(lang, t.outcome);
  std::string out = tr(lang, Msg::d_talk_line, fmt::arg("protocol", protocol_name(t.protocol)), fmt::arg("what", what));
  if (t.http && !t.http->server.empty()) out += tr(lang, Msg::d_talk_server, fmt::arg("server", t.http->server));
  if (t.http && !t.http->location.empty()) out += tr(lang, Msg::d_talk_redirect, fmt::arg("location", t.http->location));
  if (t.first_byte) out += tr(lang, Msg::d_talk_first_byte, fmt::arg("time", dur(*t.first_byte)));
  if (t.peer_close != probe::PeerClose::none) {
    out += tr(lang, Msg::d_talk_peer_closed, fmt::arg("how", t.peer_close == probe::PeerClose::fin ? "FIN" : "RST"));
  }
  return out;
}

std::string close_line(const probe::CloseResult& c, Lang lang) {
  if (c.how == probe::PeerClose::none) return tr(lang, Msg::d_close_none, fmt::arg("time", dur(c.after)));
  return tr(lang, Msg::d_close_peer, fmt::arg("how", c.how == probe::PeerClose::fin ? "FIN" : "RST"),
            fmt::arg("time", dur(c.after)));
}

std::string mtu_retry_text(const probe::MtuRetry& m, Lang lang) {
  const std::string got = !m.connect.connected() ? tr(lang, Msg::d_mtu_no_connect)
                          : m.talk              ? talk_outcome_text(lang, *m.talk)
                          : m.tls               ? tr(lang, Msg::d_mtu_tls, fmt::arg("outcome", tls_outcome_text(lang, *m.tls)))
                                                : tr(lang, Msg::d_mtu_nothing);
  return tr(lang, Msg::d_mtu_retry, fmt::arg("out_of_order", m.out_of_order), fmt::arg("mss", m.mss),
            fmt::arg("result", tr(lang, m.confirmed ? Msg::d_mtu_got_through : Msg::d_mtu_stalled_again)),
            fmt::arg("got", got));
}

}  // namespace

std::string status_text(Lang lang, probe::StageStatus status) {
  switch (status) {
    case probe::StageStatus::ok: return tr(lang, Msg::d_status_ok);
    case probe::StageStatus::warn: return tr(lang, Msg::d_status_warn);
    case probe::StageStatus::fail: return tr(lang, Msg::d_status_fail);
    case probe::StageStatus::skipped: break;
  }
  return tr(lang, Msg::d_status_skipped);
}

std::string stage_summary(const probe::DoctorReport& r, StageId id, Lang lang) {
  if (id == StageId::resolve) return resolve_line(r.dns, lang);
  if (id == StageId::route) return route_line(r.routes, lang);
  if (id == StageId::reach && r.reach) return reach_line(*r.reach, lang);
  if (id == StageId::connect) {
    std::vector<std::string> parts{connect_line(r.connect, lang)};
    if (r.trace) parts.push_back(trace_text(*r.trace, lang));
    if (r.repeat) {
      const auto& st = *r.repeat;
      const auto t = probe::summarize_times(st.times);
      parts.push_back(tr(lang, Msg::d_repeat, fmt::arg("attempts", st.attempts), fmt::arg("connected", st.connected),
                         fmt::arg("retransmitted", st.with_retransmits), fmt::arg("min", dur(t.min)),
                         fmt::arg("median", dur(t.median)), fmt::arg("max", dur(t.max))));
    }
    return joined(lang, parts);
  }
  const std::string retry = r.mtu_retry && r.mtu_retry->stalled == id ? mtu_retry_text(*r.mtu_retry, lang) : "";
  if (id == StageId::secure && r.tls) return joined(lang, {secure_line(*r.tls, lang), retry, identified_text(r, lang)});
  const bool via_tls = r.identified && r.identified->speaks == probe::Speaks::tls;
  if (id == StageId::talk && r.talk) {
    return joined(lang, {talk_line(*r.talk, lang), retry, via_tls ? "" : identified_text(r, lang)});
  }
  if (id == StageId::close && r.close) return close_line(*r.close, lang);
  return "";
}

}  // namespace connscope::cli
