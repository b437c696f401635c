// DNS answers as the resolve stage receives them: a c-ares channel set up with the stage's own
// options (probe::init_channel: NOCHECKRESP, the per-server timing, lookups "b", no search
// domains, one server, as with --resolver), ares_getaddrinfo per record type as dns.cpp asks,
// and the stage's conversion of each result (collect_addrinfo, type_outcome, deciding_outcome,
// settle_on_last_attempt). c-ares parses the answers itself (its own answer parser, the
// addrinfo building, RFC 6724 sorting), so this harness fuzzes c-ares 1.18 and our use of it.
//
// No network: the channel's sockets are ours (ares_set_socket_functions). A query socket is an
// unbound AF_UNIX datagram socket, only there for a real descriptor number; what c-ares sends on
// it is taken as a query and answered from the input. The sockets c-ares opens to sort
// addresses (IPPROTO_UDP, connected to each answer address, then getsockname) are real UDP
// sockets, as in the program: connecting a UDP socket sends nothing.
//
// Input: byte 0 picks the family (any: A and AAAA; v4; v6); then answers, each a 2-byte
// big-endian length and that many bytes, handed out in the order the queries are sent (UDP
// first; a truncated answer makes c-ares ask again over TCP, and that query takes the next
// one). Each answer's first two bytes become the query's id, so that c-ares takes it for the
// answer to that query. A query left without an answer is cancelled as the stage's hard stop
// does (ARES_ECANCELLED reported as a timeout).

#include <ares.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "probe/dns_channel.h"
#include "probe/dns_result.h"

namespace {

using namespace connscope;
using namespace connscope::probe;

constexpr int kServerPort = 53;
constexpr const char* kServer = "192.0.2.53";  // TEST-NET-1: never asked, the sockets are ours
constexpr int kMaxRounds = 16;

struct FakeSocket {
  bool tcp = false;
  std::deque<std::string> inbox;  // UDP: datagrams; TCP: one stream, in pieces
  std::string outbox;             // TCP: what c-ares wrote, not yet taken as queries
};

struct Net {
  std::string_view answers;  // what is left of the input's answers
  std::map<ares_socket_t, FakeSocket> sockets;
  std::vector<ares_socket_t> real;  // sorting sockets: real UDP, real connect

  // The next answer of the input, its id set to the query's; nullopt when none is left.
  std::optional<std::string> next_answer(const unsigned char* query, std::size_t len) {
    if (answers.size() < 2) return std::nullopt;
    const std::size_t n = (static_cast<unsigned char>(answers[0]) << 8) |
                          static_cast<unsigned char>(answers[1]);
    const std::size_t take = std::min(n, answers.size() - 2);
    std::string a(answers.substr(2, take));
    answers.remove_prefix(2 + take);
    if (a.size() >= 2 && len >= 2) {
      a[0] = static_cast<char>(query[0]);
      a[1] = static_cast<char>(query[1]);
    }
    return a;
  }
};

ares_socket_t fake_socket(int family, int type, int protocol, void* data) {
  auto* net = static_cast<Net*>(data);
  if (protocol == IPPROTO_UDP) {  // ares__sortaddrinfo's find_src_addr
    const int fd = ::socket(family, type | SOCK_CLOEXEC, protocol);
    if (fd >= 0) net->real.push_back(fd);
    return fd < 0 ? ARES_SOCKET_BAD : fd;
  }
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ARES_SOCKET_BAD;
  net->sockets[fd].tcp = type == SOCK_STREAM;
  return fd;
}

int fake_close(ares_socket_t fd, void* data) {
  auto* net = static_cast<Net*>(data);
  net->sockets.erase(fd);
  std::erase(net->real, fd);
  return ::close(fd);
}

int fake_connect(ares_socket_t fd, const sockaddr* addr, ares_socklen_t len, void* data) {
  auto* net = static_cast<Net*>(data);
  if (std::find(net->real.begin(), net->real.end(), fd) != net->real.end()) {
    return ::connect(fd, addr, len);
  }
  return 0;
}

ares_ssize_t fake_recvfrom(ares_socket_t fd, void* buf, std::size_t len, int, sockaddr* from,
                           ares_socklen_t* from_len, void* data) {
  auto* net = static_cast<Net*>(data);
  const auto it = net->sockets.find(fd);
  if (it == net->sockets.end() || it->second.inbox.empty()) {
    errno = EAGAIN;
    return -1;
  }
  FakeSocket& s = it->second;
  std::string& front = s.inbox.front();
  const std::size_t n = std::min(len, front.size());
  std::memcpy(buf, front.data(), n);
  if (s.tcp && n < front.size()) {
    front.erase(0, n);  // a stream: the rest is read later
  } else {
    s.inbox.pop_front();  // a datagram: the rest of it is lost, as recvfrom does
  }
  if (from != nullptr && from_len != nullptr) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(kServerPort);
    ::inet_pton(AF_INET, kServer, &sin.sin_addr);
    const auto copy = std::min<std::size_t>(*from_len, sizeof sin);
    std::memcpy(from, &sin, copy);
    *from_len = static_cast<ares_socklen_t>(sizeof sin);
  }
  return static_cast<ares_ssize_t>(n);
}

