#include "probe/trace.h"

#include <ares.h>
#include <arpa/inet.h>
#include <linux/icmp.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <tuple>
#include <utility>
#include <variant>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <netinet/tcp.h>

#include "probe/route.h"
#include "probe/tcp_info.h"
#include "sys/sysctl.h"
#include "sys/unique_fd.h"

#include "probe/socket_ops.h"

namespace connscope::probe {

namespace {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using std::chrono::microseconds;
using std::chrono::milliseconds;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

constexpr std::uint8_t kIcmpDestUnreach = 3;
constexpr std::uint8_t kIcmpTimeExceeded = 11;
constexpr std::uint8_t kIcmpPortUnreach = 3;
constexpr std::uint8_t kIcmpFragNeeded = 4;
constexpr std::uint8_t kIcmp6DestUnreach = 1;
constexpr std::uint8_t kIcmp6PacketTooBig = 2;
constexpr std::uint8_t kIcmp6TimeExceeded = 3;
constexpr std::uint8_t kIcmp6ParamProblem = 4;
constexpr std::uint8_t kIcmp6PortUnreach = 4;
constexpr std::uint8_t kIcmpEchoReply = 0;
constexpr std::uint8_t kIcmpParamProblem = 12;
constexpr std::uint8_t kIcmp6EchoReply = 129;

// The epoll tag of the shared ICMP socket and of the path-MTU socket (probe sockets use their
// index).
constexpr std::uint64_t kEchoTag = ~std::uint64_t{0};
constexpr std::uint64_t kMtuTag = ~std::uint64_t{0} - 1;
// Queued errors read per socket and wake-up: bounds the work a flood of ICMP can cause.
constexpr int kMaxReads = 64;
constexpr std::size_t kUdpProbePayload = 32;
constexpr std::size_t kEchoPayload = 32;
constexpr int kMaxMtuSteps = 12;

microseconds since(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration_cast<microseconds>(b - a);
}

// The canonical text of a numeric address of `family`, or empty when it is not one.
std::string canonical(int family, const std::string& text) {
  std::array<unsigned char, 16> raw{};
  if (::inet_pton(family, text.c_str(), raw.data()) != 1) return {};
  return address_text(family, raw.data());
}

int set_ttl(int fd, int family, int ttl) {
  return family == AF_INET ? set_int_option(fd, SOL_IP, IP_TTL, ttl)
                           : set_int_option(fd, SOL_IPV6, IPV6_UNICAST_HOPS, ttl);
}

// One recvmsg(MSG_ERRQUEUE): the decoded error and the bytes returned with it (for a ping
// socket: our echo request). nullopt when the queue is empty.
struct Dequeued {
  std::optional<QueuedError> error;
  std::vector<std::byte> original;
};
std::optional<Dequeued> read_error_queue(int fd) {
  for (int attempt = 0; attempt < 4; ++attempt) {
    alignas(cmsghdr) std::array<std::byte, 512> control{};
    std::array<std::byte, 2048> data{};
    iovec iov{data.data(), data.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    const ssize_t got = ::recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT);
    if (got < 0) {
      if (errno == EINTR) continue;
      return std::nullopt;
    }
    Dequeued out;
    auto decoded = decode_error_control(std::span<const std::byte>(control.data(), msg.msg_controllen));
    if (decoded && decoded->has_value()) out.error = std::move(**decoded);
    const auto n = std::min(static_cast<std::size_t>(got), data.size());
    out.original.assign(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n));
    return out;
  }
  return std::nullopt;
}

// The first decodable error of a socket's queue, emptying it.
std::optional<QueuedError> drain_first(int fd) {
  std::optional<QueuedError> first;
  for (int i = 0; i < kMaxReads; ++i) {
    auto d = read_error_queue(fd);
    if (!d) break;
    if (d->error && !first) first = std::move(d->error);
  }
  return first;
}

bool make_sockaddr(int family, const std::string& address, std::uint16_t port,
                   sockaddr_storage& out, socklen_t& len) {
  Endpoint ep{family, address, port};
  if (canonical(family, address).empty()) return false;
  len = ep.to_sockaddr(out);
  return true;
}

bool is_destination_reply(ProbeReply r) {
  return r == ProbeReply::syn_ack || r == ProbeReply::rst || r == ProbeReply::echo_reply ||
         r == ProbeReply::udp_reply;
}

bool answered(ProbeReply r) { return r != ProbeReply::timeout && r != ProbeReply::local_error; }

}  // namespace

// ---- names ----

std::string_view trace_mode_name(TraceMode mode) {
  switch (mode) {
    case TraceMode::tcp: return "tcp";
    case TraceMode::udp: return "udp";
    case TraceMode::icmp: return "icmp";
  }
  return "tcp";
}

std::string_view probe_reply_name(ProbeReply reply) {
  switch (reply) {
    case ProbeReply::time_exceeded: return "time_exceeded";
    case ProbeReply::unreachable: return "unreachable";
    case ProbeReply::port_unreachable: return "port_unreachable";
    case ProbeReply::syn_ack: return "syn_ack";
    case ProbeReply::rst: return "rst";
    case ProbeReply::echo_reply: return "echo_reply";
    case ProbeReply::udp_reply: return "udp_reply";
    case ProbeReply::local_error: return "local_error";
    case ProbeReply::timeout: return "timeout";
  }
  return "timeout";
}

std::string_view hop_loss_name(HopLoss loss) {
  switch (loss) {
    case HopLoss::none: return "none";
    case HopLoss::rate_limited: return "rate_limited";
    case HopLoss::path_loss: return "path_loss";
    case HopLoss::silent: return "silent";
    case HopLoss::no_answer: return "no_answer";
  }
  return "none";
}

std::string_view trace_verdict_name(TraceVerdict verdict) {
  switch (verdict) {
    case TraceVerdict::reached: return "reached";
    case TraceVerdict::stopped: return "stopped";
    case TraceVerdict::unreachable: return "unreachable";
    case TraceVerdict::error: return "error";
  }
  return "error";
}

