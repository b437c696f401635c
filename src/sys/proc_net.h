#pragma once
// /proc/net/tcp and /proc/net/tcp6: parsing (pure) and finding which process owns a socket.
// Used where a netlink dump would be overkill, e.g. naming who holds a port on bind failure.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace connscope::sys {

struct ProcNetTcpEntry {
  int family = 0;  // AF_INET or AF_INET6
  std::string local_address;
  std::uint16_t local_port = 0;
  std::string remote_address;
  std::uint16_t remote_port = 0;
  int state = 0;  // kernel TCP state number (10 = LISTEN, 8 = CLOSE_WAIT)
  // For LISTEN sockets rx_queue is the accept queue (connections waiting for accept()).
  std::uint32_t tx_queue = 0;
  std::uint32_t rx_queue = 0;
  std::uint64_t inode = 0;
  std::uint32_t uid = 0;
};

// Parses the text of /proc/net/tcp (family AF_INET) or /proc/net/tcp6 (AF_INET6).
// Malformed lines are an error naming the line number.
Result<std::vector<ProcNetTcpEntry>> parse_proc_net_tcp(std::string_view text, int family);

struct ProcessInfo {
  pid_t pid = 0;
  std::string command;  // /proc/<pid>/comm
};

// The process holding a TCP socket bound to `port` in the given state (LISTEN by default),
// read from /proc under `proc_root`. Empty when none is found or /proc is not readable
// (other users' processes need root).
std::optional<ProcessInfo> find_tcp_port_owner(std::uint16_t port, int state = 10,
                                               const std::string& proc_root = "/proc");

// "socket:[12345]" (a /proc/<pid>/fd link target) -> 12345 (pure); nullopt for any other target.
std::optional<std::uint64_t> socket_inode_from_link(std::string_view target);

// Reads a whole small file (procfs, sysfs).
Result<std::string> read_file(const std::string& path);

}  // namespace connscope::sys
