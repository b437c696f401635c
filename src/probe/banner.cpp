#include "probe/banner.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>

namespace connscope::probe {

namespace {

constexpr std::size_t kTextMax = 200;           // longest text field kept, in input bytes
constexpr std::size_t kTextScan = 512;          // bytes checked to call something text
constexpr std::size_t kMaxTlsRecord = 18432;    // 2^14 + 2048: the largest legal TLS ciphertext
constexpr std::uint32_t kMaxPgMessage = 65536;  // a greeting-time ErrorResponse is far smaller
constexpr std::uint32_t kMaxMysqlPacket = 65536;
constexpr std::size_t kMaxMysqlVersion = 64;

using Name = std::pair<int, std::string_view>;
using Names = std::span<const Name>;

std::string_view lookup(Names names, int value) {
  for (const auto& [v, n] : names) {
    if (v == value) return n;
  }
  return "unknown";
}

constexpr Name kAlerts[] = {
    {0, "close_notify"},
    {10, "unexpected_message"},
    {20, "bad_record_mac"},
    {21, "decryption_failed"},
    {22, "record_overflow"},
    {40, "handshake_failure"},
    {41, "no_certificate"},
    {42, "bad_certificate"},
    {43, "unsupported_certificate"},
    {44, "certificate_revoked"},
    {45, "certificate_expired"},
    {46, "certificate_unknown"},
    {47, "illegal_parameter"},
    {48, "unknown_ca"},
    {49, "access_denied"},
    {50, "decode_error"},
    {51, "decrypt_error"},
    {70, "protocol_version"},
    {71, "insufficient_security"},
    {80, "internal_error"},
    {86, "inappropriate_fallback"},
    {90, "user_canceled"},
    {100, "no_renegotiation"},
    {109, "missing_extension"},
    {110, "unsupported_extension"},
    {112, "unrecognized_name"},
    {113, "bad_certificate_status_response"},
    {115, "unknown_psk_identity"},
    {116, "certificate_required"},
    {120, "no_application_protocol"},
};

constexpr Name kHandshakes[] = {
    {0, "hello_request"},        {1, "client_hello"},         {2, "server_hello"},
    {4, "new_session_ticket"},   {8, "encrypted_extensions"}, {11, "certificate"},
    {12, "server_key_exchange"}, {13, "certificate_request"}, {14, "server_hello_done"},
    {15, "certificate_verify"},  {16, "client_key_exchange"}, {20, "finished"},
};

constexpr Name kContentTypes[] = {
    {20, "change_cipher_spec"},
    {21, "alert"},
    {22, "handshake"},
    {23, "application_data"},
};

unsigned byte(std::string_view b, std::size_t i) { return static_cast<unsigned char>(b[i]); }

bool textual(unsigned char c) {
  return (c >= 0x20 && c < 0x7f) || c == '\t' || c == '\r' || c == '\n';
}

bool all_textual(std::string_view s) {
  for (const char c : s) {
    if (!textual(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// The first line without its line end, and whether the line end arrived.
std::pair<std::string_view, bool> first_line(std::string_view b) {
  const auto nl = b.find('\n');
  std::string_view line = b.substr(0, nl);
  if (line.ends_with('\r')) line.remove_suffix(1);
  return {line, nl != std::string_view::npos};
}

std::string clean(std::string_view s) { return escape_preview(s, kTextMax); }

std::string tls_version(unsigned major, unsigned minor) {
  if (major == 3 && minor == 0) return "SSL 3.0";
  return fmt::format("TLS 1.{}", minor - 1);
}

std::optional<ReplyDescription> tls_record(std::string_view b) {
  if (b.size() < 3) return std::nullopt;
  const unsigned type = byte(b, 0);
  if (type < 20 || type > 23 || byte(b, 1) != 3 || byte(b, 2) > 4) return std::nullopt;
  ReplyDescription d;
  d.kind = ReplyKind::tls_record;
  d.code = static_cast<int>(type);
  d.version = tls_version(byte(b, 1), byte(b, 2));
  // The record's own length, when its header is whole: the bytes after an empty (or one-byte)
  // record belong to the next record, not to this one's message.
  std::size_t body = 0;
  if (b.size() >= 5) {
    const std::size_t len = (byte(b, 3) << 8) | byte(b, 4);
    if (len > kMaxTlsRecord) return std::nullopt;
    body = std::min(len, b.size() - 5);
  }
  if (type == 21 && b.size() >= 7 && body >= 2) {
    const unsigned level = byte(b, 5);
    d.state = level == 2 ? "fatal" : level == 1 ? "warning" : fmt::format("level {}", level);
    d.alert = static_cast<int>(byte(b, 6));
    d.text = std::string(lookup(kAlerts, d.alert));
    d.error = level == 2;
  } else if (type == 22 && b.size() >= 6 && body >= 1) {
    d.text = std::string(lookup(kHandshakes, static_cast<int>(byte(b, 5))));
  }
  return d;
}

std::optional<ReplyDescription> postgres(std::string_view b) {
  ReplyDescription d;
  if (b.size() == 1 && (b[0] == 'S' || b[0] == 'N')) {
    d.kind = ReplyKind::postgres_ssl_reply;
    d.text = std::string(1, b[0]);
    return d;
  }
  if (b.size() < 6 || b[0] != 'E') return std::nullopt;
  const std::uint32_t len =
      (byte(b, 1) << 24) | (byte(b, 2) << 16) | (byte(b, 3) << 8) | byte(b, 4);
  static constexpr std::string_view kFieldTypes = "SVCMDHPpqWstcdnFLR";
  if (len > 4 && len <= kMaxPgMessage && kFieldTypes.find(b[5]) != std::string_view::npos) {
    // Protocol 3: 'E', length, then (type byte, C string)* and a final NUL.
    d.kind = ReplyKind::postgres_error;
    d.error = true;
    std::string_view body = b.substr(5, len - 4);
    std::string_view severity;
    while (!body.empty() && body[0] != '\0') {
      const char field = body[0];
      const auto nul = body.find('\0', 1);
      const auto value = body.substr(1, nul == std::string_view::npos ? nul : nul - 1);
      if (field == 'V' || (field == 'S' && severity.empty())) severity = value;
      if (field == 'C') d.state = clean(value);
      if (field == 'M') d.text = clean(value);
      if (nul == std::string_view::npos) break;
      body.remove_prefix(nul + 1);
    }
    d.severity = clean(severity);
    return d;
  }
  // Protocol 2 (servers before 14): 'E' and a C string.
  const auto nul = b.find('\0');
  if (nul != std::string_view::npos && nul > 1 && all_textual(b.substr(1, nul - 1))) {
    d.kind = ReplyKind::postgres_error;
    d.error = true;
    auto msg = b.substr(1, nul - 1);
    while (msg.ends_with('\n')) msg.remove_suffix(1);
    d.text = clean(msg);
    return d;
  }
  return std::nullopt;
}

std::optional<ReplyDescription> mysql(std::string_view b) {
  if (b.size() < 5 || byte(b, 3) != 0) return std::nullopt;
  const std::uint32_t len = byte(b, 0) | (byte(b, 1) << 8) | (byte(b, 2) << 16);
  if (len == 0 || len > kMaxMysqlPacket) return std::nullopt;
  const auto payload = b.substr(4, len);
  ReplyDescription d;
  if (byte(payload, 0) == 10) {
    const auto nul = payload.find('\0', 1);
    if (nul == std::string_view::npos || nul == 1 || nul - 1 > kMaxMysqlVersion)
      return std::nullopt;
    const auto version = payload.substr(1, nul - 1);
    for (const char c : version) {
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
        return std::nullopt;
      }
    }
    d.kind = ReplyKind::mysql_handshake;
    d.version = "10";
    d.software = std::string(version);
    return d;
  }
  if (byte(payload, 0) == 0xff && payload.size() >= 3) {
    d.kind = ReplyKind::mysql_error;
    d.error = true;
    d.code = static_cast<int>(byte(payload, 1) | (byte(payload, 2) << 8));
    auto msg = payload.substr(3);
    if (msg.size() >= 6 && msg[0] == '#') {
      d.state = clean(msg.substr(1, 5));
      msg.remove_prefix(6);
    }
    d.text = clean(msg);
    return d;
  }
  return std::nullopt;
}

std::optional<ReplyDescription> http2(std::string_view b) {
  if (b.size() < 9) return std::nullopt;
  const std::uint32_t len = (byte(b, 0) << 16) | (byte(b, 1) << 8) | byte(b, 2);
  const unsigned type = byte(b, 3);
  const unsigned flags = byte(b, 4);
  const std::uint32_t stream =
      ((byte(b, 5) & 0x7fu) << 24) | (byte(b, 6) << 16) | (byte(b, 7) << 8) | byte(b, 8);
  if (stream != 0 || len > 16384) return std::nullopt;
  ReplyDescription d;
  d.kind = ReplyKind::http2_frame;
  d.version = "2";
  d.code = static_cast<int>(type);
  if (type == 4 && len % 6 == 0 && flags <= 1) {
    d.text = "SETTINGS";
    return d;
  }
  if (type == 7 && len >= 8 && flags == 0) {
    d.text = "GOAWAY";
    return d;
  }
  return std::nullopt;
}

std::optional<ReplyDescription> ssh(std::string_view b) {
  // Servers may send lines of text before the version line (RFC 4253, 4.2).
  std::size_t at = 0;
  while (at < b.size()) {
    const auto rest = b.substr(at);
    if (rest.starts_with("SSH-")) break;
    const auto nl = rest.find('\n');
    if (nl == std::string_view::npos || !all_textual(rest.substr(0, nl))) return std::nullopt;
    at += nl + 1;
  }
  if (at >= b.size()) return std::nullopt;
  const auto [line, complete] = first_line(b.substr(at));
  (void)complete;
  if (!all_textual(line)) return std::nullopt;
  const auto body = line.substr(4);
  const auto dash = body.find('-');
  if (dash == std::string_view::npos || dash == 0) return std::nullopt;
  ReplyDescription d;
  d.kind = ReplyKind::ssh_banner;
  d.version = clean(body.substr(0, dash));
  const auto soft = body.substr(dash + 1);
  const auto sp = soft.find(' ');
  d.software = clean(soft.substr(0, sp));
  if (sp != std::string_view::npos) d.text = clean(soft.substr(sp + 1));
  return d;
}

std::optional<ReplyDescription> http_response(std::string_view b) {
  if (!b.starts_with("HTTP/")) return std::nullopt;
  const auto [line, complete] = first_line(b);
  (void)complete;
  if (!all_textual(line)) return std::nullopt;
  const auto sp = line.find(' ');
  if (sp == std::string_view::npos) return std::nullopt;
  const auto version = line.substr(5, sp - 5);
  if (version.empty() || version.size() > 3) return std::nullopt;
  for (const char c : version) {
    if (!is_digit(c) && c != '.') return std::nullopt;
  }
  const auto rest = line.substr(sp + 1);
  if (rest.size() < 3 || !is_digit(rest[0]) || !is_digit(rest[1]) || !is_digit(rest[2]) ||
      (rest.size() > 3 && rest[3] != ' ')) {
    return std::nullopt;
  }
  ReplyDescription d;
  d.kind = ReplyKind::http_response;
  d.version = std::string(version);
  d.code = (rest[0] - '0') * 100 + (rest[1] - '0') * 10 + (rest[2] - '0');
  if (rest.size() > 4) d.text = clean(rest.substr(4));
  return d;
}

std::optional<ReplyDescription> http_request(std::string_view b) {
  const auto [line, complete] = first_line(b);
  if (!complete || !all_textual(line)) return std::nullopt;
  const auto sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0 || sp1 > 20) return std::nullopt;
  for (const char c : line.substr(0, sp1)) {
    if (c < 'A' || c > 'Z') return std::nullopt;
  }
  const auto sp2 = line.rfind(' ');
  if (sp2 == sp1 || !line.substr(sp2 + 1).starts_with("HTTP/")) return std::nullopt;
  ReplyDescription d;
  d.kind = ReplyKind::http_request;
  d.text = clean(line);
  return d;
}

std::optional<ReplyDescription> redis(std::string_view b) {
  if (b.empty()) return std::nullopt;
  const char type = b[0];
  if (type != '+' && type != '-' && type != ':' && type != '$' && type != '*') return std::nullopt;
  const auto crlf = b.find("\r\n");
  if (crlf == std::string_view::npos || !all_textual(b.substr(0, crlf))) return std::nullopt;
  const auto line = b.substr(0, crlf);
  if (type == ':' || type == '$' || type == '*') {
    auto n = line.substr(1);
    if (n.starts_with('-')) n.remove_prefix(1);
    if (n.empty()) return std::nullopt;
    for (const char c : n) {
      if (!is_digit(c)) return std::nullopt;
    }
  }
  ReplyDescription d;
  d.kind = ReplyKind::redis_reply;
  d.text = clean(line);
  if (type == '-') {
    d.error = true;
    const auto body = line.substr(1);
    d.state = clean(body.substr(0, body.find(' ')));
  }
  return d;
}

std::optional<ReplyDescription> numeric(std::string_view b) {
  const auto [line, complete] = first_line(b);
  (void)complete;
  if (line.size() < 3 || line[0] < '1' || line[0] > '5' || !is_digit(line[1]) ||
      !is_digit(line[2]) || !all_textual(line)) {
    return std::nullopt;
  }
  if (line.size() > 3 && line[3] != ' ' && line[3] != '-') return std::nullopt;
  ReplyDescription d;
  d.kind = ReplyKind::numeric_reply;
  d.code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  if (line.size() > 4) d.text = clean(line.substr(4));
  return d;
}

}  // namespace

std::string_view reply_kind_name(ReplyKind kind) {
  if (kind == ReplyKind::none) return "none";
  if (kind == ReplyKind::http_response) return "http_response";
  if (kind == ReplyKind::http_request) return "http_request";
  if (kind == ReplyKind::http2_frame) return "http2_frame";
  if (kind == ReplyKind::ssh_banner) return "ssh_banner";
  if (kind == ReplyKind::numeric_reply) return "numeric_reply";
  if (kind == ReplyKind::redis_reply) return "redis_reply";
  if (kind == ReplyKind::mysql_handshake) return "mysql_handshake";
  if (kind == ReplyKind::mysql_error) return "mysql_error";
  if (kind == ReplyKind::postgres_ssl_reply) return "postgres_ssl_reply";
  if (kind == ReplyKind::postgres_error) return "postgres_error";
  if (kind == ReplyKind::tls_record) return "tls_record";
  if (kind == ReplyKind::text) return "text";
  return "binary";
}

std::string escape_preview(std::string_view bytes, std::size_t max) {
  std::string out;
  const auto n = std::min(bytes.size(), max);
  out.reserve(n + 8);
  for (std::size_t i = 0; i < n; ++i) {
    const char c = bytes[i];
    const auto u = static_cast<unsigned char>(c);
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u >= 0x20 && u < 0x7f) {
      out += c;
    } else {
      out += fmt::format("\\x{:02x}", u);
    }
  }
  if (bytes.size() > max) out += "...";
  return out;
}

ReplyDescription describe_reply(std::string_view bytes) {
  std::optional<ReplyDescription> d;
  if (bytes.empty()) {
    d = ReplyDescription{};
  }
  // Binary framings first: none of them can start with text, so they never shadow a text reply.
  if (!d) d = tls_record(bytes);
  if (!d) d = postgres(bytes);
  if (!d) d = mysql(bytes);
  if (!d) d = http2(bytes);
  if (!d) d = ssh(bytes);
  if (!d) d = http_response(bytes);
  if (!d) d = http_request(bytes);
  if (!d) d = redis(bytes);
  if (!d) d = numeric(bytes);
  if (!d) {
    d = ReplyDescription{};
    const auto [line, complete] = first_line(bytes.substr(0, kTextScan));
    (void)complete;
    if (all_textual(bytes.substr(0, kTextScan))) {
      d->kind = ReplyKind::text;
      d->text = clean(line);
    } else {
      d->kind = ReplyKind::binary;
    }
  }
  d->size = bytes.size();
  d->preview = escape_preview(bytes, kPreviewBytes);
  return *d;
}

std::string summarize(const ReplyDescription& r) {
  const auto k = r.kind;
  if (k == ReplyKind::none) return "no bytes";
  if (k == ReplyKind::http_response) {
    return r.text.empty() ? fmt::format("HTTP/{} {}", r.version, r.code)
                          : fmt::format("HTTP/{} {} {}", r.version, r.code, r.text);
  }
  if (k == ReplyKind::http_request) return fmt::format("HTTP request \"{}\"", r.text);
  if (k == ReplyKind::http2_frame) return fmt::format("HTTP/2 {} frame", r.text);
  if (k == ReplyKind::ssh_banner) {
    return r.text.empty() ? fmt::format("SSH-{}-{}", r.version, r.software)
                          : fmt::format("SSH-{}-{} {}", r.version, r.software, r.text);
  }
  if (k == ReplyKind::numeric_reply) {
    return r.text.empty() ? fmt::format("{}", r.code) : fmt::format("{} {}", r.code, r.text);
  }
  if (k == ReplyKind::redis_reply) return r.text;
  if (k == ReplyKind::mysql_handshake) {
    return fmt::format("MySQL protocol {} handshake, server {}", r.version, r.software);
  }
  if (k == ReplyKind::mysql_error) {
    return r.state.empty() ? fmt::format("MySQL error {}: {}", r.code, r.text)
                           : fmt::format("MySQL error {} ({}): {}", r.code, r.state, r.text);
  }
  if (k == ReplyKind::postgres_ssl_reply)
    return fmt::format("PostgreSQL SSLRequest answer '{}'", r.text);
  if (k == ReplyKind::postgres_error) {
    std::string head = "PostgreSQL";
    if (!r.severity.empty()) head += " " + r.severity;
    if (!r.state.empty()) head += " " + r.state;
    return fmt::format("{}: {}", head, r.text);
  }
  if (k == ReplyKind::tls_record) {
    if (r.alert >= 0) {
      return fmt::format("TLS alert {} {} ({}), record version {}", r.state, r.text, r.alert,
                         r.version);
    }
    const auto content = lookup(kContentTypes, r.code);
    return r.text.empty()
               ? fmt::format("TLS {} record, record version {}", content, r.version)
               : fmt::format("TLS {} record ({}), record version {}", content, r.text, r.version);
  }
  if (k == ReplyKind::text) return fmt::format("text \"{}\"", r.text);
  return fmt::format("{} bytes: {}", r.size, r.preview);
}

}  // namespace connscope::probe