ares_ssize_t fake_sendv(ares_socket_t fd, const iovec* iov, int count, void* data) {
  auto* net = static_cast<Net*>(data);
  const auto it = net->sockets.find(fd);
  if (it == net->sockets.end()) {
    errno = EBADF;
    return -1;
  }
  std::string sent;
  for (int i = 0; i < count; ++i) sent.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
  FakeSocket& s = it->second;
  if (!s.tcp) {
    if (auto a = net->next_answer(reinterpret_cast<const unsigned char*>(sent.data()), sent.size())) {
      s.inbox.push_back(std::move(*a));
    }
  } else {
    s.outbox += sent;
    // Every whole framed query written so far gets the next answer, framed the same way.
    while (s.outbox.size() >= 2) {
      const std::size_t n = (static_cast<unsigned char>(s.outbox[0]) << 8) |
                            static_cast<unsigned char>(s.outbox[1]);
      if (s.outbox.size() < 2 + n) break;
      const auto* q = reinterpret_cast<const unsigned char*>(s.outbox.data() + 2);
      if (auto a = net->next_answer(q, n)) {
        std::string framed;
        framed += static_cast<char>((a->size() >> 8) & 0xff);
        framed += static_cast<char>(a->size() & 0xff);
        framed += *a;
        s.inbox.push_back(std::move(framed));
      }
      s.outbox.erase(0, 2 + n);
    }
  }
  return static_cast<ares_ssize_t>(sent.size());
}

constexpr ares_socket_functions kFunctions{fake_socket, fake_close, fake_connect, fake_recvfrom,
                                           fake_sendv};

// dns.cpp's Slot, and what its on_addrinfo does with c-ares' result.
struct Slot {
  DnsRecordType type = DnsRecordType::a;
  int status = ARES_ECANCELLED;
  int timeouts = 0;
  DnsAnswer answer;
  bool done = false;
};

void on_addrinfo(void* arg, int status, int timeouts, ares_addrinfo* ai) {
  auto* slot = static_cast<Slot*>(arg);
  slot->status = status;
  slot->timeouts = timeouts;
  slot->done = true;
  if (ai != nullptr) {
    slot->answer = collect_addrinfo(ai);
    ares_freeaddrinfo(ai);
  }
}

void check_answer(const DnsAnswer& a) {
  for (const auto& addr : a.addresses) {
    fuzz::check(addr.family == AF_INET || addr.family == AF_INET6, "address family");
    // The addresses are numeric: the literal parser reads each back as itself.
    const auto back = parse_address_literal(addr.address);
    fuzz::check(back.has_value() && back->address == addr.address, "address is canonical");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const auto input = fuzz::text(data, size);
  const auto family = static_cast<DnsFamily>((data[0] & 3) % 3);  // any, v4, v6
  std::vector<DnsRecordType> types;
  if (family != DnsFamily::v6) types.push_back(DnsRecordType::a);
  if (family != DnsFamily::v4) types.push_back(DnsRecordType::aaaa);

  ChannelConfig config;
  config.lookups = "b";
  config.timing = ares_timing(std::chrono::milliseconds(3000));
  config.no_search = true;
  config.server = Endpoint{AF_INET, kServer, kServerPort};

  Net net;
  net.answers = input.substr(1);
  ares_channel channel = nullptr;
  const int st = init_channel(&channel, config, nullptr, nullptr);
  if (st != ARES_SUCCESS) {
    if (channel != nullptr) ares_destroy(channel);
    return 0;  // the machine's resolv.conf, not the input
  }
  ares_set_socket_functions(channel, &kFunctions, &net);

  std::deque<Slot> slots;
  for (DnsRecordType type : types) {
    Slot& slot = slots.emplace_back();
    slot.type = type;
    ares_addrinfo_hints hints{};
    hints.ai_family = type == DnsRecordType::a ? AF_INET : AF_INET6;
    ares_getaddrinfo(channel, "www.example.com", nullptr, &hints, on_addrinfo, &slot);
  }
  // Deliver what is queued until nothing is left to read (or a bounded number of rounds).
  for (int round = 0; round < kMaxRounds; ++round) {
    bool any = false;
    std::vector<ares_socket_t> fds;
    for (const auto& [fd, s] : net.sockets) fds.push_back(fd);
    for (ares_socket_t fd : fds) {
      const auto it = net.sockets.find(fd);
      if (it == net.sockets.end()) continue;
      if (it->second.tcp) ares_process_fd(channel, ARES_SOCKET_BAD, fd);  // its queued query
    }
    fds.clear();
    for (const auto& [fd, s] : net.sockets) fds.push_back(fd);
    for (ares_socket_t fd : fds) {
      const auto it = net.sockets.find(fd);
      if (it == net.sockets.end() || it->second.inbox.empty()) continue;
      any = true;
      ares_process_fd(channel, fd, ARES_SOCKET_BAD);
    }
    if (!any) break;
  }
  // The stage's hard stop: what is still running is cancelled.
  bool stopped = false;
  for (const Slot& s : slots) stopped = stopped || !s.done;
  if (stopped) ares_cancel(channel);
  ares_destroy(channel);
  fuzz::check(net.sockets.empty(), "c-ares closed every query socket");
  for (ares_socket_t fd : net.real) ::close(fd);

  DnsAttempt attempt;
  attempt.server = *config.server;
  for (Slot& s : slots) {
    check_answer(s.answer);
    attempt.queries.push_back(
        type_outcome(s.type, s.status, s.timeouts, std::move(s.answer), true, stopped));
  }
  const auto i = deciding_outcome(attempt.queries);
  attempt.failure = i ? attempt.queries[*i].failure : DnsFailure::other;
  (void)try_next_server(attempt.failure);
  (void)attempt.answered();

  DnsResult r;
  r.name = "www.example.com";
  r.family = family;
  r.attempts.push_back(std::move(attempt));
  const bool ok = settle_on_last_attempt(r);
  fuzz::check(!ok || !r.addresses.empty(), "resolved without an address");
  (void)dns_failure_name(r.failure);
  (void)finding_id(r.failure);
  if (r.rcode) (void)rcode_name(*r.rcode);
  for (const auto& q : r.attempts.back().queries) (void)ares_status_name(q.ares_status);
  return 0;
}
