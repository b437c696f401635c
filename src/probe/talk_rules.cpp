// The talk stage's pure rules: when a reply is complete (reply_progress), what it means
// (judge, finding_id), the names of its values and the bytes each protocol opens with. Split
// from talk.cpp (the coroutines that read the socket) so that the fuzz harness fuzz_talk runs
// them without the stage.

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "probe/talk_result.h"

namespace connscope::probe {

namespace {

constexpr std::string_view kRedisPing = "PING\r\n";
// Length 8, then the SSLRequest code 80877103 (1234 << 16 | 5679), both big-endian.
constexpr std::array<char, 8> kSslRequest{'\x00', '\x00', '\x00', '\x08',
                                          '\x04', '\xd2', '\x16', '\x2f'};
constexpr std::uint32_t kMaxFramedReply = 65536;

bool textual(unsigned char c) {
  return (c >= 0x20 && c < 0x7f) || c == '\t' || c == '\r' || c == '\n';
}

bool all_textual(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return textual(static_cast<unsigned char>(c)); });
}

unsigned byte(std::string_view b, std::size_t i) { return static_cast<unsigned char>(b[i]); }

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Calls f(line) for every complete line (without its line end) until f returns a value.
template <class F>
std::optional<ReplyProgress> each_line(std::string_view b, F f) {
  std::size_t at = 0;
  for (std::size_t index = 0;; ++index) {
    const auto nl = b.find('\n', at);
    if (nl == std::string_view::npos) return std::nullopt;
    auto line = b.substr(at, nl - at);
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (auto r = f(line, index)) return r;
    at = nl + 1;
  }
}

ReplyProgress ssh_progress(std::string_view b) {
  const auto r =
      each_line(b, [](std::string_view line, std::size_t index) -> std::optional<ReplyProgress> {
        if (line.starts_with("SSH-")) return ReplyProgress::complete;
        if (index == 0) {
          // Text lines may come before the version line, but not another protocol's reply.
          const auto kind = describe_reply(std::string(line) + "\r\n").kind;
          if (kind != ReplyKind::text) return ReplyProgress::complete;
        }
        return std::nullopt;
      });
  return r.value_or(ReplyProgress::need_more);
}

// SMTP and FTP: "220-..." lines continue a reply, "220 ..." ends it; 1xx is preliminary (FTP's
// "120 ready in 5 minutes") and another reply follows.
ReplyProgress numeric_progress(std::string_view b) {
  const auto r =
      each_line(b, [](std::string_view line, std::size_t) -> std::optional<ReplyProgress> {
        if (line.size() < 3 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2]) ||
            (line.size() > 3 && line[3] != ' ' && line[3] != '-')) {
          return ReplyProgress::complete;  // not a reply line: not this protocol
        }
        if (line.size() > 3 && line[3] == '-') return std::nullopt;
        if (line[0] == '1') return std::nullopt;
        return ReplyProgress::complete;
      });
  return r.value_or(ReplyProgress::need_more);
}

ReplyProgress mysql_progress(std::string_view b) {
  if (b.size() < 4) return ReplyProgress::need_more;
  const std::uint32_t len = byte(b, 0) | (byte(b, 1) << 8) | (byte(b, 2) << 16);
  if (byte(b, 3) != 0 || len == 0 || len > kMaxFramedReply) return ReplyProgress::complete;
  return b.size() >= 4 + std::size_t{len} ? ReplyProgress::complete : ReplyProgress::need_more;
}

ReplyProgress postgres_progress(std::string_view b) {
  if (b[0] == 'S' || b[0] == 'N') return ReplyProgress::complete;
  if (b[0] != 'E') return ReplyProgress::complete;
  if (b.size() < 5) return ReplyProgress::need_more;
  const std::uint32_t len =
      (byte(b, 1) << 24) | (byte(b, 2) << 16) | (byte(b, 3) << 8) | byte(b, 4);
  if (len > 4 && len <= kMaxFramedReply) {
    return b.size() >= 1 + std::size_t{len} ? ReplyProgress::complete : ReplyProgress::need_more;
  }
  // A protocol-2 error: 'E' and a C string.
  return b.find('\0') != std::string_view::npos ? ReplyProgress::complete
                                                : ReplyProgress::need_more;
}

}  // namespace

std::string_view outcome_name(TalkOutcome o) {
  if (o == TalkOutcome::ok) return "ok";
  if (o == TalkOutcome::slow_first_byte) return "slow_first_byte";
  if (o == TalkOutcome::http_4xx) return "http_4xx";
  if (o == TalkOutcome::http_5xx) return "http_5xx";
  if (o == TalkOutcome::http_no_final) return "http_no_final";
  if (o == TalkOutcome::app_error) return "app_error";
  if (o == TalkOutcome::unexpected_reply) return "unexpected_reply";
  if (o == TalkOutcome::no_response) return "no_response";
  if (o == TalkOutcome::silent) return "silent";
  if (o == TalkOutcome::timeout) return "timeout";
  if (o == TalkOutcome::closed_by_peer) return "closed_by_peer";
  if (o == TalkOutcome::reset_by_peer) return "reset_by_peer";
  return "failed";
}

std::string_view read_end_name(ReadEnd e) {
  if (e == ReadEnd::complete) return "complete";
  if (e == ReadEnd::invalid) return "invalid";
  if (e == ReadEnd::limit) return "limit";
  if (e == ReadEnd::eof) return "eof";
  if (e == ReadEnd::reset) return "reset";
  if (e == ReadEnd::deadline) return "deadline";
  return "error";
}

std::string_view peer_close_name(PeerClose c) {
  if (c == PeerClose::fin) return "fin";
  if (c == PeerClose::rst) return "rst";
  return "none";
}

