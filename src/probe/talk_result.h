#pragma once
// The talk and close stages' options, results and pure parts (reply progress, the verdict),
// without Asio: what rules/, the CLI's renderers and the agent include. The stages themselves,
// talk() and observe_close(), are talk.h.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/target.h"
#include "probe/banner.h"
#include "probe/stage.h"
#include "probe/tls_alert.h"

namespace connscope::probe {

// The verdict. Each failure value corresponds to a finding (see finding_id).
enum class TalkOutcome {
  ok,                // the peer spoke the protocol and said nothing alarming
  slow_first_byte,   // ok, but the first byte came later than TalkOptions::slow_first_byte
  http_4xx,          // a final HTTP status 400-499
  http_5xx,          // a final HTTP status 500-599
  http_no_final,     // only interim 1xx answers (100 Continue, ...), no final one
  app_error,         // the protocol's own refusal: SMTP/FTP 4xx/5xx greeting, Redis -ERR/-DENIED,
                     // a MySQL error packet, a PostgreSQL ErrorResponse
  unexpected_reply,  // not this protocol: another one, garbage, a line over the byte cap
  no_response,       // connected, (request sent,) nothing came back before the deadline
  silent,            // no known protocol, and nothing answered a greeting wait, a TLS ClientHello
                     // or an HTTP request (the doctor's identification): a warning, it is up
  timeout,           // some bytes came, but the reply was not complete at the deadline
  closed_by_peer,    // FIN before a complete reply (nothing at all when bytes_received is 0)
  reset_by_peer,     // RST before a complete reply
  failed,            // a local or TLS error; see TalkResult::error
};

// "ok", "slow_first_byte", ...: the names in JSON.
std::string_view outcome_name(TalkOutcome outcome);

// How reading the reply stopped: evidence, and the input of judge().
enum class ReadEnd {
  complete,  // the protocol's reply is complete (or clearly not this protocol)
  invalid,   // the HTTP parser rejected the bytes
  limit,     // the byte cap was reached before the reply was complete
  eof,       // the peer's FIN
  reset,     // the peer's RST
  deadline,  // the stage deadline
  error,     // any other error
};
std::string_view read_end_name(ReadEnd end);

enum class PeerClose { none, fin, rst };
std::string_view peer_close_name(PeerClose close);

struct TalkOptions {
  AppProtocol protocol = AppProtocol::banner;
  std::string http_host;  // the Host header (Target::http_host())
  std::string http_path = "/";
  std::chrono::milliseconds deadline{5000};         // the whole stage
  std::chrono::milliseconds slow_first_byte{1000};  // later than this is app.slow_first_byte
  std::size_t banner_limit = 4096;                  // bytes read for a non-HTTP reply
  std::size_t http_header_limit = 16384;            // bytes read for an HTTP response header
};

// Protocol, Host header and path from a parsed target; deadlines stay at their defaults.
TalkOptions talk_options(const Target& target);

struct HttpReply {
  unsigned version = 0;  // 10 or 11
  unsigned status = 0;   // the final status, after any 1xx
  std::string reason;
  std::string server;        // Server header, escaped
  std::string location;      // Location header of a 3xx, escaped
  std::string content_type;  // escaped
  std::optional<std::uint64_t> content_length;
  unsigned interim = 0;  // 1xx responses before the final one
};

struct TalkResult {
  AppProtocol protocol = AppProtocol::banner;
  TalkOutcome outcome = TalkOutcome::failed;
  ReadEnd end = ReadEnd::error;
  Clock::duration elapsed{};  // the whole stage
  // From our request written (HTTP, Redis, PostgreSQL) or from the start (server speaks
  // first) to the first byte of the reply.
  std::optional<Clock::duration> first_byte;
  bool slow = false;  // first_byte over the threshold, also when the outcome is a worse one
  std::size_t bytes_sent = 0;
  std::size_t bytes_received = 0;
  bool limit_reached = false;
  ReplyDescription reply;  // what the bytes were (kind none when nothing came)
  std::optional<HttpReply> http;
  std::optional<bool> postgres_tls;        // the SSLRequest answer: 'S' true, 'N' false
  PeerClose peer_close = PeerClose::none;  // how the peer closed during the stage, if it did
  // When the deadline ended the stage: segments that had arrived out of order by then
  // (tcpi_rcv_ooopack; nullopt before Linux 5.4). Non-zero means data came beyond a gap that was
  // never filled: later, smaller segments arrived and a full-size one did not (an MTU black hole).
  std::optional<std::uint32_t> out_of_order_at_deadline;
  std::optional<Error> error;  // failed: what failed; unexpected HTTP: the parser's complaint
  unsigned http_interim = 0;   // interim 1xx answers read (also when no final one came)
  unsigned http_first_interim = 0;  // the first one's status (100, 103, ...)
  // A fatal TLS alert a read met: the server's refusal after the handshake (see
  // refused_after_handshake in tls_probe.h).
  std::optional<TlsAlert> tls_alert;
};

// The finding id an outcome corresponds to: app.error_reply, app.unexpected_reply,
// app.incomplete_reply (timeout), http.no_final_response among them; "" for ok and failed (a
// local error: the doctor's generic app.failed speaks for it). FIN or RST with nothing received
// is the connect-after-accept finding (tcp.closed_after_accept, tcp.reset_after_accept); after
// part of a reply, app.truncated_reply.
std::string_view finding_id(const TalkResult& result);

// --- The pure parts, exposed for tests ---

enum class ReplyProgress { need_more, complete };

// Is what arrived so far a whole reply for this protocol, or clearly not this protocol (binary
// where text belongs, a line that is another protocol's)? Not used for HTTP (Beast decides).
ReplyProgress reply_progress(AppProtocol protocol, std::string_view bytes);

// The verdict from how reading ended and what the bytes were; `http_status` is the final status
// when an HTTP header was parsed.
// `interim_only`: how many interim 1xx answers came when no final one did (0 otherwise).
TalkOutcome judge(AppProtocol protocol, ReadEnd end, const ReplyDescription& reply,
                  std::optional<unsigned> http_status, bool slow, unsigned interim_only = 0);

// The bytes each protocol sends first ("" when the server speaks first; HTTP is built by Beast).
std::string_view opening_bytes(AppProtocol protocol);

struct CloseResult {
  PeerClose how = PeerClose::none;  // none: still open when the wait ended
  Clock::duration after{};          // from our FIN to the peer's FIN or RST (or the wait)
  std::size_t bytes_discarded = 0;  // what still arrived (the rest of a body)
  bool limit_reached = false;       // stopped reading at the cap before the peer closed
  std::optional<Error> error;       // shutdown or read failed otherwise
};

}  // namespace connscope::probe
