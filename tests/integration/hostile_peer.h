#pragma once
// Hostile peers for the doctor's integration suite (hostile_test.cpp): small scripted servers on
// loopback, each on its own threads, stopped when destroyed. A TCP peer runs a script per
// accepted connection (what it sends and when); a DNS peer answers each query with hand-built
// packets over UDP (and TCP when asked). Nothing here knows about connscope: the scripts are
// raw bytes and timings.

#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "sys/unique_fd.h"

namespace connscope::test::hostile {

using namespace std::chrono_literals;
using sys::UniqueFd;

// Something that runs in the background until destroyed.
class Peer {
 public:
  virtual ~Peer() = default;
};

// One accepted connection, as a script sees it. Every wait ends early when the peer stops, and
// every call returns false once the connection is unusable (the doctor closed it) or stopped.
class Conn {
 public:
  Conn(UniqueFd fd, const std::atomic<bool>& stop) : fd_(std::move(fd)), stop_(stop) {}
  // Drains what is readable, then closes: a FIN, not the RST that unread data would cause.
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  [[nodiscard]] int fd() const { return fd_.get(); }
  [[nodiscard]] bool stopped() const { return stop_.load(); }
  // All of `bytes`, waiting for room as long as it takes (a zero window) or until stopped.
  bool send(std::string_view bytes);
  // `bytes` in pieces of `chunk` with `gap` between them.
  bool drip(std::string_view bytes, std::chrono::milliseconds gap, std::size_t chunk = 1);
  // `bytes` again and again until the connection or the peer ends.
  void send_forever(std::string_view bytes, std::chrono::milliseconds gap = 0ms);
  bool sleep(std::chrono::milliseconds d) const;
  // Sleeps until the peer stops: the connection stays open and unread.
  void hold() const;
  // What arrives within `timeout` (up to `max` bytes), after the first byte until `until`
  // appears in it (empty `until`: returns after the first read).
  std::string read(std::chrono::milliseconds timeout, std::string_view until = {},
                   std::size_t max = 1 << 16);
  // One whole TLS record (the ClientHello), or what came before `timeout`.
  std::string read_tls_record(std::chrono::milliseconds timeout = 2s);
  void shutdown_write();
  // Closes with SO_LINGER 0: an RST.
  void reset();

 private:
  bool wait(short events, std::chrono::milliseconds timeout) const;
  UniqueFd fd_;
  const std::atomic<bool>& stop_;
};

using Script = std::function<void(Conn&)>;

struct TcpPeerOptions {
  int family = AF_INET;          // AF_INET: 127.0.0.1, AF_INET6: ::1
  std::optional<int> rcvbuf;     // SO_RCVBUF on the listener (inherited by accepted sockets)
};

// A listener on loopback port 0; each accepted connection runs `script` on its own thread.
class TcpPeer : public Peer {
 public:
  explicit TcpPeer(Script script, TcpPeerOptions options = {});
  ~TcpPeer() override;
  [[nodiscard]] std::uint16_t port() const { return port_; }
  // "127.0.0.1:PORT" or "[::1]:PORT".
  [[nodiscard]] std::string endpoint() const;

 private:
  void accept_loop();
  Script script_;
  int family_;
  UniqueFd listener_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<std::thread> conns_;
  std::thread acceptor_;
};

// A port on 127.0.0.1 with a TCP socket bound but not listening: a SYN there gets an RST.
class RefusedPort : public Peer {
 public:
  RefusedPort();
  [[nodiscard]] std::uint16_t port() const { return port_; }

 private:
  UniqueFd fd_;
  std::uint16_t port_ = 0;
};

// Listeners on 127.0.0.<first> ... 127.0.0.<first + count - 1>, one port, each with a full
// accept queue (backlog 0, filled by connections never accepted): a SYN to any of them is
// dropped, as by a black hole.
class FullQueueListeners : public Peer {
 public:
  FullQueueListeners(int first, int count);
  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] const std::vector<std::string>& addresses() const { return addresses_; }

