#pragma once
// The talk stage's reading of an HTTP response, without the socket: the bytes read so far go
// in, Boost.Beast's response parser reads the current response, and the reader says whether
// the stage may stop reading (a final status line and header, a reply that cannot be HTTP, the
// parser's refusal, too many interim 1xx answers, the byte cap). The coroutine in talk.cpp reads
// the socket and calls take() after every read; the fuzz harness calls it with chunks of its
// input. conclude_talk is the stage's verdict on what was read, once the reading has ended.

#include <cstddef>
#include <memory>
#include <string_view>

#include "probe/talk_result.h"

namespace connscope::probe {

class HttpReplyReader {
 public:
  // header_limit: Beast's cap on the response header; read_limit: the bytes the stage reads at
  // most (a reply not complete by then ends as ReadEnd::limit).
  HttpReplyReader(std::size_t header_limit, std::size_t read_limit);
  ~HttpReplyReader();
  HttpReplyReader(const HttpReplyReader&) = delete;
  HttpReplyReader& operator=(const HttpReplyReader&) = delete;

  // `bytes`: everything read so far (what earlier calls had, and more). need_more: read more and
  // call again. The verdict depends on the bytes only, not on how they were cut into reads. complete: `res` has end, error, limit_reached, http, http_interim and
  // http_first_interim as the exchange left them; do not call again.
  ReplyProgress take(std::string_view bytes, TalkResult& res);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// What the stage concludes once reading has ended (res.end set, res.slow known): the reply's
// description, how the peer closed, PostgreSQL's TLS answer and the outcome.
void conclude_talk(TalkResult& res, std::string_view bytes);

}  // namespace connscope::probe
