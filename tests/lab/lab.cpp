#include "lab/lab.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <system_error>

namespace connscope::lab {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string lab_sh() {
  if (const char* path = std::getenv("CONNSCOPE_LAB_SH"); path != nullptr && *path != '\0') {
    return path;
  }
  return CONNSCOPE_LAB_SH;
}

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const fs::path& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out.flush()) throw std::runtime_error("cannot write " + path.string());
}

std::string join(const std::vector<std::string>& words) {
  std::string s;
  for (const auto& w : words) s += (s.empty() ? "" : " ") + w;
  return s;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

bool poll_readable(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  int n = ::poll(&p, 1, static_cast<int>(std::max(timeout, 0ms).count()));
  return n > 0;
}

std::string_view reject_kind_arg(RejectKind kind) {
  switch (kind) {
    case RejectKind::tcp_reset:
      return "tcp-reset";
    case RejectKind::port_unreachable:
      return "port-unreachable";
    case RejectKind::host_unreachable:
      return "host-unreachable";
    case RejectKind::admin_prohibited:
      return "admin-prohibited";
    case RejectKind::net_unreachable:
      return "net-unreachable";
    case RejectKind::addr_unreachable:
      return "addr-unreachable";
  }
  return "?";
}

std::string family_arg(Family family) { return family == Family::v4 ? "4" : "6"; }

Node node_from(std::string_view name) {
  for (Node n : {Node::client, Node::r1, Node::r2, Node::server, Node::dns}) {
    if (to_string(n) == name) return n;
  }
  throw std::runtime_error("lab.sh info: unknown node " + std::string(name));
}

// True when /proc/thread-self/net/{tcp,tcp6} (this thread's namespace, unlike /proc/net, which
// follows the main thread) lists a listener on port.
bool tcp_listening(std::uint16_t port) {
  for (const char* file : {"/proc/thread-self/net/tcp", "/proc/thread-self/net/tcp6"}) {
    std::ifstream in(file);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state;
      fields >> slot >> local >> remote >> state;
      auto colon = local.rfind(':');
      if (colon == std::string::npos || state != "0A") continue;
      if (std::stoul(local.substr(colon + 1), nullptr, 16) == port) return true;
    }
  }
  return false;
}

// Answers every DNS query on fd with SERVFAIL (header and question only), until stopped.
void serve_servfail(int fd, const std::stop_token& stop) {
  std::array<unsigned char, 1500> buf{};
  while (!stop.stop_requested()) {
    if (!poll_readable(fd, 50ms)) continue;
    sockaddr_storage from{};
    socklen_t from_len = sizeof from;
    ssize_t n =
        ::recvfrom(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 12) continue;
    auto len = static_cast<std::size_t>(n);
    std::size_t end = 12;
    while (end < len && buf[end] != 0 && (buf[end] & 0xC0) == 0) end += buf[end] + 1u;
    end += 1 + 4;  // root label, QTYPE, QCLASS
    if (end > len) continue;
    buf[2] = static_cast<unsigned char>(0x80 | (buf[2] & 0x79));  // QR; keep opcode and RD
    buf[3] = 0x80 | 2;                                            // RA, RCODE SERVFAIL
    std::fill(buf.begin() + 6, buf.begin() + 12, 0);              // AN, NS, AR counts
    ::sendto(fd, buf.data(), end, 0, reinterpret_cast<sockaddr*>(&from), from_len);
  }
}

}  // namespace

std::string_view to_string(Node node) {
  switch (node) {
    case Node::client:
      return "client";
    case Node::r1:
      return "r1";
    case Node::r2:
      return "r2";
    case Node::server:
      return "server";
    case Node::dns:
      return "dns";
  }
  return "?";
}

std::string_view to_string(Family family) { return family == Family::v4 ? "v4" : "v6"; }

std::string_view to_string(RejectKind kind) { return reject_kind_arg(kind); }


// --- DnsServer -------------------------------------------------------------------------------

DnsServer::DnsServer(Process dnsmasq, UniqueFd servfail_socket)
    : dnsmasq_(std::move(dnsmasq)),
      socket_(std::move(servfail_socket)),
      responder_([fd = socket_.get()](std::stop_token stop) { serve_servfail(fd, stop); }) {}

// --- Lab -------------------------------------------------------------------------------------

Lab::Lab(std::string prefix, fs::path dir) : prefix_(std::move(prefix)), dir_(std::move(dir)) {}