std::string_view mtu_outcome_name(MtuOutcome outcome) {
  switch (outcome) {
    case MtuOutcome::confirmed: return "confirmed";
    case MtuOutcome::unconfirmed: return "unconfirmed";
    case MtuOutcome::error: return "error";
  }
  return "error";
}

int TraceResult::last_responding_hop() const {
  int last = 0;
  for (const auto& h : hops) {
    if (h.stats.received > 0) last = std::max(last, h.ttl);
  }
  return last;
}

std::optional<std::string> TraceResult::last_responder() const {
  const int last = last_responding_hop();
  for (const auto& h : hops) {
    if (h.ttl == last && !h.responders.empty()) return h.responders.front();
  }
  return std::nullopt;
}

// ---- pure parts ----

ProbeReply classify_icmp_reply(ErrOrigin origin, std::uint8_t type, std::uint8_t code) {
  if (origin == ErrOrigin::icmp) {
    if (type == kIcmpTimeExceeded) return ProbeReply::time_exceeded;
    if (type == kIcmpDestUnreach && code == kIcmpPortUnreach) return ProbeReply::port_unreachable;
    return ProbeReply::unreachable;
  }
  if (origin == ErrOrigin::icmp6) {
    if (type == kIcmp6TimeExceeded) return ProbeReply::time_exceeded;
    if (type == kIcmp6DestUnreach && code == kIcmp6PortUnreach) return ProbeReply::port_unreachable;
    return ProbeReply::unreachable;
  }
  return ProbeReply::local_error;
}

bool is_too_big(ErrOrigin origin, std::uint8_t type, std::uint8_t code) {
  if (origin == ErrOrigin::icmp) return type == kIcmpDestUnreach && code == kIcmpFragNeeded;
  if (origin == ErrOrigin::icmp6) return type == kIcmp6PacketTooBig;
  return false;
}

bool destination_answered(const TraceProbe& probe, const std::string& destination) {
  if (!probe.from || *probe.from != destination) return false;
  return is_destination_reply(probe.reply) || probe.reply == ProbeReply::port_unreachable ||
         probe.reply == ProbeReply::unreachable;
}

HopStats hop_stats(std::span<const TraceProbe> probes) {
  HopStats s;
  std::vector<double> rtts;
  for (const auto& p : probes) {
    ++s.sent;
    if (!answered(p.reply)) continue;
    ++s.received;
    if (p.rtt) {
      rtts.push_back(static_cast<double>(p.rtt->count()));
      s.last = *p.rtt;
      if (!s.best || *p.rtt < *s.best) s.best = *p.rtt;
      if (!s.worst || *p.rtt > *s.worst) s.worst = *p.rtt;
    }
  }
  if (s.sent > 0) {
    s.loss_percent = 100.0 * static_cast<double>(s.sent - s.received) / static_cast<double>(s.sent);
  }
  if (!rtts.empty()) {
    double sum = 0;
    for (double v : rtts) sum += v;
    const double mean = sum / static_cast<double>(rtts.size());
    double var = 0;
    for (double v : rtts) var += (v - mean) * (v - mean);
    var /= static_cast<double>(rtts.size());
    s.avg = microseconds(std::llround(mean));
    s.stdev = microseconds(std::llround(std::sqrt(var)));
  }
  return s;
}

