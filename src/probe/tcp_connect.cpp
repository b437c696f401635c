#include "probe/tcp_connect.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <exception>
#include <memory>
#include <span>
#include <tuple>
#include <utility>
#include <variant>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "probe/tcp_info.h"

#include "probe/socket_ops.h"

namespace connscope::probe {

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);


std::chrono::microseconds since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
}

// inet_pton into a sockaddr of `family`; false when the text is not such an address.
bool to_sockaddr(int family, const std::string& address, std::uint16_t port,
                 sockaddr_storage& out, socklen_t& len) {
  out = {};
  if (family == AF_INET) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    if (::inet_pton(AF_INET, address.c_str(), &sin.sin_addr) != 1) return false;
    std::memcpy(&out, &sin, sizeof sin);
    len = sizeof sin;
    return true;
  }
  if (family == AF_INET6) {
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(port);
    if (::inet_pton(AF_INET6, address.c_str(), &sin6.sin6_addr) != 1) return false;
    std::memcpy(&out, &sin6, sizeof sin6);
    len = sizeof sin6;
    return true;
  }
  return false;
}

std::optional<Endpoint> local_endpoint(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return std::nullopt;
  Endpoint ep = endpoint_from_sockaddr(reinterpret_cast<const sockaddr*>(&ss));
  if (ep.port == 0) return std::nullopt;  // no port chosen: connect() never got that far
  return ep;
}

void fail_setup(ConnectAttempt& a, std::string op, int error) {
  a.failure = ConnectFailure::other;
  a.error = error;
  a.failed_op = std::move(op);
}

}  // namespace

StageStatus connect_status(std::span<const ConnectAttempt> attempts) {
  if (attempts.empty() || !attempts.back().connected()) return StageStatus::fail;
  const bool some_failed = std::any_of(attempts.begin(), attempts.end(),
                                       [](const ConnectAttempt& a) { return !a.connected(); });
  if (some_failed || attempts.back().syn_retransmits.value_or(0) > 0) return StageStatus::warn;
  return StageStatus::ok;
}

asio::awaitable<ConnectOutcome> connect_one(asio::any_io_executor ex, Endpoint remote,
                                            ConnectOptions options) {
  ConnectOutcome out;
  ConnectAttempt& a = out.attempt;
  a.remote = remote;

  sockaddr_storage peer{};
  socklen_t peer_len = 0;
  if (!to_sockaddr(remote.family, remote.address, remote.port, peer, peer_len)) {
    fail_setup(a, "connect " + remote.to_string(), EINVAL);
    co_return out;
  }
  const bool v6 = remote.family == AF_INET6;

  tcp::socket sock(ex);
  boost::system::error_code ec;
  sock.open(v6 ? tcp::v6() : tcp::v4(), ec);
  if (ec) {
    fail_setup(a, "socket", ec.value());
    co_return out;
  }
  // connect() below is called directly (asio's would report an immediate EADDRNOTAVAIL and a
  // later failure alike, and give no chance to read the local port in between): nonblocking.
  sock.non_blocking(true, ec);
  if (ec) {
    fail_setup(a, "fcntl O_NONBLOCK", ec.value());
    co_return out;
  }
  const int fd = sock.native_handle();

  // Before connect(): the kernel queues an ICMP error only if this is already set.
  if (int e = set_recverr(fd, remote.family)) {
    fail_setup(a, recverr_option_name(remote.family), e);
    co_return out;
  }
  if (options.maxseg) {
    if (int e = set_int_option(fd, IPPROTO_TCP, TCP_MAXSEG, *options.maxseg)) {
      fail_setup(a, "setsockopt TCP_MAXSEG " + std::to_string(*options.maxseg), e);
      co_return out;
    }
  }
  if (options.source) {
    sockaddr_storage src{};
    socklen_t src_len = 0;
    const std::string op = "bind " + *options.source;
    if (!to_sockaddr(remote.family, *options.source, 0, src, src_len)) {
      fail_setup(a, op, EINVAL);  // not a numeric address of the target's family
      co_return out;
    }
    // Without it bind() takes an ephemeral port for every destination at once and runs out
    // sooner than connect() would.
    if (int e = set_int_option(fd, SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)) {
      fail_setup(a, "setsockopt IP_BIND_ADDRESS_NO_PORT", e);
      co_return out;
    }
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&src), src_len) != 0) {
      fail_setup(a, op, errno);
      co_return out;
    }
  }

  const Clock::time_point start = Clock::now();
  const Clock::time_point deadline = start + options.timeout;
  const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&peer), peer_len);
  const int connect_errno = rc == 0 ? 0 : errno;
  // EINTR: the nonblocking connect carries on in the kernel, as with EINPROGRESS.
  if (rc != 0 && connect_errno != EINPROGRESS && connect_errno != EINTR) {
    // Failed before a SYN left: no local port (EADDRNOTAVAIL), no route, local firewall.
    a.elapsed = since(start);
    a.error = connect_errno;
    a.failed_op = "connect";
    a.queued = drain_error_queue(fd);
    a.failure = classify_connect_error(connect_errno, a.queued);
    co_return out;
  }
  a.local = local_endpoint(fd);

  int error = 0;
  bool established = rc == 0;
  asio::steady_timer timer(ex);
  timer.expires_at(deadline);
  while (!established && error == 0 && !a.timed_out) {
    auto woke = co_await (sock.async_wait(tcp::socket::wait_write, kTuple) ||
                          timer.async_wait(kTuple));
    if (woke.index() == 1) {
      const auto [tec] = std::get<1>(woke);
      if (tec == asio::error::operation_aborted) {
        error = ECANCELED;  // the caller cancelled the whole operation
        break;
      }
      a.timed_out = true;
      break;
    }
    const auto [wec] = std::get<0>(woke);
    if (wec) {
      error = wec == asio::error::operation_aborted ? ECANCELED : wec.value();
      break;
    }
    error = socket_error(fd);
    if (error != 0) break;
    const auto info = read_tcp_info(fd);
    // CLOSE_WAIT: the handshake completed and the server has already sent its FIN (a "too
    // busy" line and a close, say); that is for the talk stage to judge, not a failed connect.
    if (info && (info->state == TCP_ESTABLISHED || info->state == TCP_CLOSE_WAIT)) {
      established = true;
      break;
    }
    // Still SYN_SENT: woken by an error queued while the handshake goes on (the kernel held the
    // socket's lock when the ICMP came, so it kept it as a soft error), or by the queueing just
    // before the connect's own end. Wait for the next event or the deadline.
    if (info && info->state != TCP_SYN_SENT) {
      error = EPROTO;  // closed without an error: not something a handshake does
      break;
    }
  }
  a.elapsed = since(start);

  const auto info = read_tcp_info(fd);
  if (info) a.syn_retransmits = info->total_retrans;
  a.queued = drain_error_queue(fd);

  if (established) {
    a.failure = ConnectFailure::none;
    if (info) {
      a.rtt = std::chrono::microseconds(info->rtt_us);
      a.snd_mss = info->snd_mss;
    }
    a.local = local_endpoint(fd);
    // From here on an ICMP error should be what it is for any TCP connection: a soft error that
    // only counts when the connection times out. Turning RECVERR off also empties the queue.
    set_recverr(fd, remote.family, false);
    sock.non_blocking(false, ec);
    out.socket.emplace(std::move(sock));
    co_return out;
  }
  if (a.timed_out) {
    // Silence, unless an ICMP error was kept as a soft one while the SYNs went on.
    a.failure = classify_connect_error(ETIMEDOUT, a.queued);
    co_return out;
  }
  a.error = error;
  if (error == ECONNRESET && !a.queued) {
    // A RST answering the SYN is ECONNREFUSED; ECONNRESET means the handshake completed and the
    // server reset the connection before we saw it established (a server that resets right
    // after accept()). The handshake itself worked.
    a.failure = ConnectFailure::none;
    a.reset_after_handshake = true;
    co_return out;
  }
  a.failed_op = "connect";
  a.failure = classify_connect_error(error, a.queued);
  co_return out;
}

