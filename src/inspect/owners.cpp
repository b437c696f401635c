#include "inspect/owners.h"

#include "core/error_text.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <functional>
#include <memory>
#include <system_error>
#include <thread>
#include <unordered_map>

#include "sys/proc_net.h"
#include "sys/unique_fd.h"

namespace connscope::inspect {

namespace {

template <class T>
bool parse_dec(std::string_view s, T& out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out, 10);
  return ec == std::errc{} && ptr == s.data() + s.size() && !s.empty();
}

using DirPtr = std::unique_ptr<DIR, int (*)(DIR*)>;

// Opens a directory relative to `at` without following a path string twice.
DirPtr open_dir_at(int at, const char* name) {
  const int fd = ::openat(at, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return DirPtr(nullptr, ::closedir);
  DIR* d = ::fdopendir(fd);
  if (d == nullptr) ::close(fd);
  return DirPtr(d, ::closedir);
}

std::optional<std::string> read_small_at(int at, const char* name) {
  sys::UniqueFd fd(::openat(at, name, O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

}  // namespace

Result<NofileLimit> parse_nofile_limit(std::string_view text) {
  // "Max open files            1024                 524288               files"
  constexpr std::string_view key = "Max open files";
  const auto pos = text.find(key);
  if (pos == std::string_view::npos) return fail_text("limits", Msg::err_no_max_open_files);
  auto line = text.substr(pos + key.size());
  line = line.substr(0, line.find('\n'));
  std::string_view fields[2];
  std::size_t found = 0;
  std::size_t i = 0;
  while (found < 2 && i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    const std::size_t start = i;
    while (i < line.size() && line[i] != ' ') ++i;
    if (i > start) fields[found++] = line.substr(start, i - start);
  }
  if (found < 2) return fail_text("limits", Msg::err_max_open_files_values);
  NofileLimit out;
  for (std::size_t k = 0; k < 2; ++k) {
    auto& slot = k == 0 ? out.soft : out.hard;
    if (fields[k] == "unlimited") continue;
    std::uint64_t v = 0;
    if (!parse_dec(fields[k], v)) {
      return fail_text("limits", Msg::err_max_open_files_number, {{"value", std::string(fields[k])}});
    }
    slot = v;
  }
  return out;
}

const ProcessEntry* OwnerTable::owner(std::uint64_t inode) const {
  const auto it = std::lower_bound(by_inode_.begin(), by_inode_.end(), inode,
                                   [](const auto& e, std::uint64_t v) { return e.first < v; });
  return it == by_inode_.end() || it->first != inode ? nullptr : &processes_[it->second];
}

void OwnerTable::index() {
  std::sort(by_inode_.begin(), by_inode_.end(), [this](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first : processes_[a.second].pid < processes_[b.second].pid;
  });
  by_inode_.erase(std::unique(by_inode_.begin(), by_inode_.end(),
                              [](const auto& a, const auto& b) { return a.first == b.first; }),
                  by_inode_.end());
  by_inode_.shrink_to_fit();
}

namespace {

// What one scanning thread found: its processes, and (inode, index into them) pairs.
struct ScanPart {
  std::vector<ProcessEntry> processes;
  std::vector<std::pair<std::uint64_t, std::uint32_t>> sockets;
  std::uint64_t unreadable = 0;
};

void scan_processes(int root_fd, const std::vector<std::string>& pids, std::size_t first,
                    std::size_t step, ScanPart& part) {
  char target[64];
  for (std::size_t k = first; k < pids.size(); k += step) {
    const char* name = pids[k].c_str();
    sys::UniqueFd pid_fd(::openat(root_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!pid_fd) continue;  // exited meanwhile
    DirPtr fds = open_dir_at(pid_fd.get(), "fd");
    if (!fds) {
      if (errno == EACCES || errno == EPERM) ++part.unreadable;
      continue;
    }
    ProcessEntry entry;
    parse_dec(std::string_view(pids[k]), entry.pid);
    const auto index = static_cast<std::uint32_t>(part.processes.size());
    const int fd_dir = ::dirfd(fds.get());
    while (const dirent* fe = ::readdir(fds.get())) {
      if (fe->d_name[0] == '.') continue;
      ++entry.open_fds;
      const ssize_t n = ::readlinkat(fd_dir, fe->d_name, target, sizeof target);
      if (n <= 0) continue;
      if (auto inode = sys::socket_inode_from_link(std::string_view(target, static_cast<std::size_t>(n)))) {
        part.sockets.emplace_back(*inode, index);
      }
    }
    if (auto comm = read_small_at(pid_fd.get(), "comm")) {
      entry.command = *comm;
      while (!entry.command.empty() && entry.command.back() == '\n') entry.command.pop_back();
    }
    if (auto limits = read_small_at(pid_fd.get(), "limits")) {
      if (auto nofile = parse_nofile_limit(*limits)) {
        entry.nofile_soft = nofile->soft;
        entry.nofile_hard = nofile->hard;
      }
    }
    part.processes.push_back(std::move(entry));
  }
}

}  // namespace

Result<OwnerTable> scan_owners(std::string_view proc_root) {
  const std::string root(proc_root);
  sys::UniqueFd root_fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd) return fail_text(root, Msg::err_open, {}, errno);
  DirPtr proc = open_dir_at(root_fd.get(), ".");
  if (!proc) return fail_text(root, Msg::err_list_dir, {}, errno);
  std::vector<std::string> pids;
  while (const dirent* de = ::readdir(proc.get())) {
    pid_t pid = 0;
    if (parse_dec(std::string_view(de->d_name), pid)) pids.emplace_back(de->d_name);
  }

  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const std::size_t threads = std::min<std::size_t>({4, cores, std::max<std::size_t>(1, pids.size() / 8)});
  std::vector<ScanPart> parts(threads);
  {
    std::vector<std::jthread> workers;
    for (std::size_t t = 1; t < threads; ++t) {
      try {
        workers.emplace_back(scan_processes, root_fd.get(), std::cref(pids), t, threads, std::ref(parts[t]));
      } catch (const std::system_error&) {
        // No thread: this one does that share after its own.
        scan_processes(root_fd.get(), pids, t, threads, parts[t]);
      }
    }
    scan_processes(root_fd.get(), pids, 0, threads, parts[0]);
  }  // joined

  OwnerTable table;
  std::size_t total = 0;
  for (const auto& part : parts) total += part.sockets.size();
  table.by_inode_.reserve(total);  // one allocation, not a doubling copy at 200k entries
  for (auto& part : parts) {
    const auto base = static_cast<std::uint32_t>(table.processes_.size());
    for (auto& e : part.processes) table.processes_.push_back(std::move(e));
    for (const auto& [inode, index] : part.sockets) table.by_inode_.emplace_back(inode, base + index);
    table.unreadable_ += part.unreadable;
    part.sockets = {};
  }
  table.index();
  return table;
}

std::string format_owner_records(const OwnerTable& table,
                                 const std::unordered_set<std::uint64_t>* only) {
  std::string out = "U " + std::to_string(table.unreadable_) + "\n";
  auto opt = [](const std::optional<std::uint64_t>& v) {
    return v ? std::to_string(*v) : std::string("-");
  };
  std::unordered_set<std::uint32_t> wanted;
  if (only != nullptr) {
    for (const auto& [inode, index] : table.by_inode_) {
      if (only->contains(inode)) wanted.insert(index);
    }
  }
  for (std::uint32_t i = 0; i < table.processes_.size(); ++i) {
    if (only != nullptr && !wanted.contains(i)) continue;
    const auto& p = table.processes_[i];
    out += "P " + std::to_string(p.pid) + " " + std::to_string(p.open_fds) + " " +
           opt(p.nofile_soft) + " " + opt(p.nofile_hard) + " " + p.command + "\n";
  }
  for (const auto& [inode, index] : table.by_inode_) {
    if (only != nullptr && !only->contains(inode)) continue;
    out += "S " + std::to_string(inode) + " " + std::to_string(table.processes_[index].pid) + "\n";
  }
  return out;
}

Result<OwnerTable> parse_owner_records(std::string_view text) {
  OwnerTable table;
  std::unordered_map<pid_t, std::uint32_t> index_of;
  std::size_t line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.empty()) continue;
    auto bad = [&] {
      return fail_text("owners:" + std::to_string(line_no), Msg::err_malformed_record);

    };
    // Split into at most 6 fields; the command (last) may contain spaces.
    std::vector<std::string_view> f;
    std::size_t i = 0;
    while (i < line.size() && f.size() < 6) {
      const std::size_t start = i;
      if (f.size() == 5) {
        i = line.size();
      } else {
        while (i < line.size() && line[i] != ' ') ++i;
      }
      f.push_back(line.substr(start, i - start));
      if (i < line.size()) ++i;
    }
    if (f.empty()) return bad();
    auto opt = [](std::string_view v, std::optional<std::uint64_t>& out) {
      if (v == "-") return true;
      std::uint64_t x = 0;
      if (!parse_dec(v, x)) return false;
      out = x;
      return true;
    };
    if (f[0] == "U" && f.size() == 2) {
      if (!parse_dec(f[1], table.unreadable_)) return bad();
    } else if (f[0] == "P" && f.size() >= 5) {
      ProcessEntry e;
      if (!parse_dec(f[1], e.pid) || !parse_dec(f[2], e.open_fds) || !opt(f[3], e.nofile_soft) ||
          !opt(f[4], e.nofile_hard)) {
        return bad();
      }
      if (f.size() == 6) e.command = std::string(f[5]);
      index_of[e.pid] = static_cast<std::uint32_t>(table.processes_.size());
      table.processes_.push_back(std::move(e));
    } else if (f[0] == "S" && f.size() == 3) {
      std::uint64_t inode = 0;
      pid_t pid = 0;
      if (!parse_dec(f[1], inode) || !parse_dec(f[2], pid)) return bad();
      const auto it = index_of.find(pid);
      if (it == index_of.end()) return bad();
      table.by_inode_.emplace_back(inode, it->second);
    } else {
      return bad();
    }
  }
  table.index();
  return table;
}

}  // namespace connscope::inspect
