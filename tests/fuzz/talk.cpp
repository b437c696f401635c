// A server's reply as the talk stage reads it (probe/talk.cpp), without the socket: the bytes
// arrive in chunks of the sizes a peer chooses, and after each one the stage's own test runs —
// for HTTP, probe::HttpReplyReader (Boost.Beast's response parser on the bytes so far, interim
// 1xx answers, the header and read caps), for the other protocols reply_progress — until the
// reply is complete or the input ends the way the peer chose (FIN, RST, the deadline, an error).
// Then conclude_talk (describe_reply, judge), finding_id, and a 3xx's Location through
// redirect_url as `doctor --follow` does.
//
// Input: byte 0 the protocol (AppProtocol, modulo 8); byte 1 how the input's end ends the read
// (bits 0-1: FIN, RST, deadline, error), whether the first byte was slow (bit 2), and the read
// cap (bits 3-5: 32 << n bytes; 7: the stage's defaults); byte 2 the chunk sizes (0: the whole
// rest at once; else a sequence from that seed, 1-64 bytes each); the rest: the peer's bytes.
// For HTTP, the same bytes read whole must end the same way (the chunking is not part of the
// reply). The TLS peer-reply classifier (could_be_tls) and describe_reply alone are fuzz_banner's.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/target.h"
#include "fuzz_check.h"
#include "probe/banner.h"
#include "probe/http_reply.h"
#include "probe/talk_result.h"

namespace {

using namespace connscope;
using namespace connscope::probe;

constexpr std::size_t kReadChunk = 4096;  // talk.cpp's read size

// The peer's bytes, handed out a chunk at a time.
struct Peer {
  std::string_view rest;
  std::uint32_t state = 0;  // 0: everything at once

  // Appends the next read (at most `room` bytes) to `bytes`; false when the peer has no more.
  bool read(std::string& bytes, std::size_t room) {
    if (rest.empty()) return false;
    std::size_t n = rest.size();
    if (state != 0) {
      state = state * 1103515245u + 12345u;
      n = 1 + ((state >> 16) % 64);
    }
    n = std::min({n, rest.size(), room, kReadChunk});
    bytes.append(rest.substr(0, n));
    rest.remove_prefix(n);
    return true;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const auto protocol = static_cast<AppProtocol>(data[0] % 8);
  const ReadEnd ends[] = {ReadEnd::eof, ReadEnd::reset, ReadEnd::deadline, ReadEnd::error};
  const ReadEnd end_of_input = ends[data[1] & 3];
  const bool slow = (data[1] & 4) != 0;
  const unsigned cap = (data[1] >> 3) & 7;
  TalkOptions o;
  o.protocol = protocol;
  if (cap != 7) {
    o.http_header_limit = std::size_t{32} << cap;
    o.banner_limit = std::size_t{32} << cap;
  }
  Peer peer{fuzz::text(data + 3, size - 3), data[2]};

  // talk_on and its exchanges, with reads from `peer`.
  TalkResult res;
  res.protocol = protocol;
  const std::size_t limit =
      std::max<std::size_t>(1, protocol == AppProtocol::http ? o.http_header_limit : o.banner_limit);
  std::string bytes;
  if (protocol == AppProtocol::http) {
    HttpReplyReader reader(o.http_header_limit, limit);
    while (reader.take(bytes, res) == ReplyProgress::need_more) {
      if (!peer.read(bytes, limit - bytes.size())) {
        res.end = end_of_input;
        break;
      }
    }
  } else {
    for (;;) {
      if (bytes.size() >= limit) {
        res.end = ReadEnd::limit;
        res.limit_reached = true;
        break;
      }
      if (!peer.read(bytes, limit - bytes.size())) {
        res.end = end_of_input;
        break;
      }
      if (reply_progress(protocol, bytes) == ReplyProgress::complete) {
        res.end = ReadEnd::complete;
        break;
      }
    }
  }
  res.slow = slow && !bytes.empty();
  conclude_talk(res, bytes);

  // How a reply is cut into reads must not change what the HTTP reader makes of it: the same
  // bytes read whole (talk.cpp's 4096-byte reads) end the same way, with the same reply.
  if (protocol == AppProtocol::http && data[2] != 0) {
    TalkResult whole;
    whole.protocol = protocol;
    Peer all{fuzz::text(data + 3, size - 3), 0};
    std::string got;
    HttpReplyReader reader(o.http_header_limit, limit);
    while (reader.take(got, whole) == ReplyProgress::need_more) {
      if (!all.read(got, limit - got.size())) {
        whole.end = end_of_input;
        break;
      }
    }
    fuzz::check(whole.end == res.end, "the same end, whatever the reads");
    fuzz::check(whole.http.has_value() == res.http.has_value(), "the same reply, whatever the reads");
    if (whole.http) {
      fuzz::check(whole.http->status == res.http->status && whole.http->location == res.http->location &&
                      whole.http->server == res.http->server &&
                      whole.http->content_length == res.http->content_length,
                  "the same status and headers, whatever the reads");
    }
    fuzz::check(whole.http_interim == res.http_interim, "the same interim answers, whatever the reads");
  }

  fuzz::check(res.bytes_received <= limit, "read cap");
  (void)outcome_name(res.outcome);
  (void)read_end_name(res.end);
  (void)peer_close_name(res.peer_close);
  (void)finding_id(res);
  fuzz::check(fuzz::printable_ascii(summarize(res.reply)), "summary printable");
  if (res.http) {
    const HttpReply& h = *res.http;
    fuzz::check(protocol == AppProtocol::http, "an HTTP reply only for HTTP");
    fuzz::check(h.status < 100 || h.status >= 200 || h.status == 101, "a final status");
    fuzz::check(fuzz::printable_ascii(h.reason), "reason printable");
    fuzz::check(fuzz::printable_ascii(h.server), "server printable");
    fuzz::check(fuzz::printable_ascii(h.location), "location printable");
    fuzz::check(fuzz::printable_ascii(h.content_type), "content type printable");
    if (res.outcome == TalkOutcome::ok || res.outcome == TalkOutcome::slow_first_byte) {
      fuzz::check(h.status >= 100 && h.status < 400, "ok means 1xx-3xx");
    }
    // doctor --follow: the redirect's next URL.
    if (!h.location.empty()) {
      static const Target base = *parse_target("http://www.example.com:8080/a/b?c=d");
      if (auto next = redirect_url(base, h.location)) {
        fuzz::check(fuzz::printable_ascii(*next), "next URL printable");
      }
    }
  }
  if (res.outcome == TalkOutcome::http_no_final) fuzz::check(res.http_interim > 0, "interim seen");
  return 0;
}