std::vector<TraceHop> aggregate_hops(std::span<const TraceProbe> probes,
                                     const std::string& destination, int first_ttl,
                                     int last_ttl) {
  std::vector<TraceHop> hops;
  for (int ttl = first_ttl; ttl <= last_ttl; ++ttl) {
    TraceHop hop;
    hop.ttl = ttl;
    std::vector<std::pair<std::string, int>> counts;  // in order of first answer
    for (const auto& p : probes) {
      if (p.ttl != ttl) continue;
      hop.probes.push_back(p);
      if (destination_answered(p, destination)) hop.destination = true;
      if (!p.from || !answered(p.reply)) continue;
      auto it = std::find_if(counts.begin(), counts.end(),
                             [&](const auto& c) { return c.first == *p.from; });
      if (it == counts.end()) {
        counts.emplace_back(*p.from, 1);
      } else {
        ++it->second;
      }
    }
    std::stable_sort(counts.begin(), counts.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    for (auto& c : counts) hop.responders.push_back(std::move(c.first));
    hop.stats = hop_stats(hop.probes);
    hops.push_back(std::move(hop));
  }
  return hops;
}

void analyze_loss(std::span<TraceHop> hops) {
  for (std::size_t i = 0; i < hops.size(); ++i) {
    TraceHop& h = hops[i];
    if (h.stats.sent == 0 || h.stats.received == h.stats.sent) {
      h.loss = HopLoss::none;
      continue;
    }
    // The least loss at any later hop that was probed: what got through beyond this one.
    std::optional<double> later_min;
    bool later_answered = false;
    for (std::size_t j = i + 1; j < hops.size(); ++j) {
      if (hops[j].stats.sent == 0) continue;
      later_min = later_min ? std::min(*later_min, hops[j].stats.loss_percent)
                            : hops[j].stats.loss_percent;
      later_answered = later_answered || hops[j].stats.received > 0;
    }
    if (h.stats.received == 0) {
      h.loss = later_answered ? HopLoss::silent : HopLoss::no_answer;
      continue;
    }
    if (h.destination || !later_min) {
      h.loss = HopLoss::path_loss;
      continue;
    }
    h.loss = *later_min < h.stats.loss_percent ? HopLoss::rate_limited : HopLoss::path_loss;
  }
}

VerdictInfo decide_verdict(std::span<const TraceProbe> probes, const std::string& destination) {
  VerdictInfo v;
  // The hop where an address first answered with time exceeded: a router's place in the path.
  auto hop_of_router = [&](const std::string& address) -> std::optional<int> {
    std::optional<int> best;
    for (const auto& p : probes) {
      if (p.reply == ProbeReply::time_exceeded && p.from && *p.from == address) {
        best = best ? std::min(*best, p.ttl) : p.ttl;
      }
    }
    return best;
  };
  auto take = [&](const TraceProbe& p) {
    v.answer = p.reply;
    v.origin = p.origin;
    v.icmp_type = p.icmp_type;
    v.icmp_code = p.icmp_code;
    v.error = p.error;
    v.reporter = p.from;
  };

  // Reached: the lowest TTL the destination answered; its most telling answer (a handshake
  // over a reset over an ICMP error) when probes of that TTL differ.
  const TraceProbe* reached = nullptr;
  auto rank = [](ProbeReply r) {
    if (r == ProbeReply::syn_ack || r == ProbeReply::echo_reply || r == ProbeReply::udp_reply) return 0;
    if (r == ProbeReply::rst || r == ProbeReply::port_unreachable) return 1;
    return 2;
  };
  for (const auto& p : probes) {
    if (!destination_answered(p, destination)) continue;
    if (reached == nullptr || p.ttl < reached->ttl ||
        (p.ttl == reached->ttl && rank(p.reply) < rank(reached->reply))) {
      reached = &p;
    }
  }
  if (reached != nullptr) {
    v.verdict = TraceVerdict::reached;
    v.hop = reached->ttl;
    take(*reached);
    return v;
  }

  // A router said unreachable: the lowest TTL that got such an answer. A router that rejects
  // what it forwards answers the TTL that reaches it with time exceeded and the next with the
  // rejection, so its hop is where it answered time exceeded, when it did.
  const TraceProbe* unreach = nullptr;
  for (const auto& p : probes) {
    if (p.reply != ProbeReply::unreachable && p.reply != ProbeReply::port_unreachable) continue;
    if (unreach == nullptr || p.ttl < unreach->ttl) unreach = &p;
  }
  if (unreach != nullptr) {
    v.verdict = TraceVerdict::unreachable;
    take(*unreach);
    v.hop = unreach->ttl;
    if (unreach->from) {
      if (auto h = hop_of_router(*unreach->from)) v.hop = std::min(v.hop, *h);
    }
    return v;
  }

  const TraceProbe* last = nullptr;
  for (const auto& p : probes) {
    if (p.reply != ProbeReply::time_exceeded) continue;
    if (last == nullptr || p.ttl > last->ttl) last = &p;
  }
  if (last != nullptr) {
    v.verdict = TraceVerdict::stopped;
    v.hop = last->ttl;
    v.reporter = last->from;
    v.answer = ProbeReply::time_exceeded;
    return v;
  }

  // Nothing came back. When this host refused to send (no route, a local firewall), that is
  // the answer: unreachable, reported here (hop 0).
  for (const auto& p : probes) {
    if (p.reply == ProbeReply::local_error) {
      v.verdict = TraceVerdict::unreachable;
      v.hop = 0;
      take(p);
      v.reporter.reset();
      return v;
    }
  }
  v.verdict = TraceVerdict::stopped;
  v.hop = 0;
  return v;
}

std::vector<TraceHop> build_hops(std::span<const TraceProbe> probes, const VerdictInfo& verdict,
                                 const std::string& destination, int first_ttl, int max_ttl) {
  int last = max_ttl;
  if (verdict.verdict == TraceVerdict::reached) {
    last = verdict.hop;
  } else if (verdict.verdict == TraceVerdict::unreachable) {
    // Down to the TTL that got the rejection (which may be one past the rejecting router's hop).
    std::optional<int> rejected;
    for (const auto& p : probes) {
      if ((p.reply == ProbeReply::unreachable || p.reply == ProbeReply::port_unreachable) &&
          p.from == verdict.reporter) {
        rejected = rejected ? std::min(*rejected, p.ttl) : p.ttl;
      }
    }
    last = std::max({verdict.hop, rejected.value_or(0), first_ttl});
  } else if (verdict.verdict == TraceVerdict::stopped) {
    last = std::min(max_ttl, std::max(verdict.hop + 1, first_ttl));
  }
  last = std::min(last, max_ttl);
  auto hops = aggregate_hops(probes, destination, first_ttl, last);
  analyze_loss(hops);
  return hops;
}

std::optional<int> hop_of(std::span<const TraceHop> hops, const std::string& address) {
  for (const auto& h : hops) {
    if (std::find(h.responders.begin(), h.responders.end(), address) != h.responders.end()) {
      return h.ttl;
    }
  }
  return std::nullopt;
}

std::size_t udp_payload_for(int family, int packet_size) {
  const int headers = family == AF_INET6 ? 48 : 28;
  return packet_size <= headers ? 0 : static_cast<std::size_t>(packet_size - headers);
}

int next_mtu(int family, int size, std::uint32_t next_hop_mtu) {
  const int minimum = family == AF_INET6 ? 1280 : 68;
  if (next_hop_mtu >= static_cast<std::uint32_t>(minimum) &&
      next_hop_mtu < static_cast<std::uint32_t>(size)) {
    return static_cast<int>(next_hop_mtu);
  }
  // RFC 1191's plateau table, for routers that report no MTU.
  constexpr std::array<int, 11> kPlateaus{65535, 32000, 17914, 8166, 4352, 2002,
                                          1492,  1006,  508,   296,  68};
  for (int p : kPlateaus) {
    if (p < size) return std::max(p, minimum);
  }
  return minimum;
}

// ---- the tracer ----

namespace {

// One run of trace(): the probes sent and in flight, their sockets, the epoll set that watches
// them all, and the schedule. Lives in trace()'s coroutine frame; used only on its executor's
// thread.
class Tracer {
 public:
  Tracer(asio::any_io_executor ex, TraceOptions o, int family, std::string destination)
      : o_(std::move(o)), family_(family), dst_(std::move(destination)), epoll_(ex), timer_(ex) {}
  ~Tracer() { *alive_ = false; }
  Tracer(const Tracer&) = delete;
  Tracer& operator=(const Tracer&) = delete;

  asio::awaitable<TraceResult> run();

 private:
  struct Flight {
    sys::UniqueFd fd;  // tcp / udp: the probe's own socket
    Clock::time_point sent;
    Clock::time_point until;
    bool waiting = false;
  };

  Result<void> setup();
  Result<void> setup_echo();
  void send_probe(int ttl, int round);
  void finish(std::size_t i, ProbeReply reply, std::optional<std::string> from, Clock::time_point now);
  void handle(std::uint64_t tag, std::uint32_t events, Clock::time_point now);
  void handle_tcp(std::size_t i, Clock::time_point now);
  void handle_udp(std::size_t i, Clock::time_point now);
  void handle_echo(Clock::time_point now);
  void take_icmp(std::size_t i, const QueuedError& q, Clock::time_point now);
  // Waits until an event on any watched socket or `until`; returns the ready events.
  asio::awaitable<std::vector<epoll_event>> wait(Clock::time_point until);
  asio::awaitable<PathMtu> path_mtu(const std::vector<TraceHop>& hops);
  Result<void> watch(int fd, std::uint64_t tag, std::uint32_t events);

  TraceOptions o_;
  int family_;
  std::string dst_;  // canonical
  sockaddr_storage to_{};
  socklen_t to_len_ = 0;
  std::optional<sockaddr_storage> from_;
  socklen_t from_len_ = 0;
  asio::posix::stream_descriptor epoll_;  // owns the epoll fd
  asio::steady_timer timer_;
  Clock::time_point start_;
  Clock::time_point deadline_;

  std::vector<TraceProbe> probes_;
  std::vector<Flight> flights_;
  std::optional<int> dest_hop_;  // the lowest TTL the destination answered so far

  // icmp mode
  EchoSocket echo_;
  std::optional<EchoMatcher> matcher_;
  std::vector<std::int64_t> by_sequence_;  // sequence → probe index in flight, or -1
  std::uint16_t next_sequence_ = 0;

  std::uint64_t wait_gen_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // false once destroyed
  bool cancelled_ = false;  // the caller cancelled the coroutine
};

Result<void> Tracer::watch(int fd, std::uint64_t tag, std::uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = tag;
  if (::epoll_ctl(epoll_.native_handle(), EPOLL_CTL_ADD, fd, &ev) != 0) {
    return fail_errno("epoll_ctl ADD", errno);
  }
  return {};
}

Result<void> Tracer::setup() {
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) return fail_errno("epoll_create1", errno);
  boost::system::error_code ec;
  epoll_.assign(ep, ec);
  if (ec) {
    ::close(ep);
    return fail_errno("watch the epoll set", ec.value());
  }
  const std::uint16_t port = o_.mode == TraceMode::udp && o_.destination.port == 0
                                 ? kTraceUdpPort
                                 : o_.destination.port;
  make_sockaddr(family_, dst_, port, to_, to_len_);
  if (o_.source) {
    sockaddr_storage src{};
    socklen_t len = 0;
    if (!make_sockaddr(family_, *o_.source, 0, src, len)) {
      return fail("--source \"" + *o_.source + "\"", "not a numeric address of the destination's family");
    }
    from_ = src;
    from_len_ = len;
  }
  if (o_.mode == TraceMode::icmp) return setup_echo();
  return {};
}

Result<void> Tracer::setup_echo() {
  echo_ = open_echo_socket(family_, [](int domain, int type, int proto) {
    const int fd = ::socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
    return fd >= 0 ? fd : -errno;
  });
  if (echo_.method == ReachMethod::unavailable) {
    // The evidence for why the unprivileged way was refused: the setting and our groups.
    std::optional<std::pair<std::uint32_t, std::uint32_t>> range;
    if (auto text = sys::read_sysctl("net.ipv4.ping_group_range")) range = parse_ping_group_range(*text);
    std::vector<std::uint32_t> groups{static_cast<std::uint32_t>(::getegid())};
    std::array<gid_t, 64> more{};
    const int n = ::getgroups(static_cast<int>(more.size()), more.data());
    for (int k = 0; k < n; ++k) {
      const auto g = static_cast<std::uint32_t>(more[static_cast<std::size_t>(k)]);
      if (std::find(groups.begin(), groups.end(), g) == groups.end()) groups.push_back(g);
    }
    return std::unexpected(unavailable_reason(dst_, family_, echo_.ping_error, echo_.raw_error, range, groups));
  }
  const int fd = echo_.fd.get();
  const bool ping = echo_.method == ReachMethod::ping_socket;
  if (ping) {
    if (int e = set_recverr(fd, family_)) {
      return fail_errno(recverr_option_name(family_), e);
    }
  } else if (family_ == AF_INET) {
    // A set bit blocks that type: echo replies and the errors about our requests pass.
    icmp_filter filter{};
    filter.data = ~((1u << kIcmpEchoReply) | (1u << kIcmpDestUnreach) |
                    (1u << kIcmpTimeExceeded) | (1u << kIcmpParamProblem));
    if (::setsockopt(fd, SOL_RAW, ICMP_FILTER, &filter, sizeof filter) != 0) {
      return fail_errno("setsockopt ICMP_FILTER", errno);
    }
  } else {
    icmp6_filter filter{};
    std::memset(&filter, 0xFF, sizeof filter);
    for (const std::uint8_t t : {kIcmp6EchoReply, kIcmp6DestUnreach, kIcmp6PacketTooBig,
                                 kIcmp6TimeExceeded, kIcmp6ParamProblem}) {
      filter.icmp6_filt[t >> 5] &= ~(1u << (t & 31u));
    }
    if (::setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter) != 0) {
      return fail_errno("setsockopt ICMP6_FILTER", errno);
    }
  }
  std::random_device rng;
  std::uint16_t identifier = static_cast<std::uint16_t>(rng() & 0xFFFFu);
  if (ping || from_) {
    sockaddr_storage local{};
    socklen_t len = 0;
    if (from_) {
      local = *from_;
      len = from_len_;
    } else {
      local.ss_family = static_cast<sa_family_t>(family_);
      len = family_ == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
    }
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&local), len) != 0) {
      return fail_errno("bind " + o_.source.value_or(family_ == AF_INET ? "0.0.0.0" : "::"), errno);
    }
  }
  if (ping) {
    // The kernel owns a ping socket's identifier: its "port" once bound.
    sockaddr_storage bound{};
    socklen_t len = sizeof bound;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len) != 0) {
      return fail_errno("getsockname", errno);
    }
    identifier = endpoint_from_sockaddr(reinterpret_cast<const sockaddr*>(&bound)).port;
  }
  EchoMatcher m;
  m.family = family_;
  m.method = echo_.method;
  m.identifier = identifier;
  m.destination = dst_;
  m.payload = echo_payload((std::uint64_t{rng()} << 32) | rng(), kEchoPayload);
  matcher_ = std::move(m);
  by_sequence_.assign(65536, -1);
  return watch(fd, kEchoTag, EPOLLIN);
}

