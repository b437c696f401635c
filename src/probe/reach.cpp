#include "probe/reach.h"

#include "core/error_text.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <random>
#include <tuple>
#include <variant>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/generic/raw_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/endpoint.h"
#include "probe/socket_ops.h"

namespace connscope::probe {

namespace {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// Messages read per wake-up and queue: bounds the work a flood of foreign ICMP can cause.
constexpr int kMaxReadsPerWake = 256;
// The largest payload we send: an IPv4 datagram holds at most 65535 bytes, headers included.
constexpr std::size_t kMaxPayload = 65000;


// The TTL (IP_TTL) or hop limit (IPV6_HOPLIMIT) in a recvmsg control buffer.
std::optional<int> ttl_from_control(std::span<const std::byte> control) {
  const auto found = find_control_message(control, {SOL_IP, IP_TTL}, {SOL_IPV6, IPV6_HOPLIMIT});
  if (!found || !*found || (*found)->size() < sizeof(int)) return std::nullopt;
  int v = 0;
  std::memcpy(&v, (*found)->data(), sizeof v);
  return v;
}

std::chrono::microseconds since(Clock::time_point start, Clock::time_point now) {
  return std::chrono::duration_cast<std::chrono::microseconds>(now - start);
}

}  // namespace

std::string_view reach_outcome_name(ReachOutcome outcome) {
  switch (outcome) {
    case ReachOutcome::replied: return "replied";
    case ReachOutcome::partial_loss: return "partial_loss";
    case ReachOutcome::no_reply: return "no_reply";
    case ReachOutcome::unreachable: return "unreachable";
    case ReachOutcome::prohibited: return "prohibited";
    case ReachOutcome::unavailable: return "unavailable";
    case ReachOutcome::send_failed: return "send_failed";
    case ReachOutcome::error: return "error";
  }
  return "error";
}

std::optional<std::string_view> reach_finding_id(ReachOutcome outcome) {
  switch (outcome) {
    case ReachOutcome::partial_loss: return "path.loss";
    case ReachOutcome::unreachable: return "net.host_unreachable";
    case ReachOutcome::prohibited: return "net.admin_prohibited";
    case ReachOutcome::replied:
    case ReachOutcome::no_reply:
    case ReachOutcome::unavailable:
    case ReachOutcome::send_failed:
    case ReachOutcome::error: return std::nullopt;
  }
  return std::nullopt;
}

std::string_view probe_status_name(ProbeStatus status) {
  switch (status) {
    case ProbeStatus::replied: return "replied";
    case ProbeStatus::icmp_error: return "icmp_error";
    case ProbeStatus::timed_out: return "timed_out";
    case ProbeStatus::send_failed: return "send_failed";
    case ProbeStatus::not_sent: return "not_sent";
  }
  return "not_sent";
}


ReachStats reach_stats(std::span<const ProbeResult> probes) {
  ReachStats s;
  std::int64_t total = 0;
  for (const auto& p : probes) {
    if (p.status == ProbeStatus::send_failed || p.status == ProbeStatus::not_sent) continue;
    ++s.sent;
    if (p.status != ProbeStatus::replied || !p.rtt) continue;
    ++s.received;
    total += p.rtt->count();
    if (!s.rtt_min || *p.rtt < *s.rtt_min) s.rtt_min = *p.rtt;
    if (!s.rtt_max || *p.rtt > *s.rtt_max) s.rtt_max = *p.rtt;
  }
  if (s.sent > 0) {
    s.loss_percent = 100.0 * static_cast<double>(s.sent - s.received) / static_cast<double>(s.sent);
  }
  if (s.received > 0) s.rtt_avg = std::chrono::microseconds(total / s.received);
  return s;
}

ReachOutcome classify_reach(std::span<const ProbeResult> probes) {
  const ReachStats s = reach_stats(probes);
  if (s.sent > 0 && s.received == s.sent) return ReachOutcome::replied;
  if (s.received > 0) return ReachOutcome::partial_loss;
  for (const auto& p : probes) {
    if (p.status != ProbeStatus::icmp_error || !p.error) continue;
    const auto failure = classify_icmp(p.error->origin, p.error->type, p.error->code);
    if (!failure) continue;  // e.g. frag-needed: says nothing about reachability
    return *failure == ConnectFailure::admin_prohibited ? ReachOutcome::prohibited
                                                        : ReachOutcome::unreachable;
  }
  const bool any_send_failed = std::any_of(probes.begin(), probes.end(), [](const ProbeResult& p) {
    return p.status == ProbeStatus::send_failed;
  });
  if (s.sent == 0 && any_send_failed) return ReachOutcome::send_failed;
  return ReachOutcome::no_reply;
}


// ---- the stage ----

namespace {

// The family of a numeric destination and its canonical text (as inet_ntop prints the
// replies' sender); nullopt when it is not one.
std::optional<std::pair<int, std::string>> numeric_destination(const std::string& text) {
  for (const int family : {AF_INET, AF_INET6}) {
    std::array<unsigned char, 16> raw{};
    if (::inet_pton(family, text.c_str(), raw.data()) == 1) {
      return std::pair{family, address_text(family, raw.data())};
    }
  }
  return std::nullopt;
}

bool options_in_range(const ReachOptions& o) {
  return o.count >= 1 && o.count <= 1000 && o.payload_size <= kMaxPayload &&
         o.probe_timeout > std::chrono::milliseconds::zero() &&
         o.deadline > std::chrono::milliseconds::zero() &&
         o.interval >= std::chrono::milliseconds::zero();
}

// The requests of one run on their schedule and the replies and errors read as they come, once
// the socket is set up. Lives in reach()'s coroutine frame; used only on its executor's thread.
class Pinger {
 public:
  Pinger(asio::any_io_executor ex, const ReachOptions& o, ReachResult& r, EchoMatcher matcher,
         Clock::time_point start)
      : o_(o), r_(r), m_(std::move(matcher)), start_(start), deadline_(start + o.deadline),
        sock_(ex), timer_(ex) {
    to_len_ = Endpoint{m_.family, m_.destination, 0}.to_sockaddr(to_);
    const auto count = static_cast<std::size_t>(o_.count);
    r_.probes.resize(count);
    sent_time_.resize(count);
    wait_until_.resize(count);
    for (std::size_t i = 0; i < count; ++i) r_.probes[i].sequence = static_cast<std::uint16_t>(i + 1);
  }