TalkOptions talk_options(const Target& target) {
  TalkOptions o;
  o.protocol = target.protocol;
  o.http_host = target.http_host();
  if (!target.http_path.empty()) o.http_path = target.http_path;
  return o;
}

std::string_view finding_id(const TalkResult& r) {
  const auto o = r.outcome;
  if (o == TalkOutcome::no_response) return "app.no_response";
  if (o == TalkOutcome::silent) return "app.silent";
  if (o == TalkOutcome::http_5xx) return "app.http_5xx";
  if (o == TalkOutcome::http_4xx) return "app.http_4xx";
  if (o == TalkOutcome::slow_first_byte) return "app.slow_first_byte";
  if (o == TalkOutcome::closed_by_peer && r.bytes_received == 0) return "tcp.closed_after_accept";
  if (o == TalkOutcome::reset_by_peer && r.bytes_received == 0) return "tcp.reset_after_accept";
  if (o == TalkOutcome::app_error) return "app.error_reply";
  if (o == TalkOutcome::unexpected_reply) return "app.unexpected_reply";
  if (o == TalkOutcome::timeout) return "app.incomplete_reply";
  if (o == TalkOutcome::http_no_final) return "http.no_final_response";
  // Part of a reply, then the peer's FIN or RST.
  if (o == TalkOutcome::closed_by_peer || o == TalkOutcome::reset_by_peer) return "app.truncated_reply";
  return "";
}

std::string_view opening_bytes(AppProtocol protocol) {
  if (protocol == AppProtocol::redis) return kRedisPing;
  if (protocol == AppProtocol::postgres) return {kSslRequest.data(), kSslRequest.size()};
  return {};
}

ReplyProgress reply_progress(AppProtocol protocol, std::string_view bytes) {
  if (bytes.empty()) return ReplyProgress::need_more;
  if (protocol == AppProtocol::mysql) return mysql_progress(bytes);
  if (protocol == AppProtocol::postgres) return postgres_progress(bytes);
  // The rest are line protocols: a byte that cannot be in a text line ends the wait at once.
  if (!all_textual(bytes)) return ReplyProgress::complete;
  if (protocol == AppProtocol::ssh) return ssh_progress(bytes);
  if (protocol == AppProtocol::smtp || protocol == AppProtocol::ftp) return numeric_progress(bytes);
  // Redis's reply to PING, an unknown server's greeting, an HTTP status line: one line.
  return bytes.find('\n') != std::string_view::npos ? ReplyProgress::complete
                                                    : ReplyProgress::need_more;
}

TalkOutcome judge(AppProtocol protocol, ReadEnd end, const ReplyDescription& reply,
                  std::optional<unsigned> http_status, bool slow, unsigned interim_only) {
  const auto good = slow ? TalkOutcome::slow_first_byte : TalkOutcome::ok;
  if (end == ReadEnd::error) return TalkOutcome::failed;
  // Interim answers, then silence or more of them than we wait for: no final response.
  if (interim_only > 0 && (end == ReadEnd::deadline || end == ReadEnd::complete)) {
    return TalkOutcome::http_no_final;
  }
  if (reply.size == 0) {
    if (end == ReadEnd::eof) return TalkOutcome::closed_by_peer;
    if (end == ReadEnd::reset) return TalkOutcome::reset_by_peer;
    return end == ReadEnd::deadline ? TalkOutcome::no_response : TalkOutcome::failed;
  }
  // An unknown protocol: whatever the server said is its answer.
  if (protocol == AppProtocol::banner) return good;
  if (end == ReadEnd::eof) return TalkOutcome::closed_by_peer;
  if (end == ReadEnd::reset) return TalkOutcome::reset_by_peer;
  if (end == ReadEnd::deadline) return TalkOutcome::timeout;
  if (end != ReadEnd::complete) return TalkOutcome::unexpected_reply;  // limit, invalid

  const auto k = reply.kind;
  if (protocol == AppProtocol::http) {
    if (!http_status || *http_status < 100 || *http_status > 599)
      return TalkOutcome::unexpected_reply;
    if (*http_status >= 500) return TalkOutcome::http_5xx;
    if (*http_status >= 400) return TalkOutcome::http_4xx;
    return good;
  }
  if (protocol == AppProtocol::ssh) {
    return k == ReplyKind::ssh_banner ? good : TalkOutcome::unexpected_reply;
  }
  if (protocol == AppProtocol::smtp || protocol == AppProtocol::ftp) {
    if (k != ReplyKind::numeric_reply) return TalkOutcome::unexpected_reply;
    if (reply.code == 220) return good;
    return reply.code >= 400 ? TalkOutcome::app_error : TalkOutcome::unexpected_reply;
  }
  if (protocol == AppProtocol::redis) {
    if (k != ReplyKind::redis_reply) return TalkOutcome::unexpected_reply;
    // NOAUTH: alive and answering, it only wants a password first.
    if (reply.text == "+PONG" || (reply.error && reply.state == "NOAUTH")) return good;
    return reply.error ? TalkOutcome::app_error : TalkOutcome::unexpected_reply;
  }
  if (protocol == AppProtocol::mysql) {
    if (k == ReplyKind::mysql_handshake) return good;
    return k == ReplyKind::mysql_error ? TalkOutcome::app_error : TalkOutcome::unexpected_reply;
  }
  if (protocol == AppProtocol::postgres) {
    if (k == ReplyKind::postgres_ssl_reply) return good;
    return k == ReplyKind::postgres_error ? TalkOutcome::app_error : TalkOutcome::unexpected_reply;
  }
  return TalkOutcome::unexpected_reply;
}

}  // namespace connscope::probe
