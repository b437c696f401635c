#pragma once
// What `connscope audit` reads: the kernel settings it is asked for (from <proc_root>/sys), the
// listeners (one LISTEN-only sock_diag dump per family: only the listening hash is walked) and,
// unless told not to, their processes. Live, recorded (--record DIR) or replayed from a recording
// (--replay DIR), through one DumpSource and one /proc root, so that a recording replays the
// audit exactly. The judging is rules::evaluate_audit; this only gathers.
//
// A recording folder holds sock_diag.nldump (the dumps, in order), proc/sys/... (each setting
// read, as /proc/sys has it), proc/net/if_inet6 (present when the IPv6 dump ran) and owners.txt
// (the listeners' processes, format_owner_records; absent: owners not scanned).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/endpoint.h"
#include "core/error.h"
#include "core/text.h"
#include "inspect/owners.h"

namespace connscope::sys {
class DumpSource;
}  // namespace connscope::sys

namespace connscope::inspect {

struct AuditGatherOptions {
  std::vector<std::string> sysctls;  // the names to read (rules::audited_sysctls())
  // Where the settings and the IPv6 marker are read: "/proc" live, "<dir>/proc" on replay.
  std::string proc_root = "/proc";
  bool owners = true;  // scan /proc/<pid>/fd for the listeners' processes
  // Replay: the owners recording (format_owner_records) instead of a scan.
  std::optional<std::string> owner_records;
  // When set, what is read is also written here (the layout above); the dumps are recorded by
  // the DumpSource itself (sys::DumpRecorder).
  std::string record_dir;
};

// One listening socket and, when known, its process.
struct AuditListenerSeen {
  Endpoint local;
  std::uint32_t backlog_limit = 0;  // Send-Q of a LISTEN socket: min(backlog, somaxconn then)
  std::optional<ProcessEntry> owner;
};

struct AuditInputs {
  std::map<std::string, std::string> sysctls;  // every setting that could be read, by name
  std::vector<AuditListenerSeen> listeners;    // IPv4's, then IPv6's, in dump order
  std::vector<std::string> notes;              // what could not be seen, in `lang`, for a person
};

// A setting this kernel (or network namespace) lacks is left out, not an error; none at all is.
Result<AuditInputs> gather_audit(sys::DumpSource& dumps, const AuditGatherOptions& options, Lang lang);

// The paths of a recording folder's parts.
std::string audit_recording_dumps(const std::string& dir);   // "<dir>/sock_diag.nldump"
std::string audit_recording_proc(const std::string& dir);    // "<dir>/proc"
std::string audit_recording_owners(const std::string& dir);  // "<dir>/owners.txt"

}  // namespace connscope::inspect
