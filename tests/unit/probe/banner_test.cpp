#include "probe/banner.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace connscope::probe {
namespace {

using namespace std::string_literals;

// A MySQL packet: 3-byte little-endian length, sequence 0, payload.
std::string mysql_packet(const std::string& payload) {
  std::string p;
  p += static_cast<char>(payload.size() & 0xff);
  p += static_cast<char>((payload.size() >> 8) & 0xff);
  p += static_cast<char>((payload.size() >> 16) & 0xff);
  p += '\0';
  return p + payload;
}

std::string le16(unsigned v) { return {static_cast<char>(v & 0xff), static_cast<char>(v >> 8)}; }

std::string mysql_handshake(const std::string& version) {
  // protocol 10, version, NUL, thread id, 8 bytes of salt, filler, capabilities (as 8.0 sends)
  return mysql_packet("\x0a"s + version + "\0"s + "\x0b\x00\x00\x00"s + "abcdefgh"s + "\0"s +
                      "\xff\xff\x21\x02\x00\xff\xc7\x15"s);
}

// A PostgreSQL protocol-3 message: type, 4-byte big-endian length (itself included), body.
std::string pg_message(char type, const std::string& body) {
  const std::uint32_t len = static_cast<std::uint32_t>(body.size() + 4);
  std::string m(1, type);
  for (int shift = 24; shift >= 0; shift -= 8) m += static_cast<char>((len >> shift) & 0xff);
  return m + body;
}

const std::string kPgError = pg_message(
    'E',
    "SFATAL\0VFATAL\0C0A000\0Munsupported frontend protocol 5635.1: server supports 3.0 to 3.0\0"
    "Fpostmaster.c\0L2186\0RProcessStartupPacket\0\0"s);

struct Row {
  std::string name;
  std::string bytes;
  ReplyKind kind;
  std::string summary;
};

TEST(DescribeReply, RecognisesEachProtocolAndSummarisesIt) {
  const std::vector<Row> rows = {
      {"nothing", "", ReplyKind::none, "no bytes"},
      {"http 400", "HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Length: 0\r\n\r\n",
       ReplyKind::http_response, "HTTP/1.1 400 Bad Request"},
      {"http 1.0", "HTTP/1.0 200 OK\r\n\r\n", ReplyKind::http_response, "HTTP/1.0 200 OK"},
      {"http no reason", "HTTP/1.1 503\r\n\r\n", ReplyKind::http_response, "HTTP/1.1 503"},
      {"http partial line", "HTTP/1.1 301 Moved Perm", ReplyKind::http_response,
       "HTTP/1.1 301 Moved Perm"},
      {"http bad status", "HTTP/1.1 4x0 Nope\r\n", ReplyKind::text, "text \"HTTP/1.1 4x0 Nope\""},
      {"echoed request", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", ReplyKind::http_request,
       "HTTP request \"GET / HTTP/1.1\""},
      {"ssh", "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", ReplyKind::ssh_banner,
       "SSH-2.0-OpenSSH_9.2p1 Debian-2"},
      {"ssh 1.99 no comment", "SSH-1.99-Cisco-1.25\n", ReplyKind::ssh_banner,
       "SSH-1.99-Cisco-1.25"},
      {"ssh after text lines",
       "Welcome to gw\r\nAuthorised use only\r\nSSH-2.0-dropbear_2022.83\r\n",
       ReplyKind::ssh_banner, "SSH-2.0-dropbear_2022.83"},
      {"ssh partial", "SSH-2.0-OpenSS", ReplyKind::ssh_banner, "SSH-2.0-OpenSS"},
      {"smtp", "220 mx.example.com ESMTP Postfix (Debian/GNU)\r\n", ReplyKind::numeric_reply,
       "220 mx.example.com ESMTP Postfix (Debian/GNU)"},
      {"ftp multi-line",
       "220-FileZilla Server 1.7.3\r\n220 Please visit https://filezilla-project.org/\r\n",
       ReplyKind::numeric_reply, "220 FileZilla Server 1.7.3"},
      {"smtp busy", "421 4.3.2 Service not available\r\n", ReplyKind::numeric_reply,
       "421 4.3.2 Service not available"},
      {"redis pong", "+PONG\r\n", ReplyKind::redis_reply, "+PONG"},
      {"redis noauth", "-NOAUTH Authentication required.\r\n", ReplyKind::redis_reply,
       "-NOAUTH Authentication required."},
      {"redis integer", ":1\r\n", ReplyKind::redis_reply, ":1"},
      {"redis nil", "$-1\r\n", ReplyKind::redis_reply, "$-1"},
      {"pong without crlf", "+PONG", ReplyKind::text, "text \"+PONG\""},
      {"mysql 8", mysql_handshake("8.0.35"), ReplyKind::mysql_handshake,
       "MySQL protocol 10 handshake, server 8.0.35"},
      {"mariadb", mysql_handshake("5.5.5-10.11.6-MariaDB-0+deb12u1"), ReplyKind::mysql_handshake,
       "MySQL protocol 10 handshake, server 5.5.5-10.11.6-MariaDB-0+deb12u1"},
      {"mysql host blocked",
       mysql_packet("\xff"s + le16(1130) +
                    "Host '198.18.1.2' is not allowed to connect to this MySQL server"),
       ReplyKind::mysql_error,
       "MySQL error 1130: Host '198.18.1.2' is not allowed to connect to this MySQL server"},
      {"mysql with sqlstate", mysql_packet("\xff"s + le16(1045) + "#28000Access denied"),
       ReplyKind::mysql_error, "MySQL error 1045 (28000): Access denied"},
      {"postgres no tls", "N", ReplyKind::postgres_ssl_reply, "PostgreSQL SSLRequest answer 'N'"},
      {"postgres tls", "S", ReplyKind::postgres_ssl_reply, "PostgreSQL SSLRequest answer 'S'"},
      {"postgres error", kPgError, ReplyKind::postgres_error,
       "PostgreSQL FATAL 0A000: unsupported frontend protocol 5635.1: server supports 3.0 to 3.0"},
      {"postgres v2 error", "EFATAL:  unsupported frontend protocol\n\0"s,
       ReplyKind::postgres_error, "PostgreSQL: FATAL:  unsupported frontend protocol"},
      {"tls alert", "\x15\x03\x03\x00\x02\x02\x28"s, ReplyKind::tls_record,
       "TLS alert fatal handshake_failure (40), record version TLS 1.2"},
      {"tls 1.0 protocol_version", "\x15\x03\x01\x00\x02\x02\x46"s, ReplyKind::tls_record,
       "TLS alert fatal protocol_version (70), record version TLS 1.0"},
      {"tls warning", "\x15\x03\x03\x00\x02\x01\x00"s, ReplyKind::tls_record,
       "TLS alert warning close_notify (0), record version TLS 1.2"},
      {"tls server hello", "\x16\x03\x03\x00\x5a\x02\x00\x00\x56\x03\x03"s, ReplyKind::tls_record,
       "TLS handshake record (server_hello), record version TLS 1.2"},
      {"ssl3 record", "\x16\x03\x00\x00\x10"s, ReplyKind::tls_record,
       "TLS handshake record, record version SSL 3.0"},
      // An empty record's next bytes are the next record's header, not its message.
      {"empty handshake records", "\x16\x03\x03\x00\x00\x16\x03\x03\x00\x00"s, ReplyKind::tls_record,
       "TLS handshake record, record version TLS 1.2"},
      {"empty alert record", "\x15\x03\x03\x00\x00\x15\x03\x03\x00\x02\x02\x28"s, ReplyKind::tls_record,
       "TLS alert record, record version TLS 1.2"},
      {"h2 settings", "\x00\x00\x12\x04\x00\x00\x00\x00\x00"s + std::string(18, '\x01'),
       ReplyKind::http2_frame, "HTTP/2 SETTINGS frame"},
      {"h2 goaway", "\x00\x00\x08\x07\x00\x00\x00\x00\x00"s + std::string(8, '\0'),
       ReplyKind::http2_frame, "HTTP/2 GOAWAY frame"},
      {"text", "hello world\r\nmore\r\n", ReplyKind::text, "text \"hello world\""},
      {"binary", "\x00\x01\x02\xff"s, ReplyKind::binary, "4 bytes: \\x00\\x01\\x02\\xff"},
      {"not quite tls", "\x16\x03\x07\x00"s, ReplyKind::binary, "4 bytes: \\x16\\x03\\x07\\x00"},
      {"lone E", "E", ReplyKind::text, "text \"E\""},
  };
  std::set<std::string> names;
  for (const auto& row : rows) {
    ASSERT_TRUE(names.insert(row.name).second) << "duplicate row " << row.name;
    const auto d = describe_reply(row.bytes);
    EXPECT_EQ(reply_kind_name(d.kind), reply_kind_name(row.kind)) << row.name;
    EXPECT_EQ(summarize(d), row.summary) << row.name;
    EXPECT_EQ(d.size, row.bytes.size()) << row.name;
    EXPECT_EQ(d.preview, escape_preview(row.bytes, kPreviewBytes)) << row.name;
  }
}

TEST(DescribeReply, Fields) {
  auto http = describe_reply("HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n");
  EXPECT_EQ(http.version, "1.1");
  EXPECT_EQ(http.code, 302);
  EXPECT_EQ(http.text, "Found");

  auto ssh = describe_reply("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n");
  EXPECT_EQ(ssh.version, "2.0");
  EXPECT_EQ(ssh.software, "OpenSSH_9.2p1");
  EXPECT_EQ(ssh.text, "Debian-2");
  EXPECT_FALSE(ssh.error);

  auto redis = describe_reply("-DENIED Redis is running in protected mode\r\n");
  EXPECT_TRUE(redis.error);
  EXPECT_EQ(redis.state, "DENIED");

  auto mysql = describe_reply(mysql_handshake("8.0.35"));
  EXPECT_EQ(mysql.version, "10");
  EXPECT_EQ(mysql.software, "8.0.35");

  auto myerr = describe_reply(mysql_packet("\xff"s + le16(1045) + "#28000Access denied"));
  EXPECT_EQ(myerr.code, 1045);
  EXPECT_EQ(myerr.state, "28000");
  EXPECT_EQ(myerr.text, "Access denied");
  EXPECT_TRUE(myerr.error);

  auto pg = describe_reply(kPgError);
  EXPECT_EQ(pg.severity, "FATAL");
  EXPECT_EQ(pg.state, "0A000");
  EXPECT_TRUE(pg.error);

  auto alert = describe_reply("\x15\x03\x03\x00\x02\x02\x30"s);
  EXPECT_EQ(alert.code, 21);
  EXPECT_EQ(alert.alert, 48);
  EXPECT_EQ(alert.text, "unknown_ca");
  EXPECT_EQ(alert.state, "fatal");
  EXPECT_EQ(alert.version, "TLS 1.2");
  EXPECT_TRUE(alert.error);

  auto hello = describe_reply("\x16\x03\x03\x00\x5a\x02"s);
  EXPECT_EQ(hello.code, 22);
  EXPECT_EQ(hello.alert, -1);
  EXPECT_FALSE(hello.error);
}

TEST(DescribeReply, HostileTextComesOutPrintable) {
  // Control bytes inside fields a protocol lets through (tabs in a banner, anything in a MySQL
  // or PostgreSQL message) are escaped: a description is safe for a terminal.
  const std::string inputs[] = {
      "SSH-2.0-evil\tbanner\r\n",
      mysql_packet("\xff"s + le16(1) + "bad \x1b[2J news\x07"s),
      pg_message('E', "SFATAL\0C\x1b[31m\0Mred\x1b[0m\0\0"s),
      "220 ok\t\tmore\r\n",
      std::string(10000, 'A'),
  };
  for (const auto& in : inputs) {
    const auto d = describe_reply(in);
    for (const std::string* field :
         {&d.version, &d.software, &d.text, &d.state, &d.severity, &d.preview}) {
      for (char c : *field) {
        const auto u = static_cast<unsigned char>(c);
        EXPECT_TRUE(u >= 0x20 && u < 0x7f) << "byte " << int(u) << " in " << *field;
      }
      EXPECT_LE(field->size(), 4 * 200 + 3) << "fields are capped";
    }
    const auto s = summarize(d);
    for (char c : s)
      EXPECT_TRUE(static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f);
  }
  EXPECT_EQ(describe_reply("SSH-2.0-evil\tbanner\r\n").software, "evil\\tbanner");
}

TEST(DescribeReply, KindNamesAreDistinct) {
  std::set<std::string_view> names;
  for (int k = static_cast<int>(ReplyKind::none); k <= static_cast<int>(ReplyKind::binary); ++k) {
    EXPECT_TRUE(names.insert(reply_kind_name(static_cast<ReplyKind>(k))).second) << k;
  }
  EXPECT_EQ(reply_kind_name(ReplyKind::ssh_banner), "ssh_banner");
}

TEST(EscapePreview, Table) {
  const std::tuple<std::string, std::size_t, std::string> rows[] = {
      {"abc", 10, "abc"},
      {"", 10, ""},
      {"a\\b", 10, "a\\\\b"},
      {"\r\n\t", 10, "\\r\\n\\t"},
      {"\x00\x7f\xff"s, 10, "\\x00\\x7f\\xff"},
      {"\x1b[31mred", 20, "\\x1b[31mred"},
      {"abcdef", 3, "abc..."},
      {"abc", 3, "abc"},
      {"abc", 0, "..."},
      {"\x01\x02\x03\x04"s, 2, "\\x01\\x02..."},
  };
  for (const auto& [in, max, want] : rows) EXPECT_EQ(escape_preview(in, max), want) << want;
}

TEST(EscapePreview, EveryByteComesOutPrintable) {
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  const auto out = escape_preview(all, all.size());
  for (char c : out) {
    const auto u = static_cast<unsigned char>(c);
    EXPECT_TRUE(u >= 0x20 && u < 0x7f) << int(u);
  }
  EXPECT_EQ(out.find("..."), std::string::npos);
}

}  // namespace
}  // namespace connscope::probe