  // Asio only watches readiness: sendto / recvmsg are called directly (Asio has no error-queue
  // or control-message reads). The protocol is a label.
  std::optional<Error> watch(sys::UniqueFd fd) {
    boost::system::error_code ec;
    const int proto = m_.family == AF_INET ? int{IPPROTO_ICMP} : int{IPPROTO_ICMPV6};
    sock_.assign(asio::generic::raw_protocol(m_.family, proto), fd.release(), ec);
    if (ec) return error_text("ICMP", Msg::err_icmp_watch, {}, ec.value());
    return std::nullopt;
  }

  // Sends every request and waits for the answers; an error only when waiting failed.
  asio::awaitable<std::optional<Error>> run() {
    for (;;) {
      auto now = Clock::now();
      send_due(now);
      const auto wake = next_wake(now);
      if (!wake) break;
      timer_.expires_at(*wake);
      auto woke = co_await (sock_.async_wait(asio::socket_base::wait_read, kTuple) ||
                            timer_.async_wait(kTuple));
      if (woke.index() == 0) {
        const auto [wait_ec] = std::get<0>(woke);
        if (wait_ec) co_return error_text("ICMP", Msg::err_icmp_wait, {}, wait_ec.value());
        if (m_.method == ReachMethod::ping_socket) read_error_queue_of_socket();
        read_packets();
      }
    }
    co_return std::nullopt;
  }

  const std::optional<Error>& first_send_error() const { return first_send_error_; }

 private:
  Clock::time_point send_at(std::size_t i) const { return start_ + o_.interval * static_cast<int>(i); }
  std::size_t count() const { return r_.probes.size(); }