std::unique_ptr<Lab> Lab::create(std::string_view test_name) {
  // Namespaces left by crashed runs: lab.sh removes only those whose creator pid is gone.
  run({"bash", lab_sh(), "clean_stale"}, 30s);

  // Process-wide, so that Labs alive at the same time (also on other threads) never share a name.
  static std::atomic<unsigned> counter{0};
  std::string prefix = "csl" + std::to_string(::getpid()) + "x" + std::to_string(++counter);

  std::string tmpl = (fs::temp_directory_path() /
                      ("connscope-lab-" + prefix + "-" + test::safe_file_name(test_name) + "-XXXXXX"))
                         .string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw_errno("mkdtemp " + tmpl);
  std::unique_ptr<Lab> lab(new Lab(prefix, tmpl));

  auto start = Clock::now();
  lab->up_ = true;  // from here on the destructor tears down whatever got built
  lab->script({"up", prefix});
  lab->build_time_ = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);

  CmdResult info = run({"bash", lab_sh(), "info"}, 10s);
  if (!info.ok()) throw std::runtime_error("lab.sh info: " + info.err);
  std::istringstream lines(info.out);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string kind, a, b;
    words >> kind;
    if (kind == "link") {
      Link l{};
      words >> a >> l.iface_a >> l.v4_a >> l.v6_a >> b >> l.iface_b >> l.v4_b >> l.v6_b;
      l.a = node_from(a);
      l.b = node_from(b);
      lab->links_.push_back(l);
    } else if (kind == "silent_v4") {
      words >> lab->silent_v4_;
    }
  }
  return lab;
}

