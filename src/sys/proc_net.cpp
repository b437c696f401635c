#include "sys/proc_net.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>

#include <fmt/format.h>

#include "core/error_text.h"
#include "sys/unique_fd.h"

namespace connscope::sys {

namespace {

template <class T>
bool parse_hex(std::string_view s, T& out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out, 16);
  return ec == std::errc{} && ptr == s.data() + s.size();
}

template <class T>
bool parse_dec(std::string_view s, T& out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out, 10);
  return ec == std::errc{} && ptr == s.data() + s.size();
}

// "0100007F:1F90" -> ("127.0.0.1", 8080). The kernel prints each 32-bit word in host order.
bool parse_hex_endpoint(std::string_view s, int family, std::string& addr, std::uint16_t& port) {
  const auto colon = s.find(':');
  if (colon == std::string_view::npos) return false;
  const auto addr_hex = s.substr(0, colon);
  if (!parse_hex(s.substr(colon + 1), port)) return false;
  const std::size_t words = family == AF_INET6 ? 4 : 1;
  if (addr_hex.size() != words * 8) return false;
  std::array<std::uint32_t, 4> raw{};
  for (std::size_t i = 0; i < words; ++i) {
    if (!parse_hex(addr_hex.substr(i * 8, 8), raw[i])) return false;
  }
  char buf[INET6_ADDRSTRLEN];
  if (inet_ntop(family, raw.data(), buf, sizeof buf) == nullptr) return false;
  addr = buf;
  return true;
}

// "00000000:00000009" -> tx 0, rx 9.
bool parse_queues(std::string_view s, std::uint32_t& tx, std::uint32_t& rx) {
  const auto colon = s.find(':');
  return colon != std::string_view::npos && parse_hex(s.substr(0, colon), tx) &&
         parse_hex(s.substr(colon + 1), rx);
}

std::vector<std::string_view> split_ws(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    const std::size_t start = i;
    while (i < line.size() && line[i] != ' ') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

}  // namespace

Result<std::vector<ProcNetTcpEntry>> parse_proc_net_tcp(std::string_view text, int family) {
  std::vector<ProcNetTcpEntry> out;
  std::size_t line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const auto line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line_no == 1 || line.empty()) continue;  // header
    const auto f = split_ws(line);
    // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
    ProcNetTcpEntry e;
    e.family = family;
    if (f.size() < 10 || !parse_hex_endpoint(f[1], family, e.local_address, e.local_port) ||
        !parse_hex_endpoint(f[2], family, e.remote_address, e.remote_port) ||
        !parse_hex(f[3], e.state) || !parse_queues(f[4], e.tx_queue, e.rx_queue) ||
        !parse_dec(f[7], e.uid) || !parse_dec(f[9], e.inode)) {
      return fail_text(fmt::format("{}:{}", family == AF_INET6 ? "tcp6" : "tcp", line_no),
                       Msg::err_malformed_entry);
    }
    out.push_back(std::move(e));
  }
  return out;
}

std::optional<std::uint64_t> socket_inode_from_link(std::string_view target) {
  constexpr std::string_view prefix = "socket:[";
  if (!target.starts_with(prefix) || !target.ends_with(']')) return std::nullopt;
  std::uint64_t inode = 0;
  const auto digits = target.substr(prefix.size(), target.size() - prefix.size() - 1);
  if (digits.empty() || !parse_dec(digits, inode)) return std::nullopt;
  return inode;
}

Result<std::string> read_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return fail_text(path, Msg::err_open, {}, errno);
  std::string out;
  std::array<char, 65536> buf;
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_text(path, Msg::err_read, {}, errno);

    }
    if (n == 0) break;
    out.append(buf.data(), static_cast<std::size_t>(n));
  }
  return out;
}

std::optional<ProcessInfo> find_tcp_port_owner(std::uint16_t port, int state,
                                               const std::string& proc_root) {
  std::vector<std::uint64_t> inodes;
  for (int family : {AF_INET, AF_INET6}) {
    auto text = read_file(proc_root + (family == AF_INET ? "/net/tcp" : "/net/tcp6"));
    if (!text) continue;
    auto entries = parse_proc_net_tcp(*text, family);
    if (!entries) continue;
    for (const auto& e : *entries) {
      if (e.local_port == port && e.state == state && e.inode != 0) inodes.push_back(e.inode);
    }
  }
  if (inodes.empty()) return std::nullopt;

  std::unique_ptr<DIR, int (*)(DIR*)> proc(::opendir(proc_root.c_str()), ::closedir);
  if (!proc) return std::nullopt;
  while (const dirent* de = ::readdir(proc.get())) {
    pid_t pid = 0;
    if (!parse_dec(std::string_view(de->d_name), pid)) continue;
    const std::string fd_dir = fmt::format("{}/{}/fd", proc_root, pid);
    std::unique_ptr<DIR, int (*)(DIR*)> fds(::opendir(fd_dir.c_str()), ::closedir);
    if (!fds) continue;
    while (const dirent* fe = ::readdir(fds.get())) {
      if (fe->d_name[0] == '.') continue;
      char target[64];
      const std::string link = fd_dir + "/" + fe->d_name;
      const ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
      if (n <= 0) continue;
      const auto inode = socket_inode_from_link(std::string_view(target, static_cast<std::size_t>(n)));
      if (!inode) continue;
      for (auto want : inodes) {
        if (want == *inode) {
          ProcessInfo info;
          info.pid = pid;
          auto comm = read_file(fmt::format("{}/{}/comm", proc_root, pid));
          if (comm) {
            info.command = *comm;
            while (!info.command.empty() && info.command.back() == '\n') info.command.pop_back();
          }
          return info;
        }
      }
    }
  }
  return std::nullopt;
}

}  // namespace connscope::sys