  // Sends every request whose time has come.
  void send_due(Clock::time_point& now) {
    while (next_ < count() && now >= send_at(next_) && now < deadline_) {
      ProbeResult& p = r_.probes[next_];
      const auto packet = build_echo_request(m_.family, m_.identifier, p.sequence, m_.payload);
      sent_time_[next_] = Clock::now();
      p.sent_at = since(start_, sent_time_[next_]);
      const ssize_t n = ::sendto(sock_.native_handle(), packet.data(), packet.size(), 0,
                                 reinterpret_cast<const sockaddr*>(&to_), to_len_);
      if (n < 0) {
        p.status = ProbeStatus::send_failed;
        p.send_error = errno;
        if (!first_send_error_) first_send_error_ = Error{"sendto " + m_.destination, errno, {}};
      } else {
        p.status = ProbeStatus::timed_out;  // until a reply or an error says otherwise
        wait_until_[next_] = std::min(sent_time_[next_] + o_.probe_timeout, deadline_);
      }
      ++next_;
      now = Clock::now();
    }
  }

  // Ends the waits that are past their time; when to wake next, nullopt when the run is over.
  std::optional<Clock::time_point> next_wake(Clock::time_point now) {
    bool waiting = false;
    auto wake = deadline_;
    for (std::size_t i = 0; i < next_; ++i) {
      if (!wait_until_[i]) continue;
      if (*wait_until_[i] <= now) {
        wait_until_[i].reset();  // its status stays timed_out
        continue;
      }
      waiting = true;
      wake = std::min(wake, *wait_until_[i]);
    }
    if (next_ == count() && !waiting) return std::nullopt;
    if (now >= deadline_) return std::nullopt;
    if (next_ < count()) wake = std::min(wake, send_at(next_));
    return wake;
  }

  void handle(const Received& rec, Clock::time_point now) {
    if (rec.kind == Received::Kind::foreign) return;
    if (rec.sequence < 1 || rec.sequence > count()) return;
    const std::size_t i = rec.sequence - 1u;
    ProbeResult& p = r_.probes[i];
    if (p.status == ProbeStatus::not_sent || p.status == ProbeStatus::send_failed) return;
    if (rec.kind == Received::Kind::echo_reply) {
      if (p.status == ProbeStatus::replied) {
        ++p.duplicates;
        return;
      }
      if (!wait_until_[i]) return;  // late: already counted as lost
      p.status = ProbeStatus::replied;
      p.rtt = std::chrono::duration_cast<std::chrono::microseconds>(now - sent_time_[i]);
      p.ttl = rec.ttl;
      p.reply_from = rec.from;
      wait_until_[i].reset();
      return;
    }
    r_.errors.push_back(rec.error);
    if (wait_until_[i]) {
      p.status = ProbeStatus::icmp_error;
      p.error = rec.error;
      wait_until_[i].reset();
    }
  }

  // A ping socket's errors wait on its error queue, each with our request back.
  void read_error_queue_of_socket() {
    for (int n = 0; n < kMaxReadsPerWake; ++n) {
      auto d = read_error_queue(sock_.native_handle());
      if (!d) break;  // empty
      const auto now = Clock::now();
      if (!d->error) continue;
      handle(match_queued_error(m_, *d->error, d->original), now);
    }
  }

  void read_packets() {
    for (int n = 0; n < kMaxReadsPerWake; ++n) {
      iovec iov{data_.data(), data_.size()};
      sockaddr_storage from{};
      msghdr msg{};
      msg.msg_name = &from;
      msg.msg_namelen = sizeof from;
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control_.data();
      msg.msg_controllen = control_.size();
      const ssize_t got = ::recvmsg(sock_.native_handle(), &msg, MSG_DONTWAIT);
      if (got < 0) {
        const int err = errno;
        if (err == EAGAIN || err == EWOULDBLOCK) break;
        // A ping socket also reports a queued ICMP error once as the receive's errno; the
        // error queue already said which. Read on.
        continue;
      }
      if ((msg.msg_flags & MSG_TRUNC) != 0) continue;
      const auto now = Clock::now();
      const auto packet = std::span<const std::byte>(data_.data(), static_cast<std::size_t>(got));
      const auto ttl = ttl_from_control(std::span<const std::byte>(control_.data(), msg.msg_controllen));
      handle(match_packet(m_, packet, sockaddr_text(from), ttl), now);
    }
  }

