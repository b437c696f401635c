#include "integration/hostile_peer.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <stdexcept>
#include <system_error>

namespace connscope::test::hostile {

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kTick = 20ms;  // how often a waiting thread looks at the stop flag

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

std::uint16_t bound_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) throw_errno("getsockname");
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

sockaddr_in v4(const char* address, std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, address, &a.sin_addr);
  return a;
}

UniqueFd bound_socket(int type, const char* address, std::uint16_t port) {
  UniqueFd fd(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
  if (!fd) throw_errno("socket");
  const auto a = v4(address, port);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) return UniqueFd{};
  return fd;
}

bool poll_one(int fd, short events, std::chrono::milliseconds timeout) {
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) > 0;
}

std::uint16_t checksum(const std::uint8_t* data, std::size_t len) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i + 1 < len; i += 2) sum += static_cast<std::uint32_t>(data[i] << 8 | data[i + 1]);
  if (len % 2 != 0) sum += static_cast<std::uint32_t>(data[len - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

void put16(std::string& out, std::uint16_t v) {
  out += static_cast<char>(v >> 8);
  out += static_cast<char>(v & 0xff);
}

}  // namespace

// --- Conn ---

Conn::~Conn() {
  if (!fd_) return;
  std::array<char, 4096> scratch{};
  while (::recv(fd_.get(), scratch.data(), scratch.size(), MSG_DONTWAIT) > 0) {
  }
}

bool Conn::wait(short events, std::chrono::milliseconds timeout) const {
  const auto end = Clock::now() + timeout;
  while (!stopped()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
    if (left <= 0ms) return false;
    pollfd p{fd_.get(), events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(std::min(left, std::chrono::milliseconds(kTick)).count()));
    if (n > 0) return true;
  }
  return false;
}

bool Conn::send(std::string_view bytes) {
  while (!bytes.empty()) {
    if (!fd_ || stopped()) return false;
    if (!wait(POLLOUT, 24h)) return false;
    const ssize_t n = ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return false;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool Conn::drip(std::string_view bytes, std::chrono::milliseconds gap, std::size_t chunk) {
  while (!bytes.empty()) {
    const auto piece = bytes.substr(0, chunk);
    if (!send(piece) || !sleep(gap)) return false;
    bytes.remove_prefix(piece.size());
  }
  return true;
}

void Conn::send_forever(std::string_view bytes, std::chrono::milliseconds gap) {
  while (send(bytes) && sleep(gap)) {
  }
}

bool Conn::sleep(std::chrono::milliseconds d) const {
  const auto end = Clock::now() + d;
  while (!stopped()) {
    const auto left = end - Clock::now();
    if (left <= Clock::duration::zero()) return true;
    std::this_thread::sleep_for(std::min<Clock::duration>(left, kTick));
  }
  return false;
}

void Conn::hold() const {
  while (!stopped()) std::this_thread::sleep_for(kTick);
}

std::string Conn::read(std::chrono::milliseconds timeout, std::string_view until, std::size_t max) {
  std::string got;
  const auto end = Clock::now() + timeout;
  std::array<char, 4096> buf{};
  while (fd_ && got.size() < max) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
    if (!wait(POLLIN, left)) break;
    const ssize_t n = ::recv(fd_.get(), buf.data(), std::min(buf.size(), max - got.size()), MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) break;
    got.append(buf.data(), static_cast<std::size_t>(n));
    if (until.empty() || got.find(until) != std::string::npos) break;
  }
  return got;
}

std::string Conn::read_tls_record(std::chrono::milliseconds timeout) {
  std::string got = read(timeout);
  const auto end = Clock::now() + timeout;
  while (got.size() >= 5) {
    const std::size_t want = 5 + (static_cast<unsigned char>(got[3]) << 8 | static_cast<unsigned char>(got[4]));
    if (got.size() >= want || Clock::now() >= end) break;
    const auto more = read(std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()));
    if (more.empty()) break;
    got += more;
  }
  return got;
}

void Conn::shutdown_write() {
  if (fd_) ::shutdown(fd_.get(), SHUT_WR);
}

void Conn::reset() {
  if (!fd_) return;
  const linger l{1, 0};
  ::setsockopt(fd_.get(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
  fd_.reset();
}

// --- TcpPeer ---

TcpPeer::TcpPeer(Script script, TcpPeerOptions options) : script_(std::move(script)), family_(options.family) {
  listener_ = UniqueFd(::socket(family_, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!listener_) throw_errno("socket");
  if (options.rcvbuf) {
    ::setsockopt(listener_.get(), SOL_SOCKET, SO_RCVBUF, &*options.rcvbuf, sizeof *options.rcvbuf);
  }
  int rc = 0;
  if (family_ == AF_INET6) {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    rc = ::bind(listener_.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a);
  } else {
    const auto a = v4("127.0.0.1", 0);
    rc = ::bind(listener_.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a);
  }
  if (rc != 0 || ::listen(listener_.get(), 64) != 0) throw_errno("bind/listen");
  port_ = bound_port(listener_.get());
  acceptor_ = std::thread([this] { accept_loop(); });
}

TcpPeer::~TcpPeer() {
  stop_ = true;
  acceptor_.join();
  std::lock_guard lock(mu_);
  for (auto& t : conns_) t.join();
}

std::string TcpPeer::endpoint() const {
  return family_ == AF_INET6 ? "[::1]:" + std::to_string(port_) : "127.0.0.1:" + std::to_string(port_);
}

void TcpPeer::accept_loop() {
  while (!stop_) {
    if (!poll_one(listener_.get(), POLLIN, kTick)) continue;
    UniqueFd fd(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!fd) continue;
    std::lock_guard lock(mu_);
    conns_.emplace_back([this, c = std::make_shared<UniqueFd>(std::move(fd))]() mutable {
      Conn conn(std::move(*c), stop_);
      script_(conn);
    });
  }
}

RefusedPort::RefusedPort() {
  fd_ = bound_socket(SOCK_STREAM, "127.0.0.1", 0);
  if (!fd_) throw_errno("bind");
  port_ = bound_port(fd_.get());
}

FullQueueListeners::FullQueueListeners(int first, int count) {
  for (int attempt = 0; attempt < 20 && addresses_.empty(); ++attempt) {
    std::vector<UniqueFd> fds;
    std::vector<std::string> addresses;
    std::uint16_t port = 0;
    for (int i = 0; i < count; ++i) {
      const std::string a = "127.0.0." + std::to_string(first + i);
      UniqueFd fd = bound_socket(SOCK_STREAM, a.c_str(), port);
      if (!fd || ::listen(fd.get(), 0) != 0) break;
      port = bound_port(fd.get());
      fds.push_back(std::move(fd));
      addresses.push_back(a);
    }
    if (static_cast<int>(fds.size()) != count) continue;
    // Fill each queue: the first handshake completes into the queue, the ones after it stall.
    for (const auto& a : addresses) {
      for (int k = 0; k < 3; ++k) {
        UniqueFd c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
        const auto to = v4(a.c_str(), port);
        ::connect(c.get(), reinterpret_cast<const sockaddr*>(&to), sizeof to);
        fds.push_back(std::move(c));
      }
    }
    std::this_thread::sleep_for(50ms);  // the fillers' handshakes
    fds_ = std::move(fds);
    addresses_ = std::move(addresses);
    port_ = port;
  }
  if (addresses_.empty()) throw std::runtime_error("no common port on the 127.0.0.x listeners");
}

// --- DNS ---

std::optional<DnsQuery> parse_dns_query(std::string_view p) {
  if (p.size() < 12) return std::nullopt;
  DnsQuery q;
  q.id = static_cast<std::uint16_t>(static_cast<unsigned char>(p[0]) << 8 | static_cast<unsigned char>(p[1]));
  std::size_t at = 12;
  while (at < p.size() && p[at] != 0) at += 1 + static_cast<unsigned char>(p[at]);
  if (at + 5 > p.size()) return std::nullopt;
  q.type = static_cast<std::uint16_t>(static_cast<unsigned char>(p[at + 1]) << 8 | static_cast<unsigned char>(p[at + 2]));
  q.question = std::string(p.substr(12, at + 5 - 12));
  return q;
}

std::string dns_name(std::string_view dotted) {
  std::string out;
  while (!dotted.empty()) {
    const auto dot = dotted.find('.');
    const auto label = dotted.substr(0, dot);
    out += static_cast<char>(label.size());
    out += label;
    dotted = dot == std::string_view::npos ? std::string_view{} : dotted.substr(dot + 1);
  }
  out += '\0';
  return out;
}

std::string dns_header(std::uint16_t id, std::uint16_t flags, std::uint16_t qd, std::uint16_t an,
                       std::uint16_t ns, std::uint16_t ar) {
  std::string out;
  for (auto v : {id, flags, qd, an, ns, ar}) put16(out, v);
  return out;
}

std::string dns_rr(std::string_view owner_wire, std::uint16_t type, std::uint32_t ttl,
                   std::string_view rdata) {
  std::string out(owner_wire);
  put16(out, type);
  put16(out, 1);
  put16(out, static_cast<std::uint16_t>(ttl >> 16));
  put16(out, static_cast<std::uint16_t>(ttl & 0xffff));
  put16(out, static_cast<std::uint16_t>(rdata.size()));
  out += rdata;
  return out;
}

DnsPeer::DnsPeer(DnsHandler udp_handler, DnsTcp tcp, DnsHandler tcp_handler)
    : udp_handler_(std::move(udp_handler)), tcp_handler_(std::move(tcp_handler)) {
  // The UDP port first, then the same number for TCP (taken by someone else now and then: retry).
  for (int i = 0; i < 50 && !udp_; ++i) {
    UniqueFd u = bound_socket(SOCK_DGRAM, "127.0.0.1", 0);
    if (!u) throw_errno("bind udp");
    const auto port = bound_port(u.get());
    if (tcp != DnsTcp::none) {
      UniqueFd t = bound_socket(SOCK_STREAM, "127.0.0.1", port);
      if (!t) continue;
      if (tcp == DnsTcp::serve && ::listen(t.get(), 16) != 0) throw_errno("listen");
      tcp_ = std::move(t);
    }
    udp_ = std::move(u);
    port_ = port;
  }
  if (!udp_) throw std::runtime_error("no UDP and TCP port pair on 127.0.0.1");
  other_ = bound_socket(SOCK_DGRAM, "127.0.0.2", 0);
  if (!other_) throw_errno("bind 127.0.0.2");
  udp_thread_ = std::thread([this] { udp_loop(); });
  if (tcp == DnsTcp::serve) tcp_thread_ = std::thread([this] { tcp_loop(); });
}

DnsPeer::~DnsPeer() {
  stop_ = true;
  udp_thread_.join();
  if (tcp_thread_.joinable()) tcp_thread_.join();
}

void DnsPeer::udp_loop() {
  std::array<char, 4096> buf{};
  while (!stop_) {
    if (!poll_one(udp_.get(), POLLIN, kTick)) continue;
    sockaddr_in from{};
    socklen_t len = sizeof from;
    const ssize_t n = ::recvfrom(udp_.get(), buf.data(), buf.size(), MSG_DONTWAIT,
                                 reinterpret_cast<sockaddr*>(&from), &len);
    if (n <= 0) continue;
    const std::string_view raw(buf.data(), static_cast<std::size_t>(n));
    const auto q = parse_dns_query(raw);
    if (!q) continue;
    ++queries_;
    const DnsReply reply = udp_handler_(*q, raw);
    const int out = reply.from_other_address ? other_.get() : udp_.get();
    for (const auto& p : reply.packets) {
      ::sendto(out, p.data(), p.size(), 0, reinterpret_cast<const sockaddr*>(&from), len);
    }
  }
}

void DnsPeer::tcp_loop() {
  while (!stop_) {
    if (!poll_one(tcp_.get(), POLLIN, kTick)) continue;
    UniqueFd fd(::accept4(tcp_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!fd) continue;
    Conn conn(std::move(fd), stop_);
    // Queries one after another on the connection: 2-byte length, message.
    for (;;) {
      std::string framed = conn.read(1s);
      while (framed.size() >= 2) {
        const std::size_t want = 2 + (static_cast<unsigned char>(framed[0]) << 8 | static_cast<unsigned char>(framed[1]));
        if (framed.size() >= want) break;
        const auto more = conn.read(1s);
        if (more.empty()) break;
        framed += more;
      }
      if (framed.size() < 2) break;
      const auto q = parse_dns_query(std::string_view(framed).substr(2));
      if (!q) break;
      ++queries_;
      for (const auto& p : tcp_handler_(*q, std::string_view(framed).substr(2)).packets) {
        std::string msg;
        put16(msg, static_cast<std::uint16_t>(p.size()));
        msg += p;
        conn.send(msg);
      }
    }
  }
}

// --- ICMP ---

IcmpFlood::IcmpFlood(std::uint16_t port, std::shared_ptr<std::atomic<std::uint16_t>> learned)
    : port_(port), learned_(std::move(learned)) {
  raw_ = UniqueFd(::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP));
  if (!raw_) throw_errno("raw ICMP socket (needs root)");
  thread_ = std::thread([this] { loop(); });
}

IcmpFlood::~IcmpFlood() {
  stop_ = true;
  thread_.join();
}

void IcmpFlood::send_one(std::uint16_t eph, int dir, std::uint8_t code, std::uint32_t seq) {
  // ICMP header (8) + the quoted IPv4 header (20) + the first 8 bytes of TCP.
  alignas(4) std::array<std::uint8_t, 36> pkt{};  // the iphdr at offset 8 is then aligned
  pkt[0] = ICMP_DEST_UNREACH;
  pkt[1] = code;
  auto* ip = reinterpret_cast<iphdr*>(pkt.data() + 8);
  ip->version = 4;
  ip->ihl = 5;
  ip->tot_len = htons(40);
  ip->ttl = 64;
  ip->protocol = IPPROTO_TCP;
  ip->saddr = htonl(INADDR_LOOPBACK);
  ip->daddr = htonl(INADDR_LOOPBACK);
  ip->check = htons(checksum(pkt.data() + 8, 20));
  const std::uint16_t sport = dir == 0 ? eph : port_;
  const std::uint16_t dport = dir == 0 ? port_ : eph;
  std::uint8_t* tcp = pkt.data() + 28;
  tcp[0] = static_cast<std::uint8_t>(sport >> 8);
  tcp[1] = static_cast<std::uint8_t>(sport & 0xff);
  tcp[2] = static_cast<std::uint8_t>(dport >> 8);
  tcp[3] = static_cast<std::uint8_t>(dport & 0xff);
  for (int i = 0; i < 4; ++i) tcp[4 + i] = static_cast<std::uint8_t>(seq >> (24 - 8 * i));
  const std::uint16_t sum = checksum(pkt.data(), pkt.size());
  pkt[2] = static_cast<std::uint8_t>(sum >> 8);
  pkt[3] = static_cast<std::uint8_t>(sum & 0xff);
  const auto to = v4("127.0.0.1", 0);
  if (::sendto(raw_.get(), pkt.data(), pkt.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to) > 0) {
    ++sent_;
    if (eph == learned_->load()) ++sent_to_learned_;
  }
}

void IcmpFlood::loop() {
  unsigned lo = 32768, hi = 60999;
  std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
  range >> lo >> hi;
  std::mt19937 rng(12345);
  constexpr std::array<std::uint8_t, 3> kCodes{ICMP_PORT_UNREACH, ICMP_HOST_UNREACH, ICMP_PKT_FILTERED};
  std::uint64_t n = 0;
  while (!stop_) {
    for (unsigned eph = lo; eph <= hi && !stop_; ++eph) {
      for (int dir = 0; dir < 2; ++dir) {
        const auto code = kCodes[n % kCodes.size()];
        send_one(static_cast<std::uint16_t>(eph), dir, code, static_cast<std::uint32_t>(rng()));
        if (const auto known = learned_->load(); known != 0) {
          send_one(known, dir, code, static_cast<std::uint32_t>(rng()));
        }
        // About 40,000 a second: a flood, yet leaving the 2 shared cores room for the doctor.
        if (++n % 64 == 0) std::this_thread::sleep_for(1500us);
      }
    }
  }
}

}  // namespace connscope::test::hostile