 private:
  std::vector<UniqueFd> fds_;
  std::vector<std::string> addresses_;
  std::uint16_t port_ = 0;
};

// --- DNS ---

// The parts of a query an answer needs.
struct DnsQuery {
  std::uint16_t id = 0;
  std::uint16_t type = 0;  // 1 A, 28 AAAA
  std::string question;    // the question section as sent (name, type, class)
};
std::optional<DnsQuery> parse_dns_query(std::string_view packet);

// "a.b.test" as DNS wire labels.
std::string dns_name(std::string_view dotted);
std::string dns_header(std::uint16_t id, std::uint16_t flags, std::uint16_t qd, std::uint16_t an,
                       std::uint16_t ns = 0, std::uint16_t ar = 0);
// One resource record of class IN.
std::string dns_rr(std::string_view owner_wire, std::uint16_t type, std::uint32_t ttl,
                   std::string_view rdata);
inline constexpr std::uint16_t kDnsResponse = 0x8180;  // QR, RD, RA, NOERROR
inline constexpr std::uint16_t kDnsTruncated = 0x0200;
inline constexpr std::uint16_t kTypeA = 1;
inline constexpr std::uint16_t kTypeCname = 5;
inline constexpr std::uint16_t kTypeAaaa = 28;

// What a DNS peer does with one query: the replies to send (none: silence) and, for UDP,
// whether they come from the second address (127.0.0.2) instead of the one asked.
struct DnsReply {
  std::vector<std::string> packets;
  bool from_other_address = false;
};
using DnsHandler = std::function<DnsReply(const DnsQuery&, std::string_view raw)>;

enum class DnsTcp {
  none,     // nothing on the TCP port (another process may own it)
  refuse,   // a TCP socket bound but not listening: a SYN gets an RST
  serve,    // a listener answering each query with tcp_handler
};

// A DNS server on 127.0.0.1 (UDP, and the same TCP port when asked).
class DnsPeer : public Peer {
 public:
  DnsPeer(DnsHandler udp_handler, DnsTcp tcp = DnsTcp::none, DnsHandler tcp_handler = {});
  ~DnsPeer() override;
  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] std::string resolver() const { return "127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] int queries() const { return queries_.load(); }

 private:
  void udp_loop();
  void tcp_loop();
  DnsHandler udp_handler_;
  DnsHandler tcp_handler_;
  UniqueFd udp_;
  UniqueFd other_;  // 127.0.0.2: replies from another address
  UniqueFd tcp_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> queries_{0};
  std::thread udp_thread_;
  std::thread tcp_thread_;
};

// --- ICMP ---

// Sends forged ICMP destination-unreachable errors (port unreachable, host unreachable,
// communication administratively prohibited) to 127.0.0.1, each quoting a TCP segment between
// 127.0.0.1:<every port of the ephemeral range> and 127.0.0.1:`port`, in both directions, with
// random sequence numbers, over and over until destroyed. Once `learned` holds the client's
// port (the server's script sets it on accept), every other error quotes that connection
// exactly: what a blind attacker who guessed the port would send. Needs a raw socket (root).
class IcmpFlood : public Peer {
 public:
  IcmpFlood(std::uint16_t port, std::shared_ptr<std::atomic<std::uint16_t>> learned);
  ~IcmpFlood() override;
  [[nodiscard]] std::uint64_t sent() const { return sent_.load(); }
  [[nodiscard]] std::uint64_t sent_to_learned() const { return sent_to_learned_.load(); }

 private:
  void loop();
  void send_one(std::uint16_t eph, int dir, std::uint8_t code, std::uint32_t seq);
  std::uint16_t port_;
  std::shared_ptr<std::atomic<std::uint16_t>> learned_;
  std::atomic<std::uint64_t> sent_to_learned_{0};
  UniqueFd raw_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> sent_{0};
  std::thread thread_;
};

}  // namespace connscope::test::hostile
