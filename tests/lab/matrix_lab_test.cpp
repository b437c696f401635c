// The scenario matrix in the lab (issue 12, part 3): every cell of matrix.h's generated table is
// built in one shared lab (one per test process; CMake runs one process per family × protocol
// shard, so `ctest -j2` runs shards side by side), `connscope --json doctor` runs from the
// client, and the verdict's status, stage and finding must be the cell's. Faults are cleared
// between cells; the servers of the healthy protocols stay up for all of them.
//
// With CONNSCOPE_MATRIX_ANCHORS=FILE each cell also asks the anchors (nmap -sT, curl,
// prometheus-blackbox-exporter) and appends one JSON line per cell to FILE:
// bench/accuracy_matrix.sh turns them into docs/ACCURACY.md's table.

#include "lab/matrix.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/endpoint.h"
#include "lab/delayer.h"
#include "lab/lab.h"
#include "lab/scripted_peer.h"

namespace connscope::lab {
namespace matrix {
// gtest prints a failing cell by its name, not as bytes.
void PrintTo(const Cell& c, std::ostream* os) { *os << c.name(); }
}  // namespace matrix

namespace {

namespace mx = matrix;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

// Healthy servers, one per protocol, on ports with no well-known protocol for tcp and tls.
constexpr std::uint16_t kTcpPort = 7000;
constexpr std::uint16_t kTlsPort = 7443;
constexpr std::uint16_t kHttpPort = 8080;
constexpr std::uint16_t kHttpsPort = 8443;  // nginx (its kNginxLargePath is the large reply)
// Large replies for the MTU black hole (tcp, tls, http; https uses nginx's large path).
constexpr std::uint16_t kMtuBase = 7100;
// Server-side faults: one server per cell on this port, stopped when the cell ends.
constexpr std::uint16_t kFaultPort = 9000;
constexpr int kMtu = 1280;
constexpr int kBackingMtu = 1500;
constexpr auto kDelay = 300ms;

Family lab_family(mx::Family f) { return f == mx::Family::v4 ? Family::v4 : Family::v6; }
Node lab_node(mx::Where w) {
  if (w == mx::Where::r1) return Node::r1;
  if (w == mx::Where::r2) return Node::r2;
  return Node::server;
}
int af(mx::Family f) { return f == mx::Family::v4 ? AF_INET : AF_INET6; }
std::string ms_text(std::chrono::milliseconds t) { return std::to_string(t.count()) + "ms"; }

struct DoctorOutcome {
  int exit_code = -1;
  json out;
  std::string err;
  std::chrono::milliseconds elapsed{};
  std::string status, stage, finding;
};

// The lab and the healthy servers, shared by every cell of the process.
struct SharedLab {
  std::unique_ptr<Lab> lab;
  std::map<mx::Proto, Process> healthy;
  std::map<mx::Proto, Process> large;  // the MTU cells' large replies
  std::unique_ptr<ScriptedPeer> large_http;
  std::optional<Process> nginx;
  std::optional<Process> blackbox;
};

class MatrixLab : public ::testing::TestWithParam<mx::Cell> {
 protected:
  static void TearDownTestSuite() {
    if (shared_ == nullptr) return;
    std::cout << "[matrix] cells: " << cells_run_ << ", total "
              << std::chrono::duration_cast<std::chrono::milliseconds>(total_).count() << " ms\n";
    delete shared_;
    shared_ = nullptr;
  }

  void SetUp() override {
    CONNSCOPE_LAB_OR_SKIP();
    if (shared_ == nullptr) {
      shared_ = new SharedLab;
      shared_->lab = Lab::create("matrix");
    }
    t0_ = Clock::now();
  }

  void TearDown() override {
    if (shared_ == nullptr || !shared_->lab) return;
    // Clear every fault the cell made, whatever it was.
    fault_server_.reset();
    scripted_.reset();
    fillers_.clear();
    delayer_.reset();
    if (GetParam().fault == mx::Fault::mtu_blackhole) {
      // The MTU first, then the filters: a segment still resent through the small link while
      // its "too big" gets through would teach the server a path MTU that hides the next hole.
      lab().set_link_mtu(Node::r1, Node::r2, kBackingMtu);
      lab().set_link_mtu(Node::client, Node::r1, kBackingMtu);
    }
    for (const Node n : {Node::server, Node::r1, Node::r2}) lab().clear_faults(n);
    if (GetParam().fault == mx::Fault::reject_rate_limited) {
      const Node n = lab_node(GetParam().where);
      lab().sysctl(n, "net.ipv4.icmp_ratelimit", "0");
      lab().sysctl(n, "net.ipv6.icmp.ratelimit", "0");
    }
    total_ += Clock::now() - t0_;
    ++cells_run_;
  }

