#pragma once
// Audit rules: pure functions from the kernel's settings (sysctl name -> text, as read from
// /proc/sys), the listeners' accept-queue limits and their processes' nofile limits to a verdict
// per setting and findings. No I/O; unit-tested on recorded values, including the cases that
// must not fire. `connscope audit` reads the inputs and renders the result.

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/text.h"
#include "rules/finding.h"

namespace connscope::rules {

// One listening socket, from a LISTEN-only sock_diag dump (and the owner scan, when it ran).
struct AuditListener {
  std::string address;  // "0.0.0.0:80", "[::]:443"
  std::uint16_t port = 0;
  // The accept-queue limit the kernel holds for it (Send-Q of a LISTEN socket):
  // min(the backlog passed to listen(), net.core.somaxconn at the time of that call).
  std::uint32_t backlog_limit = 0;
  std::optional<pid_t> pid;  // absent: owners not scanned, or not readable without root
  std::string command;
  std::optional<std::uint64_t> nofile_soft;  // absent: unlimited or unknown (not judged)
  std::optional<std::uint64_t> open_fds;
};

struct AuditEvidence {
  // Every setting that could be read, by sysctl name; a name that is absent is not available
  // on this kernel (or not in this network namespace).
  std::map<std::string, std::string> sysctls;
  std::vector<AuditListener> listeners;
};

enum class SettingStatus {
  ok,           // meets the recommendation for a busy server
  below,        // does not: counts toward exit status 1
  info,         // a judgement call: worth knowing, not wrong
  unavailable,  // the kernel (or namespace) does not have it
};

std::string_view setting_status_name(SettingStatus s);

struct SettingCheck {
  std::string name;                  // "net.core.somaxconn"
  std::optional<std::string> value;  // as the kernel shows it (tabs as spaces); absent: unavailable
  std::string recommended;           // the value to set, in sysctl syntax ("10240 65535")
  SettingStatus status = SettingStatus::ok;
  std::string why;                   // what the setting does and why the recommendation
  // Set when the status is below or info: "sysctl -w name=value" and the sysctl.d line
  // "name = value" for kSysctlDFile.
  std::optional<std::string> fix_command;
  std::optional<std::string> sysctl_d;
};

struct ListenerCheck {
  AuditListener listener;
  std::optional<std::uint64_t> somaxconn;
  // Its own listen() backlog, not somaxconn, is the limit (backlog_limit < somaxconn): raising
  // somaxconn does not help it; the application's backlog (or a restart) does.
  bool limited_by_backlog = false;
};

struct AuditReport {
  std::vector<SettingCheck> settings;   // in audited_sysctls() order, unavailable ones included
  std::vector<ListenerCheck> listeners;
  std::vector<Finding> findings;        // sysctl.<name>, limits.nofile_low, conntrack.table_full

  // Anything below recommendation: a setting, or a finding of warning or critical severity.
  [[nodiscard]] bool below_recommendation() const;
};

// Where the sysctl.d lines go.
inline constexpr std::string_view kSysctlDFile = "/etc/sysctl.d/90-connscope.conf";

// The sysctl names the audit reads (the CLI reads exactly these, skipping missing ones).
const std::vector<std::string>& audited_sysctls();

AuditReport evaluate_audit(const AuditEvidence& e, Lang lang = Lang::en);

// The thresholds, in one place so the docs and the tests can quote them.
struct AuditThresholds {
  static constexpr std::int64_t kSomaxconn = 4096;
  static constexpr std::int64_t kMaxSynBacklog = 4096;
  static constexpr std::int64_t kSynackRetries = 2;
  static constexpr std::int64_t kSynRetries = 3;
  static constexpr std::int64_t kKeepaliveTime = 600;
  static constexpr std::int64_t kKeepaliveIntvl = 30;
  static constexpr std::int64_t kKeepaliveProbes = 5;
  static constexpr std::int64_t kFinTimeout = 30;
  static constexpr std::int64_t kLocalPorts = 50000;  // ports in ip_local_port_range, at least
  static constexpr std::int64_t kMaxTwBucketsLow = 65536;  // below: someone lowered it
  static constexpr std::int64_t kMaxTwBuckets = 262144;
  static constexpr std::int64_t kMaxOrphans = 65536;
  static constexpr std::int64_t kBufferMax = 16 * 1024 * 1024;  // tcp_rmem / tcp_wmem max
  static constexpr std::int64_t kNetdevMaxBacklog = 16384;
  static constexpr std::int64_t kFileMax = 1048576;
  static constexpr std::int64_t kNrOpen = 1048576;
  static constexpr std::int64_t kConntrackMax = 262144;
  static constexpr double kConntrackWarnFraction = 0.8;
  static constexpr double kConntrackCritFraction = 0.95;
  static constexpr std::uint64_t kNofile = 65535;  // soft limit of a listening process
};

}  // namespace connscope::rules
