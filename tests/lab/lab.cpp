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

Fd open_or_throw(const std::string& path, int flags, mode_t mode = 0) {
  Fd fd(::open(path.c_str(), flags | O_CLOEXEC, mode));
  if (!fd) throw_errno("open " + path);
  return fd;
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

int wait_status_to_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Between fork and exec only async-signal-safe calls: the test process has other threads.
[[noreturn]] void exec_child(char* const* argv, int netns_fd, int in, int out, int err) {
  ::setpgid(0, 0);  // its own group, so a timeout or stop() also ends its children
  if (netns_fd >= 0 && ::setns(netns_fd, CLONE_NEWNET) != 0) {
    constexpr std::string_view msg = "lab: setns failed\n";
    [[maybe_unused]] auto n = ::write(err, msg.data(), msg.size());
    ::_exit(126);
  }
  ::dup2(in, 0);
  ::dup2(out, 1);
  ::dup2(err, 2);
  // Other threads may have opened fds without O_CLOEXEC (test sockets): keep them out of servers.
  ::close_range(3, UINT_MAX, 0);
  ::execvp(argv[0], argv);
  constexpr std::string_view msg = "lab: exec failed\n";
  [[maybe_unused]] auto n = ::write(2, msg.data(), msg.size());
  ::_exit(127);
}

std::vector<char*> c_argv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (const auto& a : argv) out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

Fd pidfd_of(pid_t pid) {
  // glibc 2.36's <sys/pidfd.h> lacks extern "C", so the wrapper does not link from C++.
  Fd fd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!fd) throw_errno("pidfd_open");
  return fd;
}

bool poll_readable(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  int n = ::poll(&p, 1, static_cast<int>(std::max(timeout, 0ms).count()));
  return n > 0;
}

// Reads whatever is available; closes the pipe at EOF.
void drain(Fd& pipe, std::string& into) {
  std::array<char, 4096> buf{};
  while (pipe) {
    ssize_t n = ::read(pipe.get(), buf.data(), buf.size());
    if (n > 0) {
      into.append(buf.data(), static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      if (n == 0) pipe = Fd();
      return;
    }
  }
}

std::string_view reject_kind_arg(RejectKind kind) {
  switch (kind) {
    case RejectKind::tcp_reset: return "tcp-reset";
    case RejectKind::port_unreachable: return "port-unreachable";
    case RejectKind::host_unreachable: return "host-unreachable";
    case RejectKind::admin_prohibited: return "admin-prohibited";
    case RejectKind::net_unreachable: return "net-unreachable";
    case RejectKind::addr_unreachable: return "addr-unreachable";
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

std::string sanitized(std::string_view name) {
  std::string out;
  for (char c : name.substr(0, 60)) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    out += ok ? c : '_';
  }
  return out;
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
    ssize_t n = ::recvfrom(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from),
                           &from_len);
    if (n < 12) continue;
    auto len = static_cast<std::size_t>(n);
    std::size_t end = 12;
    while (end < len && buf[end] != 0 && (buf[end] & 0xC0) == 0) end += buf[end] + 1u;
    end += 1 + 4;  // root label, QTYPE, QCLASS
    if (end > len) continue;
    buf[2] = static_cast<unsigned char>(0x80 | (buf[2] & 0x79));  // QR; keep opcode and RD
    buf[3] = 0x80 | 2;                                             // RA, RCODE SERVFAIL
    std::fill(buf.begin() + 6, buf.begin() + 12, 0);               // AN, NS, AR counts
    ::sendto(fd, buf.data(), end, 0, reinterpret_cast<sockaddr*>(&from), from_len);
  }
}

}  // namespace

std::string_view to_string(Node node) {
  switch (node) {
    case Node::client: return "client";
    case Node::r1: return "r1";
    case Node::r2: return "r2";
    case Node::server: return "server";
    case Node::dns: return "dns";
  }
  return "?";
}

std::string_view to_string(Family family) { return family == Family::v4 ? "v4" : "v6"; }

std::string_view to_string(RejectKind kind) { return reject_kind_arg(kind); }

// --- Fd, run ---------------------------------------------------------------------------------

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

CmdResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
              int netns_fd) {
  CmdResult result;
  if (argv.empty()) {
    result.err = "run: empty argv";
    return result;
  }
  auto args = c_argv(argv);
  std::array<int, 2> out_pipe{}, err_pipe{};
  if (::pipe2(out_pipe.data(), O_CLOEXEC) != 0) throw_errno("pipe2");
  Fd out_r(out_pipe[0]), out_w(out_pipe[1]);
  if (::pipe2(err_pipe.data(), O_CLOEXEC) != 0) throw_errno("pipe2");
  Fd err_r(err_pipe[0]), err_w(err_pipe[1]);
  Fd null = open_or_throw("/dev/null", O_RDONLY);

  pid_t pid = ::fork();
  if (pid < 0) throw_errno("fork");
  if (pid == 0) exec_child(args.data(), netns_fd, null.get(), out_w.get(), err_w.get());
  out_w = Fd();
  err_w = Fd();
  ::fcntl(out_r.get(), F_SETFL, O_NONBLOCK);
  ::fcntl(err_r.get(), F_SETFL, O_NONBLOCK);
  Fd pidfd = pidfd_of(pid);

  // Until it exits (then take what its pipes hold: a daemon it started may keep them open).
  auto deadline = Clock::now() + timeout;
  bool exited = false;
  while (true) {
    std::array<pollfd, 3> fds{{{out_r.get(), POLLIN, 0}, {err_r.get(), POLLIN, 0},
                               {pidfd.get(), POLLIN, 0}}};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (!exited && left <= 0ms) {
      ::kill(-pid, SIGKILL);
      result.timed_out = true;
      break;
    }
    ::poll(fds.data(), fds.size(), exited ? 0 : static_cast<int>(left.count()) + 1);
    drain(out_r, result.out);
    drain(err_r, result.err);
    if (exited) break;
    exited = (fds[2].revents & POLLIN) != 0;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  ::kill(-pid, SIGKILL);  // whatever it left behind in its group
  result.exit_code = wait_status_to_code(status);
  return result;
}

// --- Process ---------------------------------------------------------------------------------

Process::Process(pid_t pid, Fd pidfd, fs::path out, fs::path err)
    : pid_(pid), pidfd_(std::move(pidfd)), out_path_(std::move(out)), err_path_(std::move(err)) {}

Process::Process(Process&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      pidfd_(std::move(other.pidfd_)),
      status_(std::exchange(other.status_, std::nullopt)),
      out_path_(std::move(other.out_path_)),
      err_path_(std::move(other.err_path_)) {}

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0 && !status_) stop();
    pid_ = std::exchange(other.pid_, -1);
    pidfd_ = std::move(other.pidfd_);
    status_ = std::exchange(other.status_, std::nullopt);
    out_path_ = std::move(other.out_path_);
    err_path_ = std::move(other.err_path_);
  }
  return *this;
}

Process::~Process() {
  if (pid_ > 0 && !status_) stop();
}

bool Process::running() const {
  return pid_ > 0 && !status_ && !poll_readable(pidfd_.get(), 0ms);
}

int Process::reap() {
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  // The group id stays reserved while any member lives, so this cannot hit a stranger.
  ::kill(-pid_, SIGKILL);
  status_ = wait_status_to_code(status);
  return *status_;
}

std::optional<int> Process::wait(std::chrono::milliseconds timeout) {
  if (status_ || pid_ <= 0) return status_;
  if (!poll_readable(pidfd_.get(), timeout)) return std::nullopt;
  return reap();
}

int Process::stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return -1;
  if (status_) return *status_;
  // Until reaped, pid_ is still ours (a zombie at worst), so signalling it is safe.
  ::kill(-pid_, SIGTERM);
  if (!poll_readable(pidfd_.get(), grace)) ::kill(-pid_, SIGKILL);
  return reap();
}

std::string Process::out() const { return read_file(out_path_); }
std::string Process::err() const { return read_file(err_path_); }

// --- DnsServer -------------------------------------------------------------------------------

DnsServer::DnsServer(Process dnsmasq, Fd servfail_socket)
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

  std::string tmpl =
      (fs::temp_directory_path() / ("connscope-lab-" + prefix + "-" + sanitized(test_name) +
                                    "-XXXXXX")).string();
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
    CmdResult down = run({"bash", lab_sh(), "down", prefix_}, 30s);
    if (!down.ok()) std::cerr << "lab: removing " << prefix_ << " failed: " << down.err << '\n';
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