  Lab& lab() { return *shared_->lab; }
  const mx::Cell& cell() const { return GetParam(); }
  std::string server_addr() { return lab().addr(Node::server, lab_family(cell().family)); }
  std::string host_port(std::uint16_t port) { return Endpoint{af(cell().family), server_addr(), port}.to_string(); }
  std::string ca() { return lab().certs().ca.string(); }

  // `connscope serve` on the server's address of the cell's family.
  Process serve(std::uint16_t port, std::vector<std::string> args) {
    std::vector<std::string> argv{CONNSCOPE_BIN, "serve", "--listen", host_port(port)};
    argv.insert(argv.end(), args.begin(), args.end());
    Process p = lab().spawn(Node::server, argv);
    if (!lab().wait_for_tcp_listen(Node::server, port, 3s)) {
      throw std::runtime_error("serve did not listen on " + std::to_string(port) + ": " + p.err());
    }
    return p;
  }
  std::vector<std::string> tls_files() {
    return {"--tls-cert", lab().certs().valid.cert.string(), "--tls-key", lab().certs().valid.key.string()};
  }

  // `openssl s_server` (its default address binds v6 only here, so the cell's address).
  Process s_server(std::uint16_t port, const std::vector<std::string>& extra, const std::string& cwd = {}) {
    std::string cmd = cwd.empty() ? "" : "cd '" + cwd + "' && ";
    cmd += "exec openssl s_server -quiet -accept '" + host_port(port) + "' -cert " +
           lab().certs().valid.cert.string() + " -key " + lab().certs().valid.key.string();
    for (const auto& e : extra) cmd += " " + e;
    Process p = lab().spawn(Node::server, {"sh", "-c", cmd});
    if (!lab().wait_for_tcp_listen(Node::server, port, 5s)) {
      throw std::runtime_error("s_server did not listen: " + p.err());
    }
    return p;
  }

  // The healthy server of a protocol, started once per process, on both families.
  void ensure_healthy(mx::Proto proto) {
    if (proto == mx::Proto::https) {
      if (!shared_->nginx) shared_->nginx = lab().start_nginx_tls(lab().certs().valid.cert, lab().certs().valid.key, kHttpsPort);
      return;
    }
    if (shared_->healthy.contains(proto)) return;
    const std::uint16_t port = proto == mx::Proto::tcp ? kTcpPort : proto == mx::Proto::tls ? kTlsPort : kHttpPort;
    shared_->healthy.emplace(proto, proto == mx::Proto::http
                                        ? serve_both(port, {"--mode", "http"}, false)
                                        : serve_both(port, {"--mode", "banner", "--banner", "connscope matrix ready"},
                                                     proto == mx::Proto::tls));
  }
  // `connscope serve` on both server addresses (for the whole process), with the lab's valid
  // certificate when `tls`.
  Process serve_both(std::uint16_t port, const std::vector<std::string>& args, bool tls) {
    std::vector<std::string> argv{CONNSCOPE_BIN, "serve", "--listen", Endpoint{AF_INET, lab().server_v4(), port}.to_string(),
                                  "--listen", Endpoint{AF_INET6, lab().server_v6(), port}.to_string()};
    argv.insert(argv.end(), args.begin(), args.end());
    if (tls) {
      const auto f = tls_files();
      argv.insert(argv.end(), f.begin(), f.end());
    }
    Process p = lab().spawn(Node::server, argv);
    if (!lab().wait_for_tcp_listen(Node::server, port, 3s)) {
      throw std::runtime_error("serve did not listen on " + std::to_string(port) + ": " + p.err());
    }
    return p;
  }
  std::uint16_t healthy_port() const {
    switch (cell().proto) {
      case mx::Proto::tcp: return kTcpPort;
      case mx::Proto::tls: return kTlsPort;
      case mx::Proto::http: return kHttpPort;
      case mx::Proto::https: return kHttpsPort;
    }
    return 0;
  }