void Tracer::finish(std::size_t i, ProbeReply reply, std::optional<std::string> from,
                    Clock::time_point now) {
  Flight& f = flights_[i];
  if (!f.waiting) return;
  f.waiting = false;
  f.fd.reset();  // closing also takes it out of the epoll set
  TraceProbe& p = probes_[i];
  p.reply = reply;
  p.from = std::move(from);
  if (answered(reply)) p.rtt = since(f.sent, now);
  if (destination_answered(p, dst_)) {
    dest_hop_ = dest_hop_ ? std::min(*dest_hop_, p.ttl) : p.ttl;
  }
}

void Tracer::take_icmp(std::size_t i, const QueuedError& q, Clock::time_point now) {
  TraceProbe& p = probes_[i];
  p.origin = q.origin;
  p.icmp_type = q.type;
  p.icmp_code = q.code;
  p.error = q.error;
  if (q.origin == ErrOrigin::icmp || q.origin == ErrOrigin::icmp6) {
    finish(i, classify_icmp_reply(q.origin, q.type, q.code), q.offender, now);
  } else {
    finish(i, ProbeReply::local_error, std::nullopt, now);
  }
}

void Tracer::send_probe(int ttl, int round) {
  const std::size_t i = probes_.size();
  TraceProbe p;
  p.ttl = ttl;
  p.round = round;
  probes_.push_back(p);
  flights_.emplace_back();
  Flight& f = flights_.back();
  auto local_failure = [&](int error) {
    probes_[i].reply = ProbeReply::local_error;
    probes_[i].error = error;
    f.fd.reset();
  };

  if (o_.mode == TraceMode::icmp) {
    const int fd = echo_.fd.get();
    const auto sequence = next_sequence_++;
    if (int e = set_ttl(fd, family_, ttl)) return local_failure(e);
    const auto packet = build_echo_request(family_, matcher_->identifier, sequence, matcher_->payload);
    f.sent = Clock::now();
    if (::sendto(fd, packet.data(), packet.size(), 0, reinterpret_cast<const sockaddr*>(&to_),
                 to_len_) < 0) {
      return local_failure(errno);
    }
    // A sequence still in use after 65536 sends belongs to a probe long timed out.
    if (by_sequence_[sequence] >= 0) {
      const auto old = static_cast<std::size_t>(by_sequence_[sequence]);
      if (flights_[old].waiting) finish(old, ProbeReply::timeout, std::nullopt, f.sent);
    }
    by_sequence_[sequence] = static_cast<std::int64_t>(i);
    f.until = f.sent + o_.probe_timeout;
    f.waiting = true;
    return;
  }

  const bool tcp = o_.mode == TraceMode::tcp;
  const int fd = ::socket(family_, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return local_failure(errno);
  f.fd.reset(fd);
  // Before connect(): the kernel queues an ICMP error only when this is already set.
  if (int e = set_recverr(fd, family_)) return local_failure(e);
  if (int e = set_ttl(fd, family_, ttl)) return local_failure(e);
  if (tcp) {
    // Closing a connected probe sends a RST: no TIME_WAIT here, nothing left open there.
    const linger lg{1, 0};
    if (::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) != 0) return local_failure(errno);
  }
  if (from_) {
    if (tcp) set_int_option(fd, SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&*from_), from_len_) != 0) {
      return local_failure(errno);
    }
  }
  if (auto w = watch(fd, i, tcp ? (EPOLLOUT | EPOLLIN) : EPOLLIN); !w) return local_failure(w.error().code);
  f.sent = Clock::now();
  const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&to_), to_len_);
  const int err = rc == 0 ? 0 : errno;
  f.until = f.sent + o_.probe_timeout;
  f.waiting = true;
  if (tcp) {
    if (rc == 0) return finish(i, ProbeReply::syn_ack, dst_, Clock::now());
    if (err == EINPROGRESS || err == EINTR) return;
    // Refused before anything answered: no route, a local firewall; or a reset on loopback.
    if (auto q = drain_first(fd)) return take_icmp(i, *q, Clock::now());
    if (err == ECONNREFUSED) return finish(i, ProbeReply::rst, dst_, Clock::now());
    f.waiting = false;
    return local_failure(err);
  }
  if (rc != 0) {
    f.waiting = false;
    return local_failure(err);
  }
  const std::array<std::byte, kUdpProbePayload> payload{};
  if (::send(fd, payload.data(), payload.size(), 0) < 0) {
    const int e = errno;
    if (auto q = drain_first(fd)) return take_icmp(i, *q, Clock::now());
    f.waiting = false;
    return local_failure(e);
  }
}