namespace {

// Up to this many handshakes at once (the doctor's kMaxAddresses): more are tried in batches.
constexpr std::size_t kParallelConnects = 16;

// One batch of connect_one, all at once; the outcomes in the order of `remotes`. A parallel
// group, not detached coroutines: cancelling the caller (the agent stopping a probe) cancels
// every handshake of the batch.
asio::awaitable<std::vector<ConnectOutcome>> connect_batch(asio::any_io_executor ex,
                                                           std::span<const Endpoint> remotes,
                                                           const ConnectOptions& options) {
  using Op = decltype(asio::co_spawn(ex, connect_one(ex, Endpoint{}, options), asio::deferred));
  std::vector<Op> ops;
  ops.reserve(remotes.size());
  for (const auto& remote : remotes) ops.push_back(asio::co_spawn(ex, connect_one(ex, remote, options), asio::deferred));
  auto [order, errors, outcomes] = co_await asio::experimental::make_parallel_group(std::move(ops))
                                       .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    // connect_one reports failures as results; only bad_alloc lands here.
    if (errors[i]) {
      outcomes[i] = ConnectOutcome{};
      outcomes[i].attempt.remote = remotes[i];
      outcomes[i].attempt.failed_op = "connect";
    }
  }
  co_return std::move(outcomes);
}

}  // namespace

asio::awaitable<ConnectReport> connect_all(asio::any_io_executor ex, std::vector<Endpoint> remotes,
                                           ConnectOptions options) {
  std::vector<ConnectOutcome> outcomes;
  for (std::size_t at = 0; at < remotes.size(); at += kParallelConnects) {
    const std::size_t n = std::min(kParallelConnects, remotes.size() - at);
    auto batch = co_await connect_batch(ex, std::span(remotes).subspan(at, n), options);
    for (auto& o : batch) outcomes.push_back(std::move(o));
  }
  // The stages after connect use the first address, in the resolver's order, that connected: as
  // a client without Happy Eyeballs would. Its attempt goes last; the other sockets close.
  ConnectReport report;
  std::optional<std::size_t> chosen;
  for (std::size_t i = 0; i < outcomes.size() && !chosen; ++i) {
    if (outcomes[i].socket) chosen = i;
  }
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    if (i != chosen) report.attempts.push_back(std::move(outcomes[i].attempt));
  }
  if (chosen) {
    report.attempts.push_back(std::move(outcomes[*chosen].attempt));
    report.socket = std::move(outcomes[*chosen].socket);
  }
  co_return report;
}

}  // namespace connscope::probe