  // A server whose reply is larger than the black hole lets through.
  std::uint16_t ensure_large() {
    const auto proto = cell().proto;
    if (proto == mx::Proto::https) {
      ensure_healthy(proto);
      return kHttpsPort;
    }
    const std::uint16_t port = kMtuBase + static_cast<std::uint16_t>(proto);
    if (proto == mx::Proto::http) {
      if (!shared_->large_http) {
        shared_->large_http = std::make_unique<ScriptedPeer>(lab(), port, [](int fd, const std::stop_token&, std::string& req) {
          read_request(fd, req);
          send_all(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3500\r\nConnection: close\r\n\r\n" +
                           std::string(3500, 'x'));
        });
      }
      return port;
    }
    if (!shared_->large.contains(proto)) {
      shared_->large.emplace(proto, serve_both(port, {"--mode", "banner", "--banner", std::string(3000, 'x')},
                                               proto == mx::Proto::tls));
    }
    return port;
  }

  static void send_all(int fd, const std::string& data) {
    std::size_t off = 0;
    while (off < data.size()) {
      const ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<std::size_t>(n);
    }
  }
  // Reads until the end of an HTTP request head (or 2 s, or the peer's close).
  static void read_request(int fd, std::string& req) {
    const auto until = Clock::now() + 2s;
    char buf[2048];
    while (req.find("\r\n\r\n") == std::string::npos && Clock::now() < until) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return;
      req.append(buf, static_cast<std::size_t>(n));
    }
  }

  // The path faults: at the server's input chain, or a router's forward chain.
  void reject_with(const std::string& with, std::uint16_t port) {
    const Node n = lab_node(cell().where);
    const std::string chain = n == Node::server ? "input" : "forward";
    const std::string nfproto = cell().family == mx::Family::v4 ? "ipv4" : "ipv6";
    lab().nft(n, "add table inet connscope_lab\n"
                 "add chain inet connscope_lab " + chain + " { type filter hook " + chain + " priority 0; policy accept; }\n"
                 "add rule inet connscope_lab " + chain + " meta nfproto " + nfproto + " meta l4proto { tcp, udp } th dport " +
                 std::to_string(port) + " reject with " + with + "\n");
  }

  // The kernel's own ICMP rate limit, emptied just before each probe: bursts of UDP datagrams to
  // the rejected port (each answered with an ICMP error) take its tokens, so the first SYN's
  // error is suppressed and the resent SYN's, a second later, gets through.
  void drain_icmp_tokens(std::uint16_t port) {
    if (cell().fault != mx::Fault::reject_rate_limited) return;
    lab().in_ns(Node::client, [&] {
      UniqueFd fd(::socket(af(cell().family), SOCK_DGRAM | SOCK_CLOEXEC, 0));
      sockaddr_storage ss{};
      const socklen_t len = Endpoint{af(cell().family), server_addr(), port}.to_sockaddr(ss);
      for (int i = 0; i < 40; ++i) {
        ::sendto(fd.get(), "x", 1, 0, reinterpret_cast<sockaddr*>(&ss), len);
      }
      std::this_thread::sleep_for(20ms);
      return 0;
    });
  }