void Tracer::handle_tcp(std::size_t i, Clock::time_point now) {
  const int fd = flights_[i].fd.get();
  if (auto q = drain_first(fd)) return take_icmp(i, *q, now);
  const int err = socket_error(fd);
  if (err == ECONNREFUSED) return finish(i, ProbeReply::rst, dst_, now);
  // The handshake completed and the server reset it before we looked: it answered.
  if (err == ECONNRESET) return finish(i, ProbeReply::syn_ack, dst_, now);
  if (err != 0) {
    probes_[i].error = err;
    return finish(i, ProbeReply::local_error, std::nullopt, now);
  }
  const auto info = read_tcp_info(fd);
  if (!info || info->state == TCP_SYN_SENT) return;  // still waiting
  if (info->state == TCP_CLOSE) {
    probes_[i].error = EPROTO;
    return finish(i, ProbeReply::local_error, std::nullopt, now);
  }
  finish(i, ProbeReply::syn_ack, dst_, now);
}

void Tracer::handle_udp(std::size_t i, Clock::time_point now) {
  const int fd = flights_[i].fd.get();
  if (auto q = drain_first(fd)) return take_icmp(i, *q, now);
  std::array<std::byte, 512> buf{};
  const ssize_t got = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
  if (got >= 0) return finish(i, ProbeReply::udp_reply, dst_, now);
  const int err = errno;
  if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR) return;
  probes_[i].error = err;
  finish(i, ProbeReply::local_error, std::nullopt, now);
}

