#include "probe/http_reply.h"

#include "core/error_text.h"

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <cstdint>
#include <string>
#include <utility>

namespace connscope::probe {

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using error_code = boost::system::error_code;

constexpr unsigned kMaxInterim = 32;  // 1xx answers skipped before giving up on a final one
constexpr std::size_t kHeaderValueMax = 256;

// Every response starts with "HTTP/": bytes that cannot begin it need no more waiting (an SSH
// or SMTP server says its line and then waits for us; Beast would wait for a blank line).
bool could_be_http(std::string_view b) {
  constexpr std::string_view kStart = "HTTP/";
  const auto n = std::min(b.size(), kStart.size());
  return b.substr(0, n) == kStart.substr(0, n);
}

std::string header(const http::response<http::empty_body>& m, http::field f) {
  const auto it = m.find(f);
  if (it == m.end()) return {};
  const auto v = it->value();
  return escape_preview(std::string_view(v.data(), v.size()), kHeaderValueMax);
}

}  // namespace

struct HttpReplyReader::Impl {
  std::size_t header_limit = 0;
  std::size_t read_limit = 0;
  // The bytes are read by the stage and handed to Beast's parser, not read by Beast: they stay
  // whole for describe_reply when they turn out not to be HTTP, and the first one is timed.
  //
  // A fresh parser reads the current response from its start on every call, instead of one
  // parser taking each read as it comes: Beast checks the status line and the fields as far as
  // they go only in its first put; after a need_more it waits for the whole header. Kept across
  // reads, the parser would end at once on "HTTP/#\r\n" that came in one segment but wait for
  // the deadline on the same bytes in two: the verdict would depend on how TCP cut the reply.
  // The header is capped (header_limit, 16 KB by default): parsing it again costs at most that
  // much per read.
  std::size_t start = 0;  // where the current response begins (after interim 1xx answers)
  unsigned interim = 0;

  void limit(http::response_parser<http::empty_body>& parser) const {
    parser.header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(header_limit, UINT32_MAX)));
    parser.eager(false);
    // The body is never read here; Beast would still check an announced Content-Length against
    // its 8 MB default and call a large download "not HTTP".
    parser.body_limit(boost::none);
  }
};

HttpReplyReader::HttpReplyReader(std::size_t header_limit, std::size_t read_limit)
    : impl_(std::make_unique<Impl>()) {
  impl_->header_limit = header_limit;
  impl_->read_limit = read_limit;
}

HttpReplyReader::~HttpReplyReader() = default;

ReplyProgress HttpReplyReader::take(std::string_view bytes, TalkResult& res) {
  Impl& s = *impl_;
  for (;;) {
    if (!could_be_http(bytes)) {
      res.end = ReadEnd::invalid;
      res.error = error_text("talk http", Msg::err_not_http);
      return ReplyProgress::complete;
    }
    if (s.start < bytes.size()) {
      http::response_parser<http::empty_body> parser;
      s.limit(parser);
      error_code pec;
      const std::size_t used =
          parser.put(boost::asio::buffer(bytes.data() + s.start, bytes.size() - s.start), pec);
      if (pec && pec != http::error::need_more) {
        res.end = ReadEnd::invalid;
        res.error = error_text("talk http", Msg::err_http_parse, {{"reason", pec.message()}});  // Beast's words

        return ReplyProgress::complete;
      }
      if (!pec && parser.is_header_done()) {
        const auto& m = parser.get();
        const unsigned status = m.result_int();
        if (status >= 100 && status < 200 && status != 101) {
          // 100 Continue, 103 Early Hints and the like: the final answer follows. A server that
          // sends them without end gets no more than kMaxInterim of our patience (and the
          // stage's deadline bounds the time).
          res.http_interim = ++s.interim;
          if (s.interim == 1) res.http_first_interim = status;
          if (s.interim < kMaxInterim) {
            s.start += used;
            continue;
          }
          res.end = ReadEnd::complete;
          return ReplyProgress::complete;
        }
        HttpReply h;
        h.version = m.version();
        h.status = status;
        const auto reason = m.reason();
        h.reason = escape_preview(std::string_view(reason.data(), reason.size()), kHeaderValueMax);
        h.server = header(m, http::field::server);
        if (status >= 300 && status < 400) h.location = header(m, http::field::location);
        h.content_type = header(m, http::field::content_type);
        if (const auto len = parser.content_length()) h.content_length = *len;
        h.interim = s.interim;
        res.http = std::move(h);
        res.end = ReadEnd::complete;
        return ReplyProgress::complete;
      }
    }
    if (bytes.size() >= s.read_limit) {
      res.end = ReadEnd::limit;
      res.limit_reached = true;
      return ReplyProgress::complete;
    }
    return ReplyProgress::need_more;
  }
}

void conclude_talk(TalkResult& res, std::string_view bytes) {
  res.bytes_received = bytes.size();
  res.reply = describe_reply(bytes);
  if (res.end == ReadEnd::eof) res.peer_close = PeerClose::fin;
  if (res.end == ReadEnd::reset) res.peer_close = PeerClose::rst;
  if (res.protocol == AppProtocol::postgres && res.reply.kind == ReplyKind::postgres_ssl_reply) {
    res.postgres_tls = res.reply.text == "S";
  }
  const std::optional<unsigned> status =
      res.http ? std::optional<unsigned>(res.http->status) : std::nullopt;
  res.outcome = judge(res.protocol, res.end, res.reply, status, res.slow, res.http ? 0 : res.http_interim);
}

}  // namespace connscope::probe