  // Builds the cell's fault; returns the port and the path the probes go to.
  std::pair<std::uint16_t, std::string> build() {
    const auto& c = cell();
    const Node where = lab_node(c.where);
    const Family fam = lab_family(c.family);
    std::uint16_t port = healthy_port();
    std::string path = "/";
    if (c.fault != mx::Fault::mtu_blackhole && !server_side(c.fault)) ensure_healthy(c.proto);
    using F = mx::Fault;
    switch (c.fault) {
      case F::none: break;
      case F::drop: lab().drop(where, fam, port); break;
      case F::reject_reset: lab().reject(where, fam, port, RejectKind::tcp_reset); break;
      case F::reject_icmp:
        reject_with(std::string(c.family == mx::Family::v4 ? "icmp" : "icmpv6") + " type " + std::string(c.icmp->nft), port);
        break;
      case F::reject_rate_limited:
        // One error per 800 ms (IPv4): the SYN resent after 1 s is surely answered. ICMPv6
        // scales its limit down by the route's prefix length (1000 ms → 125-250 ms here), still
        // more than the time from the drained bucket to the first SYN.
        lab().sysctl(where, "net.ipv4.icmp_ratelimit", "800");
        lab().sysctl(where, "net.ipv6.icmp.ratelimit", "1000");
        reject_with(c.family == mx::Family::v4 ? "icmp type port-unreachable" : "icmpv6 type port-unreachable", port);
        break;
      case F::loss: {
        // 30 % of the SYNs, deterministically: the 2nd, 5th and 8th of every 10 (never two in a
        // row, and never doctor's first), so the cell's truth does not hang on luck.
        const std::string chain = where == Node::server ? "input" : "forward";
        lab().nft(where, "add table inet connscope_lab\n"
                         "add chain inet connscope_lab " + chain + " { type filter hook " + chain + " priority 0; policy accept; }\n"
                         "add rule inet connscope_lab " + chain + " meta nfproto " +
                         std::string(c.family == mx::Family::v4 ? "ipv4" : "ipv6") + " tcp dport " + std::to_string(port) +
                         " tcp flags & (syn | ack) == syn numgen inc mod 10 { 1, 4, 7 } drop\n");
        break;
      }
      case F::delay:
        delayer_ = std::make_unique<Delayer>(lab(), where, lab().iface(where, where == Node::r1 ? Node::client : Node::r1), kDelay);
        break;
      case F::mtu_blackhole:
        port = ensure_large();
        // No path MTU learned before (by the server, whose replies are the large ones).
        for (const char* v : {"-4", "-6"}) lab().exec(Node::server, {"ip", v, "route", "flush", "cache"});
        if (c.proto == mx::Proto::https) path = std::string(kNginxLargePath);
        // The filter before the small MTU: a "too big" for a segment still in flight (an earlier
        // cell's) that got through would teach the server a path MTU that hides the hole.
        if (where == Node::r1) {
          lab().drop_frag_needed(Node::r1);
          // r1's side of the client link only: the client's own MSS stays 1460.
          lab().set_mtu(Node::r1, lab().iface(Node::r1, Node::client), kMtu);
        } else {
          if (where == Node::r2) {
            lab().drop_frag_needed(Node::r2);
          } else {
            // The host's own firewall drops the "too big" r2 sends it: the classic black hole.
            lab().nft(Node::server, "add table inet connscope_lab\n"
                                    "add chain inet connscope_lab input { type filter hook input priority 0; policy accept; }\n"
                                    "add rule inet connscope_lab input icmp type destination-unreachable icmp code 4 drop\n"
                                    "add rule inet connscope_lab input icmpv6 type packet-too-big drop\n");
          }
          lab().set_link_mtu(Node::r1, Node::r2, kMtu);
        }
        break;
      default:
        port = kFaultPort;
        path = build_server_fault();
        break;
    }
    return {port, path};
  }

  static bool server_side(mx::Fault f) {
    using F = mx::Fault;
    return f == F::close_after_accept || f == F::reset_after_accept || f == F::never_accept ||
           f == F::slow_first_byte || f == F::tls_no_shared_cipher || f == F::tls_client_cert_tls12 ||
           f == F::tls_client_cert_tls13 || f == F::http_1xx_forever || f == F::http_redirect_loop;
  }