void Tracer::handle_echo(Clock::time_point now) {
  const int fd = echo_.fd.get();
  auto probe_of = [&](std::uint16_t sequence) -> std::optional<std::size_t> {
    const auto idx = by_sequence_[sequence];
    if (idx < 0) return std::nullopt;
    return static_cast<std::size_t>(idx);
  };
  auto take = [&](const Received& rec) {
    if (rec.kind == Received::Kind::foreign) return;
    const auto i = probe_of(rec.sequence);
    if (!i || !flights_[*i].waiting) return;
    if (rec.kind == Received::Kind::echo_reply) return finish(*i, ProbeReply::echo_reply, rec.from, now);
    TraceProbe& p = probes_[*i];
    p.origin = rec.error.origin;
    p.icmp_type = rec.error.type;
    p.icmp_code = rec.error.code;
    std::optional<std::string> from;
    if (!rec.error.from.empty()) from = rec.error.from;
    finish(*i, classify_icmp_reply(rec.error.origin, rec.error.type, rec.error.code), from, now);
  };
  if (echo_.method == ReachMethod::ping_socket) {
    for (int n = 0; n < kMaxReads; ++n) {
      auto d = read_error_queue(fd);
      if (!d) break;
      if (!d->error) continue;
      take(match_queued_error(*matcher_, *d->error, d->original));
    }
  }
  std::vector<std::byte> data(4096);
  for (int n = 0; n < kMaxReads; ++n) {
    sockaddr_storage from{};
    iovec iov{data.data(), data.size()};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    const ssize_t got = ::recvmsg(fd, &msg, MSG_DONTWAIT);
    if (got < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      continue;  // a ping socket reports a queued error once as the receive's errno
    }
    if ((msg.msg_flags & MSG_TRUNC) != 0) continue;
    take(match_packet(*matcher_, std::span<const std::byte>(data.data(), static_cast<std::size_t>(got)),
                      sockaddr_text(from), std::nullopt));
  }
}

void Tracer::handle(std::uint64_t tag, std::uint32_t /*events*/, Clock::time_point now) {
  if (tag == kEchoTag) return handle_echo(now);
  if (tag >= flights_.size() || !flights_[tag].waiting) return;
  if (o_.mode == TraceMode::tcp) return handle_tcp(tag, now);
  handle_udp(tag, now);
}

asio::awaitable<std::vector<epoll_event>> Tracer::wait(Clock::time_point until) {
  std::vector<epoll_event> out;
  std::array<epoll_event, 64> events{};
  // Ready already: no need to sleep (level-triggered, so nothing is lost either way).
  int n = ::epoll_wait(epoll_.native_handle(), events.data(), static_cast<int>(events.size()), 0);
  if (n <= 0 && Clock::now() < until) {
    // The wait on the epoll set is started here, synchronously, so that an edge between the
    // check above and the wait cannot be lost (Asio watches descriptors edge-triggered); the
    // timer ends it by cancelling. A timer handler already queued when the wait ended must not
    // cancel a later wait: hence the generation.
    const std::uint64_t gen = ++wait_gen_;
    timer_.expires_at(until);
    timer_.async_wait([this, alive = alive_, gen](const boost::system::error_code& ec) {
      if (ec || !*alive || gen != wait_gen_) return;
      boost::system::error_code ignored;
      epoll_.cancel(ignored);
    });
    co_await epoll_.async_wait(asio::posix::descriptor_base::wait_read, kTuple);
    ++wait_gen_;
    timer_.cancel();
    const auto cs = co_await asio::this_coro::cancellation_state;
    if (cs.cancelled() != asio::cancellation_type::none) cancelled_ = true;
    n = ::epoll_wait(epoll_.native_handle(), events.data(), static_cast<int>(events.size()), 0);
  }
  for (int k = 0; k < n; ++k) out.push_back(events[static_cast<std::size_t>(k)]);
  co_return out;
}

asio::awaitable<TraceResult> Tracer::run() {
  start_ = Clock::now();
  TraceResult r;
  r.mode = o_.mode;
  r.destination = Endpoint{family_, dst_,
                           o_.mode == TraceMode::icmp ? std::uint16_t{0}
                           : o_.mode == TraceMode::udp && o_.destination.port == 0
                               ? kTraceUdpPort
                               : o_.destination.port};
  const int rounds = o_.probes * o_.cycles;
  const int hops = o_.max_hops - o_.first_ttl + 1;
  const auto schedule = (o_.send_gap * hops + o_.interval) * rounds + o_.probe_timeout +
                        (o_.path_mtu ? o_.probe_timeout * kMaxMtuSteps : milliseconds(0)) +
                        milliseconds(1000);
  deadline_ = start_ + o_.deadline.value_or(std::chrono::duration_cast<milliseconds>(schedule));

  if (auto s = setup(); !s) {
    r.verdict = TraceVerdict::error;
    r.error = s.error();
    r.icmp_method = echo_.method;
    r.duration = since(start_, Clock::now());
    co_return r;
  }
  r.icmp_method = echo_.method;

  int round = 0;
  int ttl = o_.first_ttl;
  Clock::time_point next_send = start_;
  for (;;) {
    auto now = Clock::now();
    // Send what is due.
    while (round < rounds && now >= next_send && now < deadline_) {
      const int top = dest_hop_ ? std::min(*dest_hop_, o_.max_hops) : o_.max_hops;
      if (ttl > top) {
        // The round is complete (the destination answered below the TTLs left).
        ++round;
        ttl = o_.first_ttl;
        next_send = now + o_.interval;
        if (o_.on_round) o_.on_round(round, rounds);
        continue;
      }
      send_probe(ttl, round);
      ++ttl;
      next_send = Clock::now() + o_.send_gap;
      now = Clock::now();
    }
    // Probes past their time are lost.
    bool waiting = false;
    Clock::time_point wake = deadline_;
    for (std::size_t i = 0; i < flights_.size(); ++i) {
      Flight& f = flights_[i];
      if (!f.waiting) continue;
      if (f.until <= now) {
        finish(i, ProbeReply::timeout, std::nullopt, now);
        continue;
      }
      waiting = true;
      wake = std::min(wake, f.until);
    }
    if (round >= rounds && !waiting) break;
    if (now >= deadline_ || cancelled_) break;
    if (round < rounds) wake = std::min(wake, next_send);
    const auto events = co_await wait(wake);
    const auto woke = Clock::now();
    for (const auto& ev : events) handle(ev.data.u64, ev.events, woke);
  }
  // The deadline cut the rest short: what was still in flight is lost.
  for (std::size_t i = 0; i < flights_.size(); ++i) {
    if (flights_[i].waiting) finish(i, ProbeReply::timeout, std::nullopt, Clock::now());
  }
  r.rounds = round;
  echo_.fd.reset();  // out of the epoll set: the path-MTU probes wait on it alone

  r.info = decide_verdict(probes_, dst_);
  r.verdict = r.info.verdict;
  r.hops = build_hops(probes_, r.info, dst_, o_.first_ttl, o_.max_hops);
  if (o_.path_mtu) r.path_mtu = co_await path_mtu(r.hops);
  r.duration = since(start_, Clock::now());
  co_return r;
}