  const ReachOptions& o_;
  ReachResult& r_;
  EchoMatcher m_;
  Clock::time_point start_;
  Clock::time_point deadline_;
  asio::generic::raw_protocol::socket sock_;
  asio::steady_timer timer_;
  sockaddr_storage to_{};
  socklen_t to_len_ = 0;
  std::vector<Clock::time_point> sent_time_;
  std::vector<std::optional<Clock::time_point>> wait_until_;  // set while waiting
  std::size_t next_ = 0;                                      // the next request to send
  std::optional<Error> first_send_error_;
  // A reply echoes our payload behind an IP header (raw IPv4); an ICMP error quotes at most
  // 576 (IPv4) or 1280 (IPv6) bytes. Anything longer is not ours and is dropped as truncated.
  std::vector<std::byte> data_ = std::vector<std::byte>(kIcmpHeaderSize + kMaxPayload + 1500);
  std::array<std::byte, 512> control_{};
};

}  // namespace

asio::awaitable<ReachResult> reach(asio::any_io_executor ex, ReachOptions o) {
  const auto start = Clock::now();
  ReachResult r;
  r.destination = o.destination;
  auto finish = [&](ReachOutcome outcome) {
    r.outcome = outcome;
    r.duration = since(start, Clock::now());
    return std::move(r);
  };
  auto failed = [&](Error reason) {
    r.reason = std::move(reason);
    return finish(ReachOutcome::error);
  };

  const auto destination = numeric_destination(o.destination);
  if (!destination) {
    co_return failed(error_text("ICMP echo to " + o.destination, Msg::err_not_numeric_destination));
  }
  r.family = destination->first;
  if (!options_in_range(o)) {
    co_return failed(error_text("ICMP echo to " + o.destination, Msg::err_reach_options));

  }

  EchoSocket s = open_echo_socket(r.family, open_socket_nonblocking);
  r.method = s.method;
  r.ping_socket_error = s.ping_error;
  r.raw_socket_error = s.raw_error;
  if (s.ping_error != 0) {
    // Evidence for why the unprivileged way was refused.
    auto evidence = ping_group_evidence();
    r.ping_group_range = evidence.range;
    r.groups = std::move(evidence.groups);
  }
  if (s.method == ReachMethod::unavailable) {
    r.reason = unavailable_reason(o.destination, r.family, s.ping_error, s.raw_error,
                                  r.ping_group_range, r.groups);
    co_return finish(ReachOutcome::unavailable);
  }

  std::random_device rng;
  auto identifier = prepare_echo_socket(s, r.family, o.source, /*with_ttl=*/true,
                                        static_cast<std::uint16_t>(rng() & 0xFFFFu));
  if (!identifier) co_return failed(identifier.error());
  r.identifier = *identifier;

  EchoMatcher matcher;
  matcher.family = r.family;
  matcher.method = s.method;
  matcher.identifier = r.identifier;
  matcher.destination = destination->second;
  matcher.payload = echo_payload((std::uint64_t{rng()} << 32) | rng(), o.payload_size);

  Pinger pinger(ex, o, r, std::move(matcher), start);
  if (auto e = pinger.watch(std::move(s.fd))) co_return failed(std::move(*e));
  if (auto e = co_await pinger.run()) co_return failed(std::move(*e));

  r.stats = reach_stats(r.probes);
  const auto outcome = classify_reach(r.probes);
  if (outcome == ReachOutcome::send_failed) r.reason = pinger.first_send_error();
  co_return finish(outcome);
}

}  // namespace connscope::probe
