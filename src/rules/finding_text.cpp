#include "rules/finding_text.h"

#include <array>
#include <charconv>
#include <set>

#include <fmt/format.h>

#include "core/error_text.h"
#include "probe/icmp.h"
#include "rules/client_findings.h"

namespace connscope::rules {

namespace {

struct Texts {
  Msg summary;
  Msg cause;
  Msg fix;
};

bool has(const Evidence& e, const char* key) { return e.contains(key); }

// A process is named when the evidence has both its pid and its command.
bool has_owner(const Evidence& e) { return has(e, "pid") && has(e, "command"); }

// An evidence value that is a word, kept as a token in the evidence (JSON stays stable) and
// rendered in the reader's language. The message may quote other evidence keys.
struct Token {
  std::string_view key;
  std::string_view value;
  Msg text;
};

// A value of "*" stands for any other value of the key (its message quotes the value itself).
constexpr std::array kTokens{
    Token{"peers", "none", Msg::f_event_no_peers},
    Token{"family", "any", Msg::ev_family_any},
    Token{"servers", "none", Msg::ev_servers_none},
    Token{"server", "resolver", Msg::ev_server_resolver},
    Token{"from", "routing_table", Msg::ev_from_routing_table},
    Token{"from", "local", Msg::ev_from_local},
    Token{"icmp", "none", Msg::ev_none},
    Token{"icmp", "prohibit_route", Msg::ev_icmp_prohibit_route},
    Token{"who", "round_robin", Msg::ev_who_round_robin},
    Token{"who", "prefer_ipv6", Msg::ev_who_prefer_ipv6},
    Token{"who", "ipv4_only", Msg::ev_who_ipv4_only},
    Token{"stalled", "tls_handshake", Msg::ev_stalled_tls_handshake},
    Token{"stalled", "reply", Msg::ev_stalled_reply},
    Token{"version", "none", Msg::ev_none},
    Token{"alert", "none", Msg::ev_none},
    Token{"reply", "nothing", Msg::ev_reply_nothing},
    Token{"first_byte", "never", Msg::ev_first_byte_never},
    Token{"client_cert", "none", Msg::ev_client_cert_none},
    Token{"client_cert", "*", Msg::ev_client_cert},
    Token{"tried", "tls_client_hello,http_request", Msg::ev_tried_tls_http},
    Token{"tried", "tls_client_hello", Msg::ev_tried_tls},
    Token{"tried", "http_request", Msg::ev_tried_http},
    Token{"tried", "none", Msg::ev_tried_none},
    Token{"subject", "unknown", Msg::ev_unknown},
    Token{"issuer", "unknown", Msg::ev_unknown},
    Token{"not_before", "unknown", Msg::ev_unknown},
    Token{"not_after", "unknown", Msg::ev_unknown},
    Token{"names", "unknown", Msg::ev_unknown},
    Token{"days", "unknown", Msg::ev_unknown},
};

// The ICMP types and codes in words, as probe/icmp.h names them (their English is the key).
constexpr std::array kIcmpNames{
    Msg::icmp_name_echo_reply,
    Msg::icmp_name_destination_unreachable,
    Msg::icmp_name_net_unreachable,
    Msg::icmp_name_host_unreachable,
    Msg::icmp_name_protocol_unreachable,
    Msg::icmp_name_port_unreachable,
    Msg::icmp_name_fragmentation_needed,
    Msg::icmp_name_source_route_failed,
    Msg::icmp_name_destination_network_unknown,
    Msg::icmp_name_destination_host_unknown,
    Msg::icmp_name_source_host_isolated,
    Msg::icmp_name_network_administratively_prohibited,
    Msg::icmp_name_host_administratively_prohibited,
    Msg::icmp_name_network_unreachable_for,
    Msg::icmp_name_host_unreachable_for,
    Msg::icmp_name_administratively_prohibited,
    Msg::icmp_name_host_precedence_violation,
    Msg::icmp_name_precedence_cutoff_in_effect,
    Msg::icmp_name_source_quench,
    Msg::icmp_name_redirect,
    Msg::icmp_name_echo_request,
    Msg::icmp_name_time_exceeded,
    Msg::icmp_name_fragment_reassembly_time_exceeded,
    Msg::icmp_name_parameter_problem,
    Msg::icmp_name_parameter_problem_missing_a_required_option,
    Msg::icmp_name_parameter_problem_bad_length,
    Msg::icmp_name_no_route,
    Msg::icmp_name_beyond_scope_of_source_address,
    Msg::icmp_name_address_unreachable,
    Msg::icmp_name_source_address_failed_ingress_egress_policy,
    Msg::icmp_name_reject_route,
    Msg::icmp_name_error_in_source_routing_header,
    Msg::icmp_name_packet_too_big,
    Msg::icmp_name_unrecognized_next_header,
    Msg::icmp_name_parameter_problem_unrecognized_option,
};

// "icmp:3:3" / "icmp6:1:4" (an ICMP error as the evidence keeps it) in the reader's language:
// "port unreachable (type 3 code 3)"; nullopt for a value that is not such a token.
std::optional<std::string> icmp_text(Lang lang, std::string_view token) {
  probe::ErrOrigin origin = probe::ErrOrigin::icmp;
  if (token.starts_with("icmp6:")) {
    origin = probe::ErrOrigin::icmp6;
    token.remove_prefix(6);
  } else if (token.starts_with("icmp:")) {
    token.remove_prefix(5);
  } else {
    return std::nullopt;
  }
  const auto colon = token.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  unsigned type = 0, code = 0;
  const auto t = token.substr(0, colon);
  const auto c = token.substr(colon + 1);
  if (std::from_chars(t.data(), t.data() + t.size(), type).ptr != t.data() + t.size() ||
      std::from_chars(c.data(), c.data() + c.size(), code).ptr != c.data() + c.size() || type > 255 || code > 255) {
    return std::nullopt;
  }
  const bool v6 = origin == probe::ErrOrigin::icmp6;
  const auto words = probe::icmp_known_name(origin, static_cast<std::uint8_t>(type), static_cast<std::uint8_t>(code));
  if (!words) return tr(lang, v6 ? Msg::ev_icmp6_unknown : Msg::ev_icmp_unknown, fmt::arg("type", type), fmt::arg("code", code));
  std::string name(*words);
  for (const Msg m : kIcmpNames) {
    if (english_template(m) == *words) name = tr(lang, m);
  }
  return tr(lang, v6 ? Msg::ev_icmp6_known : Msg::ev_icmp_known, fmt::arg("name", name), fmt::arg("type", type),
            fmt::arg("code", code));
}

constexpr std::string_view kSysctlPrefix = "sysctl.";

// The server, audit and event findings: which whole sentence fits this evidence.
std::optional<Texts> server_texts(std::string_view id, Severity severity, const Evidence& e) {
  const bool owner = has_owner(e);
  if (id == "listen.accept_queue_full") {
    Msg summary;
    if (has(e, "drops_per_second")) {  // from kernel events (event_rules.h): drops per listener
      summary = owner ? Msg::sf_accept_queue_drops_owner_summary : Msg::sf_accept_queue_drops_summary;
    } else if (severity == Severity::critical) {
      summary = owner ? Msg::sf_accept_queue_full_owner_summary : Msg::sf_accept_queue_full_summary;
    } else {
      summary = owner ? Msg::sf_accept_queue_high_owner_summary : Msg::sf_accept_queue_high_summary;
    }
    return Texts{summary, Msg::f_accept_queue_full_cause,
                 owner ? Msg::sf_accept_queue_full_owner_fix : Msg::sf_accept_queue_full_fix};
  }
  if (id == "listen.syn_queue_overflow") {
    const auto it = e.find("tcp_syncookies");
    const std::string_view cookies = it == e.end() ? "unknown" : std::string_view(it->second);
    const Msg summary = cookies == "0"   ? Msg::sf_syn_queue_overflow_off_summary
                        : cookies == "unknown" ? Msg::sf_syn_queue_overflow_unknown_summary
                                               : Msg::sf_syn_queue_overflow_on_summary;
    return Texts{summary, Msg::f_syn_queue_overflow_cause, Msg::f_syn_queue_overflow_fix};
  }
  if (id == "listen.syn_flood") {
    return Texts{has(e, "top_source") ? Msg::sf_syn_flood_source_summary : Msg::sf_syn_flood_summary,
                 Msg::f_syn_flood_cause, Msg::f_syn_flood_fix};
  }
  if (id == "tcp.close_wait_leak") {
    const bool port = has(e, "port");
    const Msg summary = owner ? (port ? Msg::sf_close_wait_owner_port_summary : Msg::sf_close_wait_owner_summary)
                              : (port ? Msg::sf_close_wait_port_summary : Msg::sf_close_wait_summary);
    return Texts{summary, Msg::f_close_wait_cause, owner ? Msg::sf_close_wait_owner_fix : Msg::sf_close_wait_fix};
  }
  if (id == "tcp.time_wait_pressure") return Texts{Msg::sf_time_wait_summary, Msg::f_time_wait_cause, Msg::f_time_wait_fix};
  if (id == "tcp.orphans") return Texts{Msg::sf_orphans_summary, Msg::f_orphans_cause, Msg::f_orphans_fix};
  if (id == "tcp.retransmits_high") {
    return Texts{Msg::sf_retransmits_summary, Msg::f_retransmits_cause, Msg::f_retransmits_fix};
  }
  if (id == "tcp.resets_high") return Texts{Msg::sf_resets_summary, Msg::f_resets_cause, Msg::f_resets_fix};
  if (id == "limits.nofile_low") {
    // The audit judges the limit itself (and names the recommendation); inspect, how full it is.
    if (has(e, "recommended")) return Texts{Msg::sf_nofile_limit_summary, Msg::f_nofile_limit_cause, Msg::f_nofile_fix};
    return Texts{Msg::sf_nofile_summary, Msg::f_nofile_cause, Msg::f_nofile_fix};
  }
  if (id == "conntrack.table_full") return Texts{Msg::sf_conntrack_summary, Msg::f_conntrack_cause, Msg::sf_conntrack_fix};
  if (id == "host.firewall_drop") {
    return Texts{owner ? Msg::sf_firewall_drop_owner_summary : Msg::sf_firewall_drop_summary, Msg::f_firewall_drop_cause,
                 Msg::f_firewall_drop_fix};
  }
  if (id.starts_with(kSysctlPrefix)) {
    const auto value = e.find("value");
    const auto why = sysctl_why(id.substr(kSysctlPrefix.size()), value == e.end() ? "" : value->second);
    if (!why) return std::nullopt;
    return Texts{Msg::f_sysctl_summary, *why, Msg::sf_sysctl_fix};
  }
  return std::nullopt;
}

// Every id the server, audit and event rules emit, besides sysctl.<name>.
constexpr std::array<std::string_view, 11> kServerIds{
    "listen.accept_queue_full", "listen.syn_queue_overflow", "listen.syn_flood",   "tcp.close_wait_leak",
    "tcp.time_wait_pressure",   "tcp.orphans",               "tcp.retransmits_high", "tcp.resets_high",
    "limits.nofile_low",        "conntrack.table_full",      "host.firewall_drop",
};

struct WhyEntry {
  std::string_view name;
  Msg why;
};

constexpr std::array kWhy{
    WhyEntry{"net.core.somaxconn", Msg::why_somaxconn},
    WhyEntry{"net.ipv4.tcp_max_syn_backlog", Msg::why_max_syn_backlog},
    WhyEntry{"net.ipv4.tcp_syncookies", Msg::why_syncookies},
    WhyEntry{"net.ipv4.tcp_synack_retries", Msg::why_synack_retries},
    WhyEntry{"net.ipv4.tcp_syn_retries", Msg::why_syn_retries},
    WhyEntry{"net.ipv4.tcp_abort_on_overflow", Msg::why_abort_on_overflow},
    WhyEntry{"net.ipv4.tcp_fastopen", Msg::why_fastopen},
    WhyEntry{"net.ipv4.tcp_keepalive_time", Msg::why_keepalive_time},
    WhyEntry{"net.ipv4.tcp_keepalive_intvl", Msg::why_keepalive_intvl},
    WhyEntry{"net.ipv4.tcp_keepalive_probes", Msg::why_keepalive_probes},
    WhyEntry{"net.ipv4.tcp_fin_timeout", Msg::why_fin_timeout},
    WhyEntry{"net.ipv4.tcp_tw_reuse", Msg::why_tw_reuse},
    WhyEntry{"net.ipv4.tcp_tw_recycle", Msg::why_tw_recycle},
    WhyEntry{"net.ipv4.ip_local_port_range", Msg::why_port_range},
    WhyEntry{"net.ipv4.tcp_max_tw_buckets", Msg::why_max_tw_buckets},
    WhyEntry{"net.ipv4.tcp_max_orphans", Msg::why_max_orphans},
    WhyEntry{"net.ipv4.tcp_rmem", Msg::why_rmem},
    WhyEntry{"net.ipv4.tcp_wmem", Msg::why_wmem},
    WhyEntry{"net.core.netdev_max_backlog", Msg::why_netdev_max_backlog},
    WhyEntry{"fs.file-max", Msg::why_file_max},
    WhyEntry{"fs.nr_open", Msg::why_nr_open},
    WhyEntry{"net.netfilter.nf_conntrack_max", Msg::why_conntrack_max},
};

}  // namespace

std::optional<Msg> sysctl_why(std::string_view name, std::string_view value) {
  if (name == "net.ipv4.tcp_syncookies" && value == "2") return Msg::why_syncookies_always;
  for (const auto& w : kWhy) {
    if (w.name == name) return w.why;
  }
  return std::nullopt;
}

Result<std::string> render_with_evidence(Lang lang, Msg id, const Evidence& args) {
  Evidence rendered = args;
  // Tokens: the first entry of its key that matches (exactly, or "*").
  std::set<std::string_view> done;
  for (const auto& t : kTokens) {
    const auto it = args.find(std::string(t.key));
    if (it == args.end() || done.contains(t.key) || (t.value != "*" && it->second != t.value)) continue;
    done.insert(t.key);
    auto word = format_named(lang, t.text, args);
    if (!word) return std::unexpected(word.error());
    rendered[std::string(t.key)] = std::move(*word);
  }
  // Values rendered from other evidence: the ICMP error, the note on rate-limited ICMP, and the
  // failure of one address (net.some_addresses_fail), which is its own finding's summary.
  if (const auto it = args.find("icmp"); it != args.end()) {
    if (auto icmp = icmp_text(lang, it->second)) {
      const auto trace = args.find("icmp_from_trace");
      rendered["icmp"] = trace != args.end() && trace->second == "yes"
                             ? tr(lang, Msg::ev_icmp_from_trace, fmt::arg("icmp", *icmp))
                             : std::move(*icmp);
    }
  }
  if (const auto it = args.find("rate_limited_hop"); it != args.end()) {
    std::string note;
    if (!it->second.empty()) {
      auto text = format_named(lang, Msg::ev_icmp_note_rate_limited, args);
      if (!text) return std::unexpected(text.error());
      note = std::move(*text);
    }
    rendered["icmp_note"] = std::move(note);
  }
  if (const auto it = args.find("failure_id"); it != args.end()) {
    const auto* spec = find_client_spec(it->second);
    if (spec == nullptr) return fail("finding \"" + it->second + "\"", "not in the catalog");
    Evidence inner = args;  // without failure_id: the failure's own summary quotes no {failure}
    inner.erase("failure_id");
    auto failure = render_with_evidence(lang, spec->summary, inner);
    if (!failure) return std::unexpected(failure.error());
    rendered["failure"] = std::move(*failure);
  }
  return format_named(lang, id, rendered);
}

Result<FindingText> render_finding_text(std::string_view id, Severity severity, const Evidence& evidence, Lang lang) {
  std::optional<Texts> texts;
  if (const auto* spec = find_client_spec(id)) {
    texts = Texts{spec->summary, spec->cause, spec->fix};
  } else {
    texts = server_texts(id, severity, evidence);
  }
  const std::string op = "finding \"" + std::string(id) + "\"";
  if (!texts) return fail(op, "not in the catalog");
  auto summary = render_with_evidence(lang, texts->summary, evidence);
  auto cause = render_with_evidence(lang, texts->cause, evidence);
  auto fix = render_with_evidence(lang, texts->fix, evidence);
  for (auto* r : {&summary, &cause, &fix}) {
    if (!*r) return fail(op, r->error().detail);
  }
  return FindingText{std::move(*summary), std::move(*cause), std::move(*fix)};
}

Result<Finding> render_finding(std::string_view id, Severity severity, Evidence evidence, Lang lang) {
  auto text = render_finding_text(id, severity, evidence, lang);
  if (!text) return std::unexpected(text.error());
  Finding f;
  f.id = std::string(id);
  f.severity = severity;
  f.evidence = std::move(evidence);
  f.summary = std::move(text->summary);
  f.cause = std::move(text->cause);
  f.fix = std::move(text->fix);
  return f;
}

Finding make_finding(std::string_view id, Severity severity, Evidence evidence, Lang lang) {
  auto text = render_finding_text(id, severity, evidence, lang);
  Finding f;
  f.id = std::string(id);
  f.severity = severity;
  if (text) {
    f.summary = std::move(text->summary);
    f.cause = std::move(text->cause);
    f.fix = std::move(text->fix);
  } else {
    f.summary = text.error().message(lang);
  }
  f.evidence = std::move(evidence);
  return f;
}

Finding rendered_in(const Finding& f, Lang lang) {
  auto text = render_finding_text(f.id, f.severity, f.evidence, lang);
  if (!text) return f;
  Finding out = f;
  out.summary = std::move(text->summary);
  out.cause = std::move(text->cause);
  out.fix = std::move(text->fix);
  return out;
}

std::vector<std::pair<std::string_view, std::string_view>> evidence_tokens() {
  std::vector<std::pair<std::string_view, std::string_view>> out;
  for (const auto& t : kTokens) out.emplace_back(t.key, t.value);
  return out;
}

std::vector<std::string> known_finding_ids() {
  std::vector<std::string> ids;
  for (const auto& spec : client_findings_catalog()) ids.emplace_back(spec.id);
  for (const auto id : kServerIds) ids.emplace_back(id);
  for (const auto& w : kWhy) ids.push_back(std::string(kSysctlPrefix) + std::string(w.name));
  return ids;
}

}  // namespace connscope::rules
