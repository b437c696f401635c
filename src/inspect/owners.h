#pragma once
// Which process owns which socket: a scan of /proc/<pid>/fd (socket:[INODE] links), with each
// process's command, open descriptor count and descriptor limit. TIME_WAIT and request sockets
// have no inode and so no owner; sockets of other users' processes need root to attribute.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "core/error.h"

namespace connscope::inspect {

struct ProcessEntry {
  pid_t pid = 0;
  std::string command;                // /proc/<pid>/comm
  std::uint64_t open_fds = 0;         // entries in /proc/<pid>/fd
  std::optional<std::uint64_t> nofile_soft;  // "Max open files" soft limit; nullopt: unlimited
  std::optional<std::uint64_t> nofile_hard;
};

class OwnerTable;
// For --record / --replay: the table as text, one line per process
// ("P pid open_fds nofile_soft|- nofile_hard|- command") and per socket ("S inode pid"),
// plus "U count" for the unreadable processes. Pure.
// With `only` (may be null: all), just the sockets listed there and their processes (a recording then holds what
// the dump referred to, not every socket of the machine).
std::string format_owner_records(const OwnerTable& table,
                                 const std::unordered_set<std::uint64_t>* only);
Result<OwnerTable> parse_owner_records(std::string_view text);

class OwnerTable {
 public:
  // The owning process of a socket inode, or nullptr. With several owners (a forked server
  // sharing a listener) the lowest pid is kept: usually the parent.
  [[nodiscard]] const ProcessEntry* owner(std::uint64_t inode) const;
  [[nodiscard]] const std::vector<ProcessEntry>& processes() const { return processes_; }
  // Processes whose descriptors could not be read (another user's, without root).
  [[nodiscard]] std::uint64_t unreadable() const { return unreadable_; }

 private:
  friend Result<OwnerTable> scan_owners(std::string_view proc_root);
  friend Result<OwnerTable> parse_owner_records(std::string_view text);
  friend std::string format_owner_records(const OwnerTable& table,
                                          const std::unordered_set<std::uint64_t>* only);
  // Sorts by_inode_ and keeps one owner per inode (the lowest pid).
  void index();
  std::vector<ProcessEntry> processes_;
  // (inode, index in processes_), sorted by inode: 16 bytes per owned socket, a third of a hash
  // map's, so the one structure that grows with the socket count stays small (200k: 3 MiB).
  std::vector<std::pair<std::uint64_t, std::uint32_t>> by_inode_;
  std::uint64_t unreadable_ = 0;
};

// Reads every /proc/<pid>/fd under proc_root, on up to 4 threads (readlink on /proc is kernel
// work that spreads over cores; processes are split between the threads). Fails only when
// proc_root itself cannot be read.
Result<OwnerTable> scan_owners(std::string_view proc_root = "/proc");

struct NofileLimit {
  std::optional<std::uint64_t> soft;  // nullopt: unlimited
  std::optional<std::uint64_t> hard;
};
// The "Max open files" line of /proc/<pid>/limits (pure).
Result<NofileLimit> parse_nofile_limit(std::string_view limits_text);

}  // namespace connscope::inspect