  std::string build_server_fault() {
    const auto& c = cell();
    using F = mx::Fault;
    const bool tls = c.proto == mx::Proto::tls || c.proto == mx::Proto::https;
    switch (c.fault) {
      case F::close_after_accept: fault_server_ = serve(kFaultPort, {"--mode", "close-after-accept"}); break;
      case F::reset_after_accept: fault_server_ = serve(kFaultPort, {"--mode", "reset-after-accept"}); break;
      case F::never_accept: {
        fault_server_ = serve(kFaultPort, {"--mode", "never-accept", "--backlog", "1"});
        fill_accept_queue();
        break;
      }
      case F::slow_first_byte:
        if (c.proto == mx::Proto::tcp) {
          scripted_ = std::make_unique<ScriptedPeer>(lab(), kFaultPort, [](int fd, const std::stop_token& stop, std::string&) {
            const auto until = Clock::now() + 1500ms;
            while (!stop.stop_requested() && Clock::now() < until) std::this_thread::sleep_for(10ms);
            send_all(fd, "connscope slow greeting\r\n");
            std::this_thread::sleep_for(200ms);
          });
        } else {
          std::vector<std::string> args{"--mode", "slow-first-byte", "--delay", "1500ms"};
          if (tls) {
            const auto f = tls_files();
            args.insert(args.end(), f.begin(), f.end());
          }
          fault_server_ = serve(kFaultPort, args);
        }
        break;
      case F::tls_no_shared_cipher:
        // RSA key exchange only, with an EC key: no cipher both sides can use.
        fault_server_ = s_server(kFaultPort, {"-www", "-tls1_2", "-cipher", "AES256-GCM-SHA384"});
        break;
      case F::tls_client_cert_tls12: fault_server_ = s_server(kFaultPort, {"-www", "-tls1_2", "-Verify", "1"}); break;
      case F::tls_client_cert_tls13: fault_server_ = s_server(kFaultPort, {"-www", "-tls1_3", "-Verify", "1"}); break;
      case F::http_1xx_forever:
        if (tls) {
          // s_server -HTTP answers GET /1xx with the file as it is: interim responses only.
          std::string body;
          for (int i = 0; i < 100; ++i) body += "HTTP/1.1 102 Processing\r\n\r\n";
          write_file(lab().dir() / "1xx", body);
          fault_server_ = s_server(kFaultPort, {"-HTTP"}, lab().dir().string());
          return "/1xx";
        }
        scripted_ = std::make_unique<ScriptedPeer>(lab(), kFaultPort, [](int fd, const std::stop_token& stop, std::string& req) {
          read_request(fd, req);
          const auto until = Clock::now() + 10s;
          while (!stop.stop_requested() && Clock::now() < until) {
            if (::send(fd, "HTTP/1.1 102 Processing\r\n\r\n", 27, MSG_NOSIGNAL) != 27) return;
            std::this_thread::sleep_for(50ms);
          }
        });
        break;
      case F::http_redirect_loop: {
        const std::string scheme = tls ? "https://" : "http://";
        std::vector<std::string> args{"--mode", "http", "--http-status", "302", "--http-location",
                                      scheme + host_port(kFaultPort) + "/loop"};
        if (tls) {
          const auto f = tls_files();
          args.insert(args.end(), f.begin(), f.end());
        }
        fault_server_ = serve(kFaultPort, args);
        return "/loop";
      }
      default: break;
    }
    return "/";
  }

  static void write_file(const std::filesystem::path& p, const std::string& text) {
    std::ofstream out(p, std::ios::binary);
    out << text;
    if (!out) throw std::runtime_error("cannot write " + p.string());
  }

