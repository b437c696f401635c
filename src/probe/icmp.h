#pragma once
// ICMP and ICMPv6, once: the type and code numbers the stages use, who produced a queued error,
// and the names of every type/code in words ("port unreachable", "reject route") for text and
// as the stable tokens of `connscope probe`'s reason column ("port-unreachable"). Pure.
//
// The rest of the ICMP module: icmp_error.h (the error queue: decoding, classification of a
// failed connect) and icmp_echo.h (the echo socket and its packets).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace connscope {
enum class Lang;  // core/text.h
}  // namespace connscope

namespace connscope::probe {

// Who produced a queued error (SO_EE_ORIGIN_*).
enum class ErrOrigin { none, local, icmp, icmp6, txstatus, zerocopy, txtime, unknown };
std::string_view origin_name(ErrOrigin origin);  // "icmp", "icmp6", "local", ...

inline constexpr std::size_t kIcmpHeaderSize = 8;  // type, code, checksum, 4 bytes of the type's
inline constexpr std::uint8_t kProtoIcmp = 1;      // IPv4 protocol number / IPv6 next header
inline constexpr std::uint8_t kProtoIcmp6 = 58;

// ICMP for IPv4 (RFC 792, 1122, 1812).
namespace icmpv4 {
inline constexpr std::uint8_t kEchoReply = 0;
inline constexpr std::uint8_t kDestUnreach = 3;
inline constexpr std::uint8_t kEcho = 8;
inline constexpr std::uint8_t kTimeExceeded = 11;
inline constexpr std::uint8_t kParamProblem = 12;
// Codes of kDestUnreach.
inline constexpr std::uint8_t kPortUnreach = 3;
inline constexpr std::uint8_t kFragNeeded = 4;
}  // namespace icmpv4

// ICMPv6 (RFC 4443, 7112).
namespace icmpv6 {
inline constexpr std::uint8_t kDestUnreach = 1;
inline constexpr std::uint8_t kPacketTooBig = 2;
inline constexpr std::uint8_t kTimeExceeded = 3;
inline constexpr std::uint8_t kParamProblem = 4;
inline constexpr std::uint8_t kEcho = 128;
inline constexpr std::uint8_t kEchoReply = 129;
// Codes of kDestUnreach.
inline constexpr std::uint8_t kPortUnreach = 4;
// Code of kParamProblem: what a host without the protocol says (IPv6's protocol unreachable).
inline constexpr std::uint8_t kUnknownNextHeader = 1;
}  // namespace icmpv6

// The one table: a type/code of origin icmp or icmp6 in words ("port unreachable", "address
// unreachable"), with the code's own words when known, else the type's ("destination
// unreachable" for an unlisted code). nullopt for a type it does not know and for other origins.
std::optional<std::string_view> icmp_known_name(ErrOrigin origin, std::uint8_t type,
                                                std::uint8_t code);

// The same words in `lang`, from the catalog (core/text_icmp.h).
std::optional<std::string_view> icmp_known_name(ErrOrigin origin, std::uint8_t type, std::uint8_t code,
                                                Lang lang);

// icmp_known_name, or "type 42 code 7" for what it does not know.
std::string icmp_error_name(ErrOrigin origin, std::uint8_t type, std::uint8_t code);

// For text: "ICMP port unreachable (type 3 code 3)", "ICMPv6 address unreachable (type 1 code
// 3)", "ICMP type 42 code 7"; with a sender, " from 198.18.3.2" after it.
std::string describe_icmp(ErrOrigin origin, std::uint8_t type, std::uint8_t code,
                          const std::optional<std::string>& from = std::nullopt);
// The same sentence in `lang` ("ICMP 端口不可达（类型 3 代码 3）").
std::string describe_icmp(ErrOrigin origin, std::uint8_t type, std::uint8_t code,
                          const std::optional<std::string>& from, Lang lang);

// For evidence quoted after the word "ICMP" by the catalog ("ICMP {icmp}"): "port unreachable
// (type 3 code 3)", "address unreachable (ICMPv6 type 1 code 3)", "type 42 code 7".
std::string icmp_evidence(ErrOrigin origin, std::uint8_t type, std::uint8_t code);

// The stable token of `connscope probe`'s reason ("port-unreachable", "admin-prohibited",
// "time-exceeded", "unreachable" for an unlisted unreachable code, "icmp" for the rest). API:
// JSON and scripts read it.
std::string_view icmp_reason_token(ErrOrigin origin, std::uint8_t type, std::uint8_t code);

}  // namespace connscope::probe
