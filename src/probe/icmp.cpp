#include "probe/icmp.h"

#include <array>

#include <fmt/format.h>

namespace connscope::probe {

namespace {

constexpr int kAnyCode = -1;

struct IcmpName {
  ErrOrigin origin;
  int type;
  int code;  // kAnyCode: the type's row, used for a code without a row of its own
  std::string_view words;
  std::string_view token;  // `probe`'s reason; "icmp" for types that have none of their own
};

using enum ErrOrigin;

constexpr std::array kNames{
    // ICMP (IPv4)
    IcmpName{icmp, 0, kAnyCode, "echo reply", "icmp"},
    IcmpName{icmp, 3, kAnyCode, "destination unreachable", "unreachable"},
    IcmpName{icmp, 3, 0, "net unreachable", "net-unreachable"},
    IcmpName{icmp, 3, 1, "host unreachable", "host-unreachable"},
    IcmpName{icmp, 3, 2, "protocol unreachable", "protocol-unreachable"},
    IcmpName{icmp, 3, 3, "port unreachable", "port-unreachable"},
    IcmpName{icmp, 3, 4, "fragmentation needed", "frag-needed"},
    IcmpName{icmp, 3, 5, "source route failed", "unreachable"},
    IcmpName{icmp, 3, 6, "destination network unknown", "net-unknown"},
    IcmpName{icmp, 3, 7, "destination host unknown", "host-unknown"},
    IcmpName{icmp, 3, 8, "source host isolated", "unreachable"},
    IcmpName{icmp, 3, 9, "network administratively prohibited", "net-prohibited"},
    IcmpName{icmp, 3, 10, "host administratively prohibited", "host-prohibited"},
    IcmpName{icmp, 3, 11, "network unreachable for TOS", "unreachable"},
    IcmpName{icmp, 3, 12, "host unreachable for TOS", "unreachable"},
    IcmpName{icmp, 3, 13, "administratively prohibited", "admin-prohibited"},
    IcmpName{icmp, 3, 14, "host precedence violation", "unreachable"},
    IcmpName{icmp, 3, 15, "precedence cutoff in effect", "unreachable"},
    IcmpName{icmp, 4, kAnyCode, "source quench", "icmp"},
    IcmpName{icmp, 5, kAnyCode, "redirect", "icmp"},
    IcmpName{icmp, 8, kAnyCode, "echo request", "icmp"},
    IcmpName{icmp, 11, kAnyCode, "time exceeded", "time-exceeded"},
    IcmpName{icmp, 11, 1, "fragment reassembly time exceeded", "time-exceeded"},
    IcmpName{icmp, 12, kAnyCode, "parameter problem", "parameter-problem"},
    IcmpName{icmp, 12, 1, "parameter problem: missing a required option", "parameter-problem"},
    IcmpName{icmp, 12, 2, "parameter problem: bad length", "parameter-problem"},
    // ICMPv6
    IcmpName{icmp6, 1, kAnyCode, "destination unreachable", "unreachable"},
    IcmpName{icmp6, 1, 0, "no route", "no-route"},
    IcmpName{icmp6, 1, 1, "administratively prohibited", "admin-prohibited"},
    IcmpName{icmp6, 1, 2, "beyond scope of source address", "beyond-scope"},
    IcmpName{icmp6, 1, 3, "address unreachable", "addr-unreachable"},
    IcmpName{icmp6, 1, 4, "port unreachable", "port-unreachable"},
    IcmpName{icmp6, 1, 5, "source address failed ingress/egress policy", "policy-fail"},
    IcmpName{icmp6, 1, 6, "reject route", "reject-route"},
    IcmpName{icmp6, 1, 7, "error in source routing header", "unreachable"},
    IcmpName{icmp6, 2, kAnyCode, "packet too big", "packet-too-big"},
    IcmpName{icmp6, 3, kAnyCode, "time exceeded", "time-exceeded"},
    IcmpName{icmp6, 3, 1, "fragment reassembly time exceeded", "time-exceeded"},
    IcmpName{icmp6, 4, kAnyCode, "parameter problem", "parameter-problem"},
    IcmpName{icmp6, 4, 1, "unrecognized next header", "parameter-problem"},
    IcmpName{icmp6, 4, 2, "parameter problem: unrecognized option", "parameter-problem"},
    IcmpName{icmp6, 128, kAnyCode, "echo request", "icmp"},
    IcmpName{icmp6, 129, kAnyCode, "echo reply", "icmp"},
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
  if (const IcmpName* n = find_name(origin, type, code)) return n->words;
  return std::nullopt;
}

std::string icmp_error_name(ErrOrigin origin, std::uint8_t type, std::uint8_t code) {
  if (auto words = icmp_known_name(origin, type, code)) return std::string(*words);
  return numbers(type, code);
}

std::string describe_icmp(ErrOrigin origin, std::uint8_t type, std::uint8_t code,
                          const std::optional<std::string>& from) {
  const std::string_view protocol = origin == ErrOrigin::icmp6 ? "ICMPv6" : "ICMP";
  std::string out;
  if (auto words = icmp_known_name(origin, type, code)) {
    out = fmt::format("{} {} ({})", protocol, *words, numbers(type, code));
  } else {
    out = fmt::format("{} {}", protocol, numbers(type, code));
  }
  if (from) out += " from " + *from;
  return out;
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