  // never-accept with backlog 1 holds two finished handshakes; a third connection's SYN is
  // dropped, as doctor's will be.
  void fill_accept_queue() {
    fillers_ = lab().in_ns(Node::client, [&] {
      std::vector<UniqueFd> fds;
      for (int i = 0; i < 2; ++i) {
        UniqueFd fd(::socket(af(cell().family), SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_storage ss{};
        const socklen_t len = Endpoint{af(cell().family), server_addr(), kFaultPort}.to_sockaddr(ss);
        timeval tv{2, 0};
        ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
          throw std::runtime_error(std::string("filler connect: ") + std::strerror(errno));
        }
        fds.push_back(std::move(fd));
      }
      return fds;
    });
    // (appended, not `":" + ...`: g++ 12 warns falsely (-Wrestrict) on that concatenation)
    std::string sport(":");
    sport.append(std::to_string(kFaultPort));
    for (int i = 0; i < 100; ++i) {
      auto r = lab().exec(Node::server, {"ss", "-Hltn", "sport", "=", sport});
      std::istringstream in(r.out);
      std::string state;
      int recvq = 0;
      in >> state >> recvq;
      if (recvq >= 2) return;
      std::this_thread::sleep_for(10ms);
    }
    throw std::runtime_error("the accept queue did not fill");
  }

  std::string target(std::uint16_t port, const std::string& path) {
    const auto hp = host_port(port);
    switch (cell().proto) {
      case mx::Proto::tcp:
      case mx::Proto::tls: return hp;
      case mx::Proto::http: return "http://" + hp + path;
      case mx::Proto::https: return "https://" + hp + path;
    }
    return hp;
  }

  DoctorOutcome doctor(std::uint16_t port, const std::string& path) {
    const auto& c = cell();
    std::vector<std::string> argv{CONNSCOPE_BIN, "--json", "--timeout", ms_text(c.timeout), "doctor"};
    if (c.proto == mx::Proto::tls) argv.push_back("--tls");
    if (c.proto == mx::Proto::tls || c.proto == mx::Proto::https) argv.insert(argv.end(), {"--ca-file", ca()});
    if (c.repeat > 0) argv.insert(argv.end(), {"--repeat", std::to_string(c.repeat)});
    if (c.follow) argv.push_back("--follow");
    argv.push_back(target(port, path));
    drain_icmp_tokens(port);
    const auto t0 = Clock::now();
    auto r = lab().exec(Node::client, argv, 60s);
    DoctorOutcome d;
    d.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
    d.exit_code = r.exit_code;
    d.err = r.err;
    try {
      d.out = json::parse(r.out);
      const auto& v = d.out.at("verdict");
      d.status = v.at("status");
      d.stage = v.at("stage").is_null() ? "" : v.at("stage").get<std::string>();
      d.finding = v.at("finding").is_null() ? "" : v.at("finding").get<std::string>();
    } catch (const json::exception& e) {
      ADD_FAILURE() << "not JSON: " << e.what() << "\n" << r.out << r.err;
    }
    return d;
  }

  // ---- anchors ----
  void ensure_blackbox() {
    if (shared_->blackbox) return;
    std::string conf = "modules:\n";
    for (const int s : {1, 3, 5}) {  // every cell timeout (matrix.cpp: timeout_for)
      const std::string t = std::to_string(s) + "s";
      conf += "  tcp_" + t + ":\n    prober: tcp\n    timeout: " + t + "\n";
      conf += "  tls_" + t + ":\n    prober: tcp\n    timeout: " + t + "\n    tcp:\n      tls: true\n      tls_config:\n        ca_file: " + ca() + "\n";
      conf += "  http_" + t + ":\n    prober: http\n    timeout: " + t + "\n    http:\n      tls_config:\n        ca_file: " + ca() + "\n";
    }
    write_file(lab().dir() / "blackbox.yml", conf);
    shared_->blackbox = lab().spawn(Node::client, {"prometheus-blackbox-exporter", "--config.file=" + (lab().dir() / "blackbox.yml").string(),
                                                   "--web.listen-address=127.0.0.1:9115"});
    if (!lab().wait_for_tcp_listen(Node::client, 9115, 5s)) throw std::runtime_error("blackbox_exporter: " + shared_->blackbox->err());
  }

  json anchors(std::uint16_t port, const std::string& path) {
    const auto& c = cell();
    json a;
    const std::string secs = std::to_string(c.timeout.count() / 1000);
    // nmap -sT: the connect() of the port and why.
    std::vector<std::string> nmap{"nmap", "-sT", "-Pn", "-n", "--reason", "-p", std::to_string(port)};
    if (c.family == mx::Family::v6) nmap.push_back("-6");
    nmap.push_back(server_addr());
    drain_icmp_tokens(port);
    auto n = lab().exec(Node::client, nmap, 60s);
    const auto nj = mx::judge_nmap(n.out);
    std::string line;
    {
      std::istringstream in(n.out);
      for (std::string l; std::getline(in, l);) {
        if (l.find("/tcp") != std::string::npos) line = l;
      }
    }
    a["nmap"] = {{"stage", nj.stage}, {"cause", nj.cause}, {"raw", line}};
    // curl: HTTP and HTTPS cells only.
    if (c.proto == mx::Proto::http || c.proto == mx::Proto::https) {
      // -v: curl 7.88 says only "Couldn't connect to server" on a failed connect; its verbose
      // lines carry the errno text.
      std::vector<std::string> curl{"curl", "-sS", "-v", "-m", secs, "-o", "/dev/null", "-w", "%{http_code}"};
      if (c.proto == mx::Proto::https) curl.insert(curl.end(), {"--cacert", ca()});
      if (c.follow) curl.insert(curl.end(), {"-L", "--max-redirs", "10"});
      curl.push_back(target(port, path));
      drain_icmp_tokens(port);
      auto r = lab().exec(Node::client, curl, 60s);
      const auto cj = mx::judge_curl(c.proto, r.exit_code, r.out, r.err);
      std::string said;
      {
        std::istringstream in(r.err);
        for (std::string l; std::getline(in, l);) {
          if (l.rfind("curl: (", 0) == 0 || l.find("failed: ") != std::string::npos) said += l + " ";
        }
      }
      a["curl"] = {{"stage", cj->stage}, {"cause", cj->cause}, {"raw", std::to_string(r.exit_code) + " " + r.out + " " + said}};
    } else {
      a["curl"] = nullptr;
    }
    // blackbox_exporter.
    ensure_blackbox();
    std::string module = c.proto == mx::Proto::tcp ? "tcp_" : c.proto == mx::Proto::tls ? "tls_" : "http_";
    module += secs + "s";
    std::string t = target(port, path);
    std::string enc;
    for (char ch : t) {
      if (std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '-' || ch == '_') {
        enc += ch;
      } else {
        char b[4];
        std::snprintf(b, sizeof b, "%%%02X", static_cast<unsigned char>(ch));
        enc += b;
      }
    }
    drain_icmp_tokens(port);
    auto b = lab().exec(Node::client, {"curl", "-s", "-m", "30", "http://127.0.0.1:9115/probe?module=" + module + "&target=" + enc + "&debug=true"}, 60s);
    const auto bj = mx::judge_blackbox(c.proto, b.out);
    std::string why;
    {
      std::istringstream in(b.out);
      for (std::string l; std::getline(in, l);) {
        if (l.find("err=") != std::string::npos && why.empty()) why = l.substr(l.find("err="));
      }
    }
    a["blackbox"] = {{"stage", bj.stage}, {"cause", bj.cause}, {"raw", why}};
    return a;
  }

  static void record(const json& line) {
    const char* file = std::getenv("CONNSCOPE_MATRIX_ANCHORS");
    if (file == nullptr || *file == '\0') return;
    std::ofstream out(file, std::ios::app);
    out << line.dump() << "\n";
  }

  static inline SharedLab* shared_ = nullptr;
  static inline Clock::duration total_{};
  static inline int cells_run_ = 0;
  Clock::time_point t0_;
  std::optional<Process> fault_server_;
  std::unique_ptr<ScriptedPeer> scripted_;
  std::vector<UniqueFd> fillers_;
  std::unique_ptr<Delayer> delayer_;
};

TEST_P(MatrixLab, Doctor) {
  const auto& c = cell();
  const auto [port, path] = build();
  const DoctorOutcome d = doctor(port, path);
  const std::string got = d.status + " " + d.stage + " " + d.finding;
  const std::string want = c.expected.status + " " + c.expected.stage + " " + c.expected.finding;
  EXPECT_EQ(got, want) << (c.awaits_contract ? "(awaits the CONTRACT.md ids) " : "") << d.out.dump(1) << d.err;
  EXPECT_EQ(d.exit_code, c.expected.status == "ok" ? 0 : 1) << d.err;
  // The invariant: every warn/fail stage names a finding of its own.
  if (d.out.contains("stages")) {
    for (const auto& s : d.out.at("stages")) {
      const std::string st = s.at("status");
      if (st != "warn" && st != "fail") continue;
      bool named = false;
      for (const auto& f : d.out.at("findings")) named = named || f.at("stage") == s.at("stage");
      EXPECT_TRUE(named) << "stage " << s.at("stage") << " is " << st << " without a finding: " << s.dump();
    }
  }
  // The rate limit really swallowed the first SYN's error: the verdict came from a resent SYN.
  if (c.fault == mx::Fault::reject_rate_limited && d.out.contains("stages")) {
    for (const auto& s : d.out.at("stages")) {
      if (s.at("stage") != "connect") continue;
      const auto& a = s.at("evidence").at("attempts").at(0);
      EXPECT_GE(a.at("syns_sent").get<int>(), 2) << a.dump();
    }
  }
  if (const char* f = std::getenv("CONNSCOPE_MATRIX_ANCHORS"); f != nullptr && *f != '\0') {
    const auto t = mx::truth(c);
    const auto mine = mx::judge_finding(d.stage, d.finding);
    json line{{"cell", c.name()},
              {"fault", mx::name(c.fault)},
              {"where", mx::name(c.where)},
              {"family", mx::name(c.family)},
              {"proto", mx::name(c.proto)},
              {"expected", {{"status", c.expected.status}, {"stage", c.expected.stage}, {"finding", c.expected.finding}}},
              {"awaits_contract", c.awaits_contract},
              {"truth", {{"stage", t.stage}, {"cause", t.cause}}},
              {"connscope", {{"status", d.status}, {"stage", mine.stage}, {"cause", mine.cause}, {"finding", d.finding},
                             {"elapsed_ms", d.elapsed.count()}}},
              {"anchors", anchors(port, path)}};
    record(line);
  }
}

INSTANTIATE_TEST_SUITE_P(Cells, MatrixLab, ::testing::ValuesIn(mx::cells()),
                         [](const ::testing::TestParamInfo<mx::Cell>& p) { return p.param.name(); });

}  // namespace
}  // namespace connscope::lab
