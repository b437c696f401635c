#include "inspect/audit.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <unordered_set>

#include "core/error_text.h"
#include "inspect/sock_diag.h"
#include "sys/netlink.h"
#include "sys/sysctl.h"

namespace connscope::inspect {

namespace {

namespace fs = std::filesystem;

// Without IPv6 in the kernel the IPv6 dump is refused; that is not a failure of the audit. The
// recording keeps the answer as an empty marker file, so a replay asks for the same dumps.
bool have_ipv6(const std::string& proc_root) {
  struct stat st {};
  return ::stat((proc_root + "/net/if_inet6").c_str(), &st) == 0;
}

Result<void> write_recorded(const fs::path& path, std::string_view text) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  std::ofstream f(path, std::ios::binary);
  f << text;
  if (!f.flush()) return fail_text(path.string(), Msg::err_write_recording, {}, EIO);
  return {};
}

// Every LISTEN socket of one family, with its owner when the table has it.
Result<void> dump_listeners(sys::DumpSource& source, int family, const OwnerTable* owners,
                            std::unordered_set<std::uint64_t>& inodes, AuditInputs& out) {
  sys::InetDiagRequest req;
  req.family = family;
  req.protocol = IPPROTO_TCP;
  req.states = sys::tcp_state_bit(tcp_state::kListen);
  auto stats = source.dump(req, [&](std::span<const std::byte> message) -> Result<void> {
    auto rec = parse_sock_diag_message(message, IPPROTO_TCP);
    if (!rec) return std::unexpected(rec.error());
    if (rec->state != tcp_state::kListen) return {};
    AuditListenerSeen l;
    l.local = rec->local;
    l.backlog_limit = rec->wqueue;
    if (rec->inode) {
      inodes.insert(*rec->inode);
      if (owners != nullptr) {
        if (const auto* p = owners->owner(*rec->inode)) l.owner = *p;
      }
    }
    out.listeners.push_back(std::move(l));
    return {};
  });
  if (!stats) return std::unexpected(stats.error());
  return {};
}

}  // namespace

std::string audit_recording_dumps(const std::string& dir) { return dir + "/sock_diag.nldump"; }
std::string audit_recording_proc(const std::string& dir) { return dir + "/proc"; }
std::string audit_recording_owners(const std::string& dir) { return dir + "/owners.txt"; }

Result<AuditInputs> gather_audit(sys::DumpSource& dumps, const AuditGatherOptions& o, Lang lang) {
  AuditInputs out;
  const bool recording = !o.record_dir.empty();
  for (const auto& name : o.sysctls) {
    // A setting this kernel (or this network namespace) does not have is shown as such by the
    // rules; it is not an error.
    auto v = sys::read_sysctl(name, o.proc_root);
    if (!v) continue;
    if (recording) {
      if (auto w = write_recorded(sys::sysctl_path(name, audit_recording_proc(o.record_dir)), *v + "\n"); !w) {
        return std::unexpected(w.error());
      }
    }
    out.sysctls.emplace(name, std::move(*v));
  }
  if (out.sysctls.empty()) return fail_text("read " + o.proc_root + "/sys", Msg::audit_err_no_sysctls);

  std::optional<OwnerTable> owners;
  if (o.owner_records) {
    auto table = parse_owner_records(*o.owner_records);
    if (!table) return std::unexpected(table.error());
    owners = std::move(*table);
  } else if (o.owners) {
    auto table = scan_owners("/proc");
    if (!table) return std::unexpected(table.error());
    owners = std::move(*table);
  }
  if (!owners) {
    out.notes.push_back(tr(lang, Msg::audit_no_owners));
  } else if (owners->unreadable() > 0) {
    out.notes.push_back(tr(lang, Msg::audit_need_root, fmt::arg("count", owners->unreadable())));
  }

  const OwnerTable* table = owners ? &*owners : nullptr;
  std::unordered_set<std::uint64_t> inodes;  // for the recording's owners
  if (auto r = dump_listeners(dumps, AF_INET, table, inodes, out); !r) return std::unexpected(r.error());
  if (have_ipv6(o.proc_root)) {
    if (recording) {
      if (auto w = write_recorded(audit_recording_proc(o.record_dir) + "/net/if_inet6", ""); !w) {
        return std::unexpected(w.error());
      }
    }
    if (auto r = dump_listeners(dumps, AF_INET6, table, inodes, out); !r) return std::unexpected(r.error());
  }
  if (recording && owners) {
    if (auto w = write_recorded(audit_recording_owners(o.record_dir), format_owner_records(*owners, &inodes)); !w) {
      return std::unexpected(w.error());
    }
  }
  return out;
}

}  // namespace connscope::inspect