asio::awaitable<PathMtu> Tracer::path_mtu(const std::vector<TraceHop>& hops) {
  PathMtu pm;
  auto failed = [&](std::string op, int error) {
    pm.outcome = MtuOutcome::error;
    pm.error = Error{std::move(op), error, {}};
    return pm;
  };
  sys::UniqueFd sock(::socket(family_, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!sock) co_return failed("socket", errno);
  const int fd = sock.get();
  const bool v4 = family_ == AF_INET;
  if (int e = set_recverr(fd, family_)) co_return failed(recverr_option_name(family_), e);
  // DF set, and the size we ask for is sent even above a path MTU the kernel learned before.
  if (int e = v4 ? set_int_option(fd, SOL_IP, IP_MTU_DISCOVER, IP_PMTUDISC_PROBE)
                 : set_int_option(fd, SOL_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_PROBE)) {
    co_return failed(v4 ? "setsockopt IP_MTU_DISCOVER" : "setsockopt IPV6_MTU_DISCOVER", e);
  }
  if (from_ && ::bind(fd, reinterpret_cast<const sockaddr*>(&*from_), from_len_) != 0) {
    co_return failed("bind " + *o_.source, errno);
  }
  sockaddr_storage to{};
  const socklen_t to_len = Endpoint{family_, dst_, o_.mtu_port}.to_sockaddr(to);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), to_len) != 0) co_return failed("connect", errno);

  // Start at the interface's MTU: the route's may already hold a path MTU learned earlier,
  // and the point is to find who reports it.
  RouteQuery q;
  q.destination = dst_;
  q.source = o_.source;
  q.timeout = milliseconds(1000);
  const RouteResult route = lookup_route(q);
  int size = 0;
  if (route.link_mtu) size = static_cast<int>(*route.link_mtu);
  if (size == 0) {
    int mtu = 0;
    socklen_t len = sizeof mtu;
    if (::getsockopt(fd, v4 ? SOL_IP : SOL_IPV6, v4 ? IP_MTU : IPV6_MTU, &mtu, &len) != 0) {
      co_return failed(v4 ? "getsockopt IP_MTU" : "getsockopt IPV6_MTU", errno);
    }
    size = mtu;
  }
  // Loopback's 65536 is more than one datagram holds.
  size = std::min(size, 65535);
  pm.local_mtu = size;
  if (auto w = watch(fd, kMtuTag, EPOLLIN); !w) co_return failed("epoll_ctl ADD", w.error().code);

  std::optional<std::uint32_t> smallest_reported;
  std::vector<std::byte> payload;
  for (int step = 0; step < kMaxMtuSteps && Clock::now() < deadline_; ++step) {
    MtuStep s;
    s.size = size;
    payload.assign(udp_payload_for(family_, size), std::byte{0});
    const Clock::time_point sent = Clock::now();
    if (::send(fd, payload.data(), payload.size(), 0) < 0) {
      s.reply = ProbeReply::local_error;
      s.error = errno;
      pm.steps.push_back(s);
      pm.outcome = MtuOutcome::error;
      pm.mtu = size;
      pm.error = Error{"send " + std::to_string(size) + " bytes", s.error, {}};
      co_return pm;
    }
    const auto until = std::min(sent + o_.probe_timeout, deadline_);
    bool done = false;
    while (!done && Clock::now() < until) {
      const auto events = co_await wait(until);
      if (events.empty()) continue;
      if (auto queued = drain_first(fd)) {
        s.origin = queued->origin;
        s.icmp_type = queued->type;
        s.icmp_code = queued->code;
        s.from = queued->offender;
        s.error = queued->error;
        s.next_hop_mtu = queued->info;
        s.reply = queued->origin == ErrOrigin::icmp || queued->origin == ErrOrigin::icmp6
                      ? classify_icmp_reply(queued->origin, queued->type, queued->code)
                      : ProbeReply::local_error;
        done = true;
        break;
      }
      std::array<std::byte, 512> buf{};
      if (::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT) >= 0) {
        s.reply = ProbeReply::udp_reply;
        s.from = dst_;
        done = true;
      }
    }
    pm.steps.push_back(s);
    if (!done) {
      // The destination did not answer (a firewall, a UDP service on the port, or a black hole
      // for this size): the size is an upper bound only.
      pm.outcome = MtuOutcome::unconfirmed;
      pm.mtu = size;
      break;
    }
    if (is_too_big(s.origin, s.icmp_type, s.icmp_code)) {
      if (!smallest_reported || s.next_hop_mtu < *smallest_reported) {
        smallest_reported = s.next_hop_mtu;
        pm.reporter = s.from;
      }
      const int next = next_mtu(family_, size, s.next_hop_mtu);
      if (next >= size) {
        pm.outcome = MtuOutcome::unconfirmed;
        pm.mtu = size;
        break;
      }
      size = next;
      continue;
    }
    if (s.from && *s.from == dst_) {
      pm.outcome = MtuOutcome::confirmed;
      pm.mtu = size;
      break;
    }
    // Another error from a router (unreachable, time exceeded): the path breaks for UDP here.
    pm.outcome = MtuOutcome::unconfirmed;
    pm.mtu = size;
    break;
  }
  if (pm.mtu == 0) {
    pm.outcome = MtuOutcome::unconfirmed;
    pm.mtu = size;
  }
  if (pm.reporter) pm.hop = hop_of(hops, *pm.reporter).value_or(0);
  co_return pm;
}

}  // namespace

