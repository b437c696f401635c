#pragma once
// The talk stage: over a stream that is already connected (and, for https/smtps, secured), speak
// the target's protocol once and record what came back: HTTP/1.1 (status, Server, Location, time
// to first byte) through Boost.Beast, the greetings of SSH, SMTP, FTP and MySQL, Redis's answer
// to PING, PostgreSQL's answer to an SSLRequest, or the first bytes of anything else. One
// deadline bounds the whole stage and every read is capped, so a hostile peer (silence, one byte
// a second, an endless line, megabytes of garbage) ends in a verdict, never in a hang.
//
// The close stage (observe_close) sends our FIN afterwards and watches how the peer ends the
// connection: FIN, RST, or not at all (a server that leaks CLOSE_WAIT).

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
// Declared, not included: <boost/asio/ssl/stream.hpp> pulls in OpenSSL's headers, which callers

#include "probe/talk_result.h"

// Declared, not included: <boost/asio/ssl/stream.hpp> pulls in OpenSSL's headers, which callers
// that only hold a plain socket need not compile.
namespace boost::asio::ssl {
template <typename Stream>
class stream;
}  // namespace boost::asio::ssl

namespace connscope::probe {

// --- The stage ---
// Each runs on the stream's executor, which must be single-threaded (an io_context run by one
// thread, or a strand). The stream must outlive the returned awaitable. On the deadline the
// stream's socket is closed: that is the one way to stop a composed Beast or TLS read at once,
// wherever it is.

boost::asio::awaitable<TalkResult> talk(boost::asio::ip::tcp::socket& stream, TalkOptions options);
boost::asio::awaitable<TalkResult> talk(
    boost::asio::ssl::stream<boost::asio::ip::tcp::socket>& stream, TalkOptions options);
boost::asio::awaitable<TalkResult> talk(
    boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>& stream, TalkOptions options);

// The close stage: half-closes our side (FIN) and reads, discarding up to `discard_limit`
// bytes, until the peer's FIN or RST or `wait`. For a TLS stream pass its TCP socket
// (next_layer()): what is watched is TCP's ending, not TLS's close_notify.
boost::asio::awaitable<CloseResult> observe_close(boost::asio::ip::tcp::socket& socket,
                                                  std::chrono::milliseconds wait,
                                                  std::size_t discard_limit = 1 << 20);

}  // namespace connscope::probe