Lab::~Lab() {
  if (up_) {
    try {
      CmdResult down = run({"bash", lab_sh(), "down", prefix_}, 30s);
      if (!down.ok()) std::cerr << "lab: removing " << prefix_ << " failed: " << down.err << '\n';
    } catch (const std::exception& e) {
      std::cerr << "lab: removing " << prefix_ << " failed: " << e.what() << '\n';
    }
  }
  const char* keep = std::getenv("CONNSCOPE_LAB_KEEP");
  if (keep != nullptr && *keep != '\0' && *keep != '0') {
    std::cerr << "lab: kept " << dir_ << '\n';
  } else {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

std::string Lab::ns(Node node) const { return prefix_ + "-" + std::string(to_string(node)); }

UniqueFd Lab::open_netns(Node node) const {
  const std::string path = "/run/netns/" + ns(node);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw_errno("open " + path);
  return fd;
}

void Lab::enter_netns(Node node) const {
  UniqueFd fd = open_netns(node);
  if (::setns(fd.get(), CLONE_NEWNET) != 0) throw_errno("setns " + ns(node));
}

const Lab::Link& Lab::link(Node a, Node b) const {
  for (const auto& l : links_) {
    if ((l.a == a && l.b == b) || (l.a == b && l.b == a)) return l;
  }
  throw std::invalid_argument("lab: " + std::string(to_string(a)) + " and " +
                              std::string(to_string(b)) + " are not linked");
}

std::string Lab::addr(Node node, Node neighbour, Family family) const {
  const Link& l = link(node, neighbour);
  bool is_a = l.a == node;
  if (family == Family::v4) return is_a ? l.v4_a : l.v4_b;
  return is_a ? l.v6_a : l.v6_b;
}

std::string Lab::addr(Node node, Family family) const {
  switch (node) {
    case Node::client:
    case Node::r2:
      return addr(node, Node::r1, family);
    case Node::r1:
      return addr(node, Node::client, family);
    case Node::server:
      return addr(node, Node::r2, family);
    case Node::dns:
      return addr(node, Node::r1, family);
  }
  return {};
}

std::string Lab::iface(Node node, Node neighbour) const {
  const Link& l = link(node, neighbour);
  return l.a == node ? l.iface_a : l.iface_b;
}

void Lab::script(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{"bash", lab_sh()};
  argv.insert(argv.end(), args.begin(), args.end());
  CmdResult r = run(argv, 30s);
  if (!r.ok()) {
    throw std::runtime_error("lab.sh " + join(args) + " failed (" +
                             (r.timed_out ? "timed out" : "exit " + std::to_string(r.exit_code)) +
                             "): " + r.err);
  }
}

fs::path Lab::new_dir(std::string_view name) {
  fs::path d = dir_ / (std::string(name) + "-" + std::to_string(++next_id_));
  fs::create_directories(d);
  return d;
}

CmdResult Lab::exec(Node node, const std::vector<std::string>& argv,
                    std::chrono::milliseconds timeout) const {
  UniqueFd netns = open_netns(node);
  return run(argv, timeout, test::SpawnOptions{netns.get(), std::nullopt});
}

Process Lab::spawn(Node node, const std::vector<std::string>& argv) {
  UniqueFd netns = open_netns(node);
  return Process::spawn(argv, test::SpawnOptions{netns.get(), std::nullopt}, dir_);
}

bool Lab::wait_for_tcp_listen(Node node, std::uint16_t port,
                              std::chrono::milliseconds timeout) const {
  return in_ns(node, [port, deadline = Clock::now() + timeout] {
    while (!tcp_listening(port)) {
      if (Clock::now() >= deadline) return false;
      std::this_thread::sleep_for(10ms);
    }
    return true;
  });
}

// --- faults ----------------------------------------------------------------------------------

void Lab::reject(Node where, Family family, std::uint16_t port, RejectKind kind) {
  script({"reject", prefix_, std::string(to_string(where)), family_arg(family),
          std::to_string(port), std::string(reject_kind_arg(kind))});
}

void Lab::drop(Node where, Family family, std::uint16_t port) {
  script(
      {"drop", prefix_, std::string(to_string(where)), family_arg(family), std::to_string(port)});
}

void Lab::drop_frag_needed(Node router) {
  script({"drop_frag_needed", prefix_, std::string(to_string(router))});
}

void Lab::drop_first_syn(Node router, std::uint16_t port) {
  const std::string match = "tcp dport " + std::to_string(port) + " tcp flags & (syn | ack) == syn";
  nft(router, "add table inet firstsyn\n"
              "add set inet firstsyn seen { type inet_service; flags dynamic; }\n"
              "add chain inet firstsyn f { type filter hook forward priority -10; policy accept; }\n"
              "add rule inet firstsyn f " + match + " tcp sport @seen accept\n"
              "add rule inet firstsyn f " + match + " add @seen { tcp sport } drop\n");
}

void Lab::clear_faults(Node node) {
  script({"faults_clear", prefix_, std::string(to_string(node))});
}

void Lab::nft(Node node, std::string_view ruleset) {
  script({"nft", prefix_, std::string(to_string(node)), std::string(ruleset)});
}

void Lab::netem(Node node, std::string_view iface, std::string_view spec) {
  std::vector<std::string> args{"netem", prefix_, std::string(to_string(node)), std::string(iface)};
  std::istringstream words{std::string(spec)};
  for (std::string w; words >> w;) args.push_back(w);
  script(args);
}

void Lab::netem_clear(Node node, std::string_view iface) {
  script({"netem_clear", prefix_, std::string(to_string(node)), std::string(iface)});
}

bool Lab::has_netem() const { return run({"bash", lab_sh(), "has_netem", prefix_}, 10s).ok(); }

void Lab::loss(Node node, std::string_view iface, int percent) {
  script(
      {"loss", prefix_, std::string(to_string(node)), std::string(iface), std::to_string(percent)});
}

void Lab::rate(Node node, std::string_view iface, std::string_view rate) {
  script({"rate", prefix_, std::string(to_string(node)), std::string(iface), std::string(rate)});
}

void Lab::set_mtu(Node node, std::string_view iface, int mtu) {
  script({"mtu", prefix_, std::string(to_string(node)), std::string(iface), std::to_string(mtu)});
}

void Lab::set_link_mtu(Node a, Node b, int mtu) {
  set_mtu(a, iface(a, b), mtu);
  set_mtu(b, iface(b, a), mtu);
}

void Lab::sysctl(Node node, std::string_view key, std::string_view value) {
  script({"sysctl", prefix_, std::string(to_string(node)), std::string(key), std::string(value)});
}

std::string Lab::sysctl(Node node, std::string_view key) const {
  CmdResult r = exec(node, {"sysctl", "-n", std::string(key)});
  if (!r.ok()) throw std::runtime_error("sysctl " + std::string(key) + ": " + r.err);
  return trim(r.out);
}

// --- servers ---------------------------------------------------------------------------------

const LabCerts& Lab::certs() {
  if (!certs_) {
    fs::path d = dir_ / "certs";
    script({"certs", d.string(), std::string(kServerName)});
    auto pair = [&](std::string_view name) {
      return CertKey{d / (std::string(name) + ".pem"), d / (std::string(name) + ".key")};
    };
    certs_ = LabCerts{d / "ca.pem",   pair("valid"),     pair("expired"),
                      pair("notyet"), pair("wrongname"), pair("selfsigned"), pair("client")};
  }
  return *certs_;
}

Process Lab::start_nginx_tls(const fs::path& cert, const fs::path& key, std::uint16_t port) {
  fs::path d = new_dir("nginx");
  fs::create_directories(d / "tmp");
  // Every path nginx would default to (/var/lib/nginx, /run/nginx.pid, /var/log/nginx) is in d.
  std::string conf = R"(daemon off;
worker_processes 1;
pid @DIR@/nginx.pid;
error_log @DIR@/error.log info;
events { worker_connections 64; }
http {
  access_log @DIR@/access.log;
  client_body_temp_path @DIR@/tmp/body;
  proxy_temp_path @DIR@/tmp/proxy;
  fastcgi_temp_path @DIR@/tmp/fastcgi;
  uwsgi_temp_path @DIR@/tmp/uwsgi;
  scgi_temp_path @DIR@/tmp/scgi;
  server {
    listen @PORT@ ssl;
    listen [::]:@PORT@ ssl;
    ssl_certificate @CERT@;
    ssl_certificate_key @KEY@;
    location / { return 200 "connscope lab\n"; }
    location = @LARGE_PATH@ { return 200 "@LARGE_BODY@"; }
  }
}
)";
  for (const auto& [word, value] : {std::pair<std::string, std::string>{"@DIR@", d.string()},
                                    {"@PORT@", std::to_string(port)},
                                    {"@CERT@", cert.string()},
                                    {"@KEY@", key.string()},
                                    {"@LARGE_PATH@", std::string(kNginxLargePath)},
                                    {"@LARGE_BODY@", std::string(kNginxLargeBody, 'x')}}) {
    for (auto at = conf.find(word); at != std::string::npos;
         at = conf.find(word, at + value.size())) {
      conf.replace(at, word.size(), value);
    }
  }
  write_file(d / "nginx.conf", conf);
  Process nginx = spawn(Node::server, {"nginx", "-p", d.string(), "-c", (d / "nginx.conf").string(),
                                       "-e", (d / "error.log").string()});
  if (!wait_for_tcp_listen(Node::server, port, 5s)) {
    nginx.stop();
    throw std::runtime_error("nginx did not listen on " + std::to_string(port) + ": " +
                             nginx.err() + read_file(d / "error.log"));
  }
  return nginx;
}

DnsServer Lab::start_dnsmasq(const std::vector<DnsRecord>& records) {
  // The SERVFAIL upstream: a socket on the dns namespace's loopback, served by DnsServer.
  auto [sock, servfail_port] = in_ns(Node::dns, [] {
    UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd) throw_errno("socket");
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), len) != 0 ||
        ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
      throw_errno("servfail socket");
    }
    return std::pair{std::move(fd), ntohs(sa.sin_port)};
  });

  fs::path d = new_dir("dnsmasq");
  std::string conf = "no-resolv\nno-hosts\nbind-interfaces\nuser=root\ngroup=root\nlog-queries\n";
  conf += "listen-address=" + dns_v4() + "," + dns_v6() + "\n";
  conf += "local=/" + std::string(kDnsZone) + "/\n";
  conf += "host-record=" + std::string(kServerName) + "," + server_v4() + "," + server_v6() + "\n";
  for (const auto& r : records) conf += "host-record=" + r.name + "," + r.address + "\n";
  conf += "server=/" + std::string(kDnsServfailZone) + "/127.0.0.1#" +
          std::to_string(servfail_port) + "\n";
  conf += "server=/" + std::string(kDnsTimeoutZone) + "/" + silent_v4() + "\n";
  write_file(d / "dnsmasq.conf", conf);

  Process dnsmasq = spawn(Node::dns, {"dnsmasq", "--keep-in-foreground", "--log-facility=-",
                                      "--conf-file=" + (d / "dnsmasq.conf").string(),
                                      "--pid-file=" + (d / "dnsmasq.pid").string()});
  if (!wait_for_tcp_listen(Node::dns, 53, 5s)) {
    dnsmasq.stop();
    throw std::runtime_error("dnsmasq did not start: " + dnsmasq.err());
  }
  return DnsServer(std::move(dnsmasq), std::move(sock));
}

// --- availability ----------------------------------------------------------------------------

std::optional<std::string> unavailable_reason() {
  static const std::optional<std::string> reason = []() -> std::optional<std::string> {
    if (::geteuid() != 0) return "lab tests need root (euid " + std::to_string(::geteuid()) + ")";
    CmdResult r = run({"ip", "netns", "list"}, 5s);
    if (!r.ok()) return "`ip netns list` failed: " + trim(r.err);
    if (!fs::exists(lab_sh())) return "lab.sh not found at " + lab_sh();
    return std::nullopt;
  }();
  return reason;
}

bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && (std::string_view(ci) == "true" || std::string_view(ci) == "1");
}

void LabTest::SetUp() {
  CONNSCOPE_LAB_OR_SKIP();
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  lab_ = Lab::create(std::string(info->test_suite_name()) + "." + info->name());
}

}  // namespace connscope::lab
