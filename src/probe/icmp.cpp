#include "probe/icmp.h"

#include <array>

#include <fmt/format.h>

#include "core/error_text.h"
#include "core/text.h"

namespace connscope::probe {

namespace {

constexpr int kAnyCode = -1;

struct IcmpName {
  ErrOrigin origin;
  int type;
  int code;  // kAnyCode: the type's row, used for a code without a row of its own
  Msg words;               // in the catalog (core/text_icmp.h); its English is what JSON and logs quote
  std::string_view token;  // `probe`'s reason; "icmp" for types that have none of their own
};

using enum ErrOrigin;

constexpr std::array kNames{
    // ICMP (IPv4)
    IcmpName{icmp, 0, kAnyCode, Msg::icmp_echo_reply, "icmp"},
    IcmpName{icmp, 3, kAnyCode, Msg::icmp_dest_unreachable, "unreachable"},
    IcmpName{icmp, 3, 0, Msg::icmp_net_unreachable, "net-unreachable"},
    IcmpName{icmp, 3, 1, Msg::icmp_host_unreachable, "host-unreachable"},
    IcmpName{icmp, 3, 2, Msg::icmp_protocol_unreachable, "protocol-unreachable"},
    IcmpName{icmp, 3, 3, Msg::icmp_port_unreachable, "port-unreachable"},
    IcmpName{icmp, 3, 4, Msg::icmp_frag_needed, "frag-needed"},
    IcmpName{icmp, 3, 5, Msg::icmp_source_route_failed, "unreachable"},
    IcmpName{icmp, 3, 6, Msg::icmp_net_unknown, "net-unknown"},
    IcmpName{icmp, 3, 7, Msg::icmp_host_unknown, "host-unknown"},
    IcmpName{icmp, 3, 8, Msg::icmp_source_host_isolated, "unreachable"},
    IcmpName{icmp, 3, 9, Msg::icmp_net_prohibited, "net-prohibited"},
    IcmpName{icmp, 3, 10, Msg::icmp_host_prohibited, "host-prohibited"},
    IcmpName{icmp, 3, 11, Msg::icmp_net_unreachable_tos, "unreachable"},
    IcmpName{icmp, 3, 12, Msg::icmp_host_unreachable_tos, "unreachable"},
    IcmpName{icmp, 3, 13, Msg::icmp_admin_prohibited, "admin-prohibited"},
    IcmpName{icmp, 3, 14, Msg::icmp_precedence_violation, "unreachable"},
    IcmpName{icmp, 3, 15, Msg::icmp_precedence_cutoff, "unreachable"},
    IcmpName{icmp, 4, kAnyCode, Msg::icmp_source_quench, "icmp"},
    IcmpName{icmp, 5, kAnyCode, Msg::icmp_redirect, "icmp"},
    IcmpName{icmp, 8, kAnyCode, Msg::icmp_echo_request, "icmp"},
    IcmpName{icmp, 11, kAnyCode, Msg::icmp_time_exceeded, "time-exceeded"},
    IcmpName{icmp, 11, 1, Msg::icmp_reassembly_time_exceeded, "time-exceeded"},
    IcmpName{icmp, 12, kAnyCode, Msg::icmp_parameter_problem, "parameter-problem"},
    IcmpName{icmp, 12, 1, Msg::icmp_param_missing_option, "parameter-problem"},
    IcmpName{icmp, 12, 2, Msg::icmp_param_bad_length, "parameter-problem"},
    // ICMPv6
    IcmpName{icmp6, 1, kAnyCode, Msg::icmp_dest_unreachable, "unreachable"},
    IcmpName{icmp6, 1, 0, Msg::icmp6_no_route, "no-route"},
    IcmpName{icmp6, 1, 1, Msg::icmp_admin_prohibited, "admin-prohibited"},
    IcmpName{icmp6, 1, 2, Msg::icmp6_beyond_scope, "beyond-scope"},
    IcmpName{icmp6, 1, 3, Msg::icmp6_address_unreachable, "addr-unreachable"},
    IcmpName{icmp6, 1, 4, Msg::icmp_port_unreachable, "port-unreachable"},
    IcmpName{icmp6, 1, 5, Msg::icmp6_policy_fail, "policy-fail"},
    IcmpName{icmp6, 1, 6, Msg::icmp6_reject_route, "reject-route"},
    IcmpName{icmp6, 1, 7, Msg::icmp6_source_routing_error, "unreachable"},
    IcmpName{icmp6, 2, kAnyCode, Msg::icmp6_packet_too_big, "packet-too-big"},
    IcmpName{icmp6, 3, kAnyCode, Msg::icmp_time_exceeded, "time-exceeded"},
    IcmpName{icmp6, 3, 1, Msg::icmp_reassembly_time_exceeded, "time-exceeded"},
    IcmpName{icmp6, 4, kAnyCode, Msg::icmp_parameter_problem, "parameter-problem"},
    IcmpName{icmp6, 4, 1, Msg::icmp6_unknown_next_header, "parameter-problem"},
    IcmpName{icmp6, 4, 2, Msg::icmp6_unknown_option, "parameter-problem"},
    IcmpName{icmp6, 128, kAnyCode, Msg::icmp_echo_request, "icmp"},
    IcmpName{icmp6, 129, kAnyCode, Msg::icmp_echo_reply, "icmp"},
};

// The code's row, else the type's; nullptr when neither is listed.
const IcmpName* find_name(ErrOrigin origin, std::uint8_t type, std::uint8_t code) {
  const IcmpName* type_row = nullptr;
  for (const auto& n : kNames) {
    if (n.origin != origin || n.type != type) continue;
    if (n.code == code) return &n;
    if (n.code == kAnyCode) type_row = &n;
  }
  return type_row;
}

std::string numbers(std::uint8_t type, std::uint8_t code) {
  return fmt::format("type {} code {}", type, code);
}

}  // namespace

std::string_view origin_name(ErrOrigin origin) {
  switch (origin) {
    case ErrOrigin::none: return "none";
    case ErrOrigin::local: return "local";
    case ErrOrigin::icmp: return "icmp";
    case ErrOrigin::icmp6: return "icmp6";
    case ErrOrigin::txstatus: return "txstatus";
    case ErrOrigin::zerocopy: return "zerocopy";
    case ErrOrigin::txtime: return "txtime";
    case ErrOrigin::unknown: return "unknown";
  }
  return "unknown";
}

std::optional<std::string_view> icmp_known_name(ErrOrigin origin, std::uint8_t type,
                                                std::uint8_t code) {
  return icmp_known_name(origin, type, code, Lang::en);
}

std::optional<std::string_view> icmp_known_name(ErrOrigin origin, std::uint8_t type, std::uint8_t code,
                                                Lang lang) {
  if (const IcmpName* n = find_name(origin, type, code)) return text_template(lang, n->words);
  return std::nullopt;
}

std::string icmp_error_name(ErrOrigin origin, std::uint8_t type, std::uint8_t code) {
  if (auto words = icmp_known_name(origin, type, code)) return std::string(*words);
  return numbers(type, code);
}

std::string describe_icmp(ErrOrigin origin, std::uint8_t type, std::uint8_t code,
                          const std::optional<std::string>& from) {
  return describe_icmp(origin, type, code, from, Lang::en);
}

std::string describe_icmp(ErrOrigin origin, std::uint8_t type, std::uint8_t code,
                          const std::optional<std::string>& from, Lang lang) {
  TextArgs args{{"protocol", origin == ErrOrigin::icmp6 ? "ICMPv6" : "ICMP"},
                {"type", std::to_string(type)},
                {"code", std::to_string(code)}};
  const auto words = icmp_known_name(origin, type, code, lang);
  if (words) args.emplace_back("name", std::string(*words));
  if (from) args.emplace_back("from", *from);
  const Msg id = words ? (from ? Msg::icmp_describe_named_from : Msg::icmp_describe_named)
                       : (from ? Msg::icmp_describe_numbers_from : Msg::icmp_describe_numbers);
  // The catalog test keeps every template's placeholders to these names.
  return tr_args(lang, id, args).value_or(std::string());
}

std::string icmp_evidence(ErrOrigin origin, std::uint8_t type, std::uint8_t code) {
  const std::string_view v6 = origin == ErrOrigin::icmp6 ? "ICMPv6 " : "";
  if (auto words = icmp_known_name(origin, type, code)) {
    return fmt::format("{} ({}{})", *words, v6, numbers(type, code));
  }
  return fmt::format("{}{}", v6, numbers(type, code));
}

std::string_view icmp_reason_token(ErrOrigin origin, std::uint8_t type, std::uint8_t code) {
  if (const IcmpName* n = find_name(origin, type, code)) return n->token;
  return "icmp";
}

}  // namespace connscope::probe
