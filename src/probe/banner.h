#pragma once
// What the first bytes from a peer look like. The talk stage uses it to judge whether the server
// spoke the protocol it expected; the secure stage uses it for tls.not_tls ("the peer answered
// with an HTTP/1.1 400 response"). Pure functions over bytes: nothing here reads a socket, and
// every string in a description is printable ASCII, safe for a terminal and for JSON.

#include <cstddef>
#include <string>
#include <string_view>

namespace connscope::probe {

enum class ReplyKind {
  none,                // no bytes at all
  http_response,       // "HTTP/1.1 400 Bad Request"
  http_request,        // a request line, e.g. an echo server sending ours back
  http2_frame,         // an HTTP/2 SETTINGS or GOAWAY frame: a server that speaks only h2
  ssh_banner,          // "SSH-2.0-OpenSSH_9.2p1 Debian-2" (after any lines before it)
  numeric_reply,       // "220 mail.example.com ESMTP": SMTP, FTP and their kin
  redis_reply,         // "+PONG", "-NOAUTH Authentication required.", ":1", "$5", "*2"
  mysql_handshake,     // MySQL/MariaDB initial handshake packet (protocol 10)
  mysql_error,         // MySQL error packet (0xff), e.g. "Host ... is not allowed to connect"
  postgres_ssl_reply,  // the one byte 'S' or 'N' a PostgreSQL server answers an SSLRequest with
  postgres_error,      // PostgreSQL ErrorResponse ('E')
  tls_record,          // a TLS record (alert, handshake, ...)
  text,                // printable text of no known protocol
  binary,              // anything else
};

// "http_response", "ssh_banner", ...: the names in JSON.
std::string_view reply_kind_name(ReplyKind kind);

// Fields a kind does not use stay empty (0 for numbers).
struct ReplyDescription {
  ReplyKind kind = ReplyKind::none;
  std::size_t size = 0;  // bytes looked at
  // HTTP "1.1"; SSH "2.0"; MySQL protocol "10"; TLS record version "TLS 1.2"; HTTP/2 "2".
  std::string version;
  // HTTP status; SMTP/FTP reply code; MySQL error number; TLS content type (21 alert,
  // 22 handshake); HTTP/2 frame type (4 SETTINGS, 7 GOAWAY).
  int code = 0;
  // SSH software version ("OpenSSH_9.2p1"); MySQL server version ("8.0.35").
  std::string software;
  // HTTP reason phrase or request line; SSH comments; the text after an SMTP/FTP code; a Redis
  // reply line ("+PONG"); a MySQL or PostgreSQL error message; a TLS alert or handshake
  // message name; the first line of unknown text.
  std::string text;
  // SQLSTATE (MySQL, PostgreSQL: "28000"); PostgreSQL severity; a Redis error's code
  // ("NOAUTH"); a TLS alert level ("fatal", "warning").
  std::string state;
  std::string severity;  // PostgreSQL "FATAL", "ERROR"
  int alert = -1;        // TLS alert description number (40 handshake_failure), -1 if none
  // A protocol-level error: Redis '-', MySQL 0xff, PostgreSQL 'E', a fatal TLS alert.
  bool error = false;
  std::string preview;  // escape_preview of the first kPreviewBytes bytes
};

inline constexpr std::size_t kPreviewBytes = 64;

ReplyDescription describe_reply(std::string_view bytes);

// One line for evidence, as literal as the bytes allow: "HTTP/1.1 400 Bad Request",
// "SSH-2.0-OpenSSH_9.2p1 Debian-2", "TLS alert fatal handshake_failure (40)",
// "MySQL error 1130 (HY000): Host ...", "17 bytes: \x00\x01...". Sentences around it come from
// the text catalog at the CLI.
std::string summarize(const ReplyDescription& reply);

// At most `max` bytes, printable ASCII as is, backslash doubled, \r \n \t as such, everything
// else as \xNN; "..." appended when bytes were left out.
std::string escape_preview(std::string_view bytes, std::size_t max);

}  // namespace connscope::probe