asio::awaitable<TraceResult> trace(asio::any_io_executor ex, TraceOptions options) {
  TraceResult r;
  r.mode = options.mode;
  r.destination = options.destination;
  auto invalid = [&](std::string detail) {
    r.verdict = TraceVerdict::error;
    r.error = Error{"trace to " + options.destination.address, 0, std::move(detail)};
    return r;
  };
  const int family = options.destination.family;
  if (family != AF_INET && family != AF_INET6) co_return invalid("not an IPv4 or IPv6 destination");
  std::string dst = canonical(family, options.destination.address);
  if (dst.empty()) co_return invalid("the destination is not a numeric address");
  if (options.first_ttl < 1 || options.first_ttl > 255 || options.max_hops < options.first_ttl ||
      options.max_hops > 255) {
    co_return invalid("hops must be 1-255, the first at most the last");
  }
  if (options.probes < 1 || options.probes > 10) co_return invalid("probes per hop must be 1-10");
  if (options.cycles < 1 || options.cycles > 1000) co_return invalid("cycles must be 1-1000");
  if (options.probe_timeout <= milliseconds(0) || options.interval < milliseconds(0) ||
      options.send_gap < milliseconds(0) || (options.deadline && *options.deadline <= milliseconds(0))) {
    co_return invalid("timeouts must be positive, intervals not negative");
  }
  if (options.mode == TraceMode::tcp && options.destination.port == 0) {
    co_return invalid("a TCP trace needs a port");
  }
  Tracer tracer(ex, std::move(options), family, std::move(dst));
  co_return co_await tracer.run();
}

// ---- reverse names ----

namespace {

struct PtrSlot {
  std::string address;
  std::optional<std::string> name;
  bool done = false;
};

void on_host(void* arg, int status, int /*timeouts*/, hostent* host) {
  auto* slot = static_cast<PtrSlot*>(arg);
  slot->done = true;
  if (status == ARES_SUCCESS && host != nullptr && host->h_name != nullptr) slot->name = host->h_name;
}

}  // namespace

std::map<std::string, std::string> reverse_names(const std::vector<std::string>& addresses,
                                                 milliseconds deadline) {
  std::map<std::string, std::string> out;
  if (addresses.empty()) return out;
  const auto until = Clock::now() + deadline;
  ares_options opts{};
  opts.timeout = static_cast<int>(std::max<std::int64_t>(100, deadline.count() / 3));
  opts.tries = 2;
  ares_channel channel = nullptr;
  if (ares_init_options(&channel, &opts, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES) != ARES_SUCCESS) {
    return out;
  }
  // Slots outlive the channel: ares_destroy calls the callbacks of what is still pending.
  std::vector<PtrSlot> slots(addresses.size());
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    slots[i].address = addresses[i];
    std::array<unsigned char, 16> raw{};
    const int family = addresses[i].find(':') == std::string::npos ? AF_INET : AF_INET6;
    if (::inet_pton(family, addresses[i].c_str(), raw.data()) != 1) {
      slots[i].done = true;
      continue;
    }
    ares_gethostbyaddr(channel, raw.data(), family == AF_INET ? 4 : 16, family, &on_host, &slots[i]);
  }
  auto pending = [&] {
    return std::any_of(slots.begin(), slots.end(), [](const PtrSlot& s) { return !s.done; });
  };
  while (pending()) {
    const auto now = Clock::now();
    if (now >= until) break;
    std::array<ares_socket_t, ARES_GETSOCK_MAXNUM> socks{};
    const int bits = ares_getsock(channel, socks.data(), ARES_GETSOCK_MAXNUM);
    std::vector<pollfd> fds;
    for (int k = 0; k < ARES_GETSOCK_MAXNUM; ++k) {
      short events = 0;
      if (ARES_GETSOCK_READABLE(bits, k)) events |= POLLIN;
      if (ARES_GETSOCK_WRITABLE(bits, k)) events |= POLLOUT;
      if (events != 0) fds.push_back(pollfd{socks[static_cast<std::size_t>(k)], events, 0});
    }
    auto left = std::chrono::duration_cast<milliseconds>(until - now);
    timeval max_tv{static_cast<time_t>(left.count() / 1000),
                   static_cast<suseconds_t>((left.count() % 1000) * 1000)};
    timeval tv{};
    ares_timeout(channel, &max_tv, &tv);
    const auto wait_ms = static_cast<int>(tv.tv_sec * 1000 + tv.tv_usec / 1000) + 1;
    const int n = ::poll(fds.data(), fds.size(), wait_ms);
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) {
      ares_process_fd(channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // c-ares' timeouts
      continue;
    }
    for (const auto& p : fds) {
      if (p.revents == 0) continue;
      const bool rd = (p.revents & (POLLIN | POLLERR | POLLHUP)) != 0;
      const bool wr = (p.revents & POLLOUT) != 0;
      ares_process_fd(channel, rd ? p.fd : ARES_SOCKET_BAD, wr ? p.fd : ARES_SOCKET_BAD);
    }
  }
  ares_destroy(channel);
  for (const auto& s : slots) {
    if (s.name) out.emplace(s.address, *s.name);
  }
  return out;
}

}  // namespace connscope::probe