Fd Lab::open_netns(Node node) const {
  return open_or_throw("/run/netns/" + ns(node), O_RDONLY);
}

void Lab::enter_netns(Node node) const {
  Fd fd = open_netns(node);
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
    case Node::r2: return addr(node, Node::r1, family);
    case Node::r1: return addr(node, Node::client, family);
    case Node::server: return addr(node, Node::r2, family);
    case Node::dns: return addr(node, Node::r1, family);
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
  Fd netns = open_netns(node);
  return run(argv, timeout, netns.get());
}

Process Lab::spawn(Node node, const std::vector<std::string>& argv) {
  if (argv.empty()) throw std::invalid_argument("spawn: empty argv");
  std::string base = sanitized(fs::path(argv[0]).filename().string()) + "-" +
                     std::string(to_string(node)) + "-" + std::to_string(++next_id_);
  fs::path out_path = dir_ / (base + ".out"), err_path = dir_ / (base + ".err");
  Fd out = open_or_throw(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  Fd err = open_or_throw(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  Fd null = open_or_throw("/dev/null", O_RDONLY);
  Fd netns = open_netns(node);
  auto args = c_argv(argv);
  pid_t pid = ::fork();
  if (pid < 0) throw_errno("fork");
  if (pid == 0) exec_child(args.data(), netns.get(), null.get(), out.get(), err.get());
  return Process(pid, pidfd_of(pid), out_path, err_path);
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
  script({"drop", prefix_, std::string(to_string(where)), family_arg(family),
          std::to_string(port)});
}

void Lab::drop_frag_needed(Node router) {
  script({"drop_frag_needed", prefix_, std::string(to_string(router))});
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

bool Lab::has_netem() const {
  return run({"bash", lab_sh(), "has_netem", prefix_}, 10s).ok();
}

void Lab::loss(Node node, std::string_view iface, int percent) {
  script({"loss", prefix_, std::string(to_string(node)), std::string(iface),
          std::to_string(percent)});
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
    certs_ = LabCerts{d / "ca.pem",       pair("valid"),     pair("expired"),
                      pair("notyet"),     pair("wrongname"), pair("selfsigned")};
  }
  return *certs_;
}

Process Lab::start_nginx_tls(const fs::path& cert, const fs::path& key, std::uint16_t port) {
  fs::path d = new_dir("nginx");
  fs::create_directories(d / "tmp");
  std::string p = std::to_string(port), tmp = (d / "tmp").string();
  // Every path nginx would default to (/var/lib/nginx, /run/nginx.pid, /var/log/nginx) moved here.
  write_file(d / "nginx.conf",
             "daemon off;\nworker_processes 1;\npid " + (d / "nginx.pid").string() +
                 ";\nerror_log " + (d / "error.log").string() +
                 " info;\nevents { worker_connections 64; }\nhttp {\n  access_log " +
                 (d / "access.log").string() + ";\n  client_body_temp_path " + tmp +
                 "/body;\n  proxy_temp_path " + tmp + "/proxy;\n  fastcgi_temp_path " + tmp +
                 "/fastcgi;\n  uwsgi_temp_path " + tmp + "/uwsgi;\n  scgi_temp_path " + tmp +
                 "/scgi;\n  server {\n    listen " + p + " ssl;\n    listen [::]:" + p +
                 " ssl;\n    ssl_certificate " + cert.string() + ";\n    ssl_certificate_key " +
                 key.string() + ";\n    location / { return 200 \"connscope lab\\n\"; }\n  }\n}\n");
  Process nginx = spawn(Node::server, {"nginx", "-p", d.string(), "-c", (d / "nginx.conf").string(),
                                       "-e", (d / "error.log").string()});
  if (!wait_for_tcp_listen(Node::server, port, 5s)) {
    nginx.stop();
    throw std::runtime_error("nginx did not listen on " + p + ": " + nginx.err() +
                             read_file(d / "error.log"));
  }
  return nginx;
}

DnsServer Lab::start_dnsmasq(const std::vector<DnsRecord>& records) {
  // The SERVFAIL upstream: a socket on the dns namespace's loopback, served by DnsServer.
  auto [sock, servfail_port] = in_ns(Node::dns, [] {
    Fd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
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
