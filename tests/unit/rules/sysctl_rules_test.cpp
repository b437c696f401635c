#include "rules/sysctl_rules.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace connscope::rules {
namespace {

// Recorded from a tuned busy server (values as /proc/sys shows them: tabs between fields).
AuditEvidence tuned() {
  AuditEvidence e;
  e.sysctls = {
      {"net.core.somaxconn", "4096"},
      {"net.ipv4.tcp_max_syn_backlog", "8192"},
      {"net.ipv4.tcp_syncookies", "1"},
      {"net.ipv4.tcp_synack_retries", "2"},
      {"net.ipv4.tcp_syn_retries", "3"},
      {"net.ipv4.tcp_abort_on_overflow", "0"},
      {"net.ipv4.tcp_fastopen", "3"},
      {"net.ipv4.tcp_keepalive_time", "600"},
      {"net.ipv4.tcp_keepalive_intvl", "30"},
      {"net.ipv4.tcp_keepalive_probes", "5"},
      {"net.ipv4.tcp_fin_timeout", "15"},
      {"net.ipv4.tcp_tw_reuse", "1"},
      {"net.ipv4.ip_local_port_range", "1024\t65535"},
      {"net.ipv4.tcp_max_tw_buckets", "262144"},
      {"net.ipv4.tcp_max_orphans", "131072"},
      {"net.ipv4.tcp_rmem", "4096\t131072\t33554432"},
      {"net.ipv4.tcp_wmem", "4096\t16384\t16777216"},
      {"net.core.netdev_max_backlog", "16384"},
      {"fs.file-max", "9223372036854775807"},
      {"fs.nr_open", "1048576"},
      {"net.netfilter.nf_conntrack_max", "262144"},
      {"net.netfilter.nf_conntrack_count", "1200"},
  };
  AuditListener l;
  l.address = "0.0.0.0:80";
  l.port = 80;
  l.backlog_limit = 4096;
  l.pid = 1234;
  l.command = "nginx";
  l.nofile_soft = 65535;
  l.open_fds = 200;
  e.listeners.push_back(l);
  return e;
}

// A Debian 12 default kernel (6.1) in the init namespace, recorded on the build host.
AuditEvidence debian_defaults() {
  AuditEvidence e = tuned();
  e.sysctls["net.ipv4.tcp_max_syn_backlog"] = "2048";
  e.sysctls["net.ipv4.tcp_synack_retries"] = "5";
  e.sysctls["net.ipv4.tcp_syn_retries"] = "6";
  e.sysctls["net.ipv4.tcp_fastopen"] = "1";
  e.sysctls["net.ipv4.tcp_keepalive_time"] = "7200";
  e.sysctls["net.ipv4.tcp_keepalive_intvl"] = "75";
  e.sysctls["net.ipv4.tcp_keepalive_probes"] = "9";
  e.sysctls["net.ipv4.tcp_fin_timeout"] = "60";
  e.sysctls["net.ipv4.tcp_tw_reuse"] = "2";
  e.sysctls["net.ipv4.ip_local_port_range"] = "32768\t60999";
  e.sysctls["net.ipv4.tcp_max_tw_buckets"] = "131072";
  e.sysctls["net.ipv4.tcp_wmem"] = "4096\t16384\t4194304";
  e.sysctls["net.core.netdev_max_backlog"] = "1000";
  e.sysctls["fs.file-max"] = "2466160";
  return e;
}

const SettingCheck& setting(const AuditReport& r, const std::string& name) {
  auto it = std::find_if(r.settings.begin(), r.settings.end(),
                         [&](const SettingCheck& s) { return s.name == name; });
  if (it == r.settings.end()) throw std::runtime_error("no setting " + name);
  return *it;
}

const Finding* find(const AuditReport& r, const std::string& id) {
  auto it = std::find_if(r.findings.begin(), r.findings.end(), [&](const Finding& f) { return f.id == id; });
  return it == r.findings.end() ? nullptr : &*it;
}

std::vector<std::string> ids(const AuditReport& r) {
  std::vector<std::string> out;
  for (const auto& f : r.findings) out.push_back(f.id);
  return out;
}

TEST(SysctlRules, TunedServerIsAllOkAndRaisesNothing) {
  const auto r = evaluate_audit(tuned());
  EXPECT_TRUE(r.findings.empty()) << ::testing::PrintToString(ids(r));
  EXPECT_FALSE(r.below_recommendation());
  for (const auto& s : r.settings) {
    EXPECT_EQ(s.status, SettingStatus::ok) << s.name << " = " << s.value.value_or("-");
    EXPECT_FALSE(s.fix_command.has_value()) << s.name;
  }
  ASSERT_EQ(r.listeners.size(), 1u);
  EXPECT_FALSE(r.listeners[0].limited_by_backlog);
}

TEST(SysctlRules, EveryAuditedSettingHasARowInOrder) {
  const auto r = evaluate_audit(tuned());
  std::vector<std::string> names;
  for (const auto& s : r.settings) names.push_back(s.name);
  std::vector<std::string> expected;
  for (const auto& n : audited_sysctls()) {
    // tcp_tw_recycle only on kernels that still have it; the count is shown inside max's row.
    if (n == "net.ipv4.tcp_tw_recycle" || n == "net.netfilter.nf_conntrack_count") continue;
    expected.push_back(n);
  }
  EXPECT_EQ(names, expected);
}

TEST(SysctlRules, DebianDefaultsAreBelowOnlyWhereItMatters) {
  const auto r = evaluate_audit(debian_defaults());
  EXPECT_EQ(setting(r, "net.ipv4.tcp_max_syn_backlog").status, SettingStatus::below);
  EXPECT_EQ(setting(r, "net.ipv4.ip_local_port_range").status, SettingStatus::below);
  // Judgements, not errors: they must not make the exit status 1 on their own.
  for (const char* name : {"net.ipv4.tcp_synack_retries", "net.ipv4.tcp_syn_retries", "net.ipv4.tcp_fastopen",
                           "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_keepalive_intvl",
                           "net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_tw_reuse",
                           "net.ipv4.tcp_max_tw_buckets", "net.ipv4.tcp_wmem", "net.core.netdev_max_backlog"}) {
    EXPECT_EQ(setting(r, name).status, SettingStatus::info) << name;
    EXPECT_EQ(find(r, std::string("sysctl.") + name), nullptr) << name;
  }
  EXPECT_EQ(setting(r, "fs.file-max").status, SettingStatus::ok);
  EXPECT_EQ(ids(r), (std::vector<std::string>{"sysctl.net.ipv4.tcp_max_syn_backlog",
                                               "sysctl.net.ipv4.ip_local_port_range"}));
  EXPECT_TRUE(r.below_recommendation());
}

TEST(SysctlRules, BadServerSettingsEachRaiseTheirFinding) {
  auto e = tuned();
  e.sysctls["net.core.somaxconn"] = "128";
  e.sysctls["net.ipv4.tcp_syncookies"] = "0";
  e.sysctls["net.ipv4.tcp_max_syn_backlog"] = "128";
  e.sysctls["net.ipv4.tcp_abort_on_overflow"] = "1";
  e.sysctls["net.ipv4.tcp_tw_reuse"] = "0";
  e.sysctls["net.ipv4.ip_local_port_range"] = "40000\t40999";
  e.sysctls["net.ipv4.tcp_max_tw_buckets"] = "5000";
  e.sysctls["net.ipv4.tcp_max_orphans"] = "4096";
  e.sysctls["fs.nr_open"] = "65536";
  e.sysctls["fs.file-max"] = "100000";
  const auto r = evaluate_audit(e);
  for (const char* name : {"net.core.somaxconn", "net.ipv4.tcp_syncookies", "net.ipv4.tcp_max_syn_backlog",
                           "net.ipv4.tcp_abort_on_overflow", "net.ipv4.tcp_tw_reuse",
                           "net.ipv4.ip_local_port_range", "net.ipv4.tcp_max_tw_buckets",
                           "net.ipv4.tcp_max_orphans", "fs.nr_open", "fs.file-max"}) {
    EXPECT_EQ(setting(r, name).status, SettingStatus::below) << name;
    const Finding* f = find(r, std::string("sysctl.") + name);
    ASSERT_NE(f, nullptr) << name;
    EXPECT_EQ(f->severity, Severity::warning);
  }
  EXPECT_EQ(r.findings.size(), 10u) << ::testing::PrintToString(ids(r));
  // The listener's 4096 limit is now above somaxconn (lowered after listen()): not "its own".
  EXPECT_FALSE(r.listeners[0].limited_by_backlog);
}

TEST(SysctlRules, FixIsTheExactCommandAndSysctlDLine) {
  auto e = tuned();
  e.sysctls["net.core.somaxconn"] = "128";
  e.sysctls["net.ipv4.ip_local_port_range"] = "32768\t60999";
  const auto r = evaluate_audit(e);
  const auto& s = setting(r, "net.core.somaxconn");
  EXPECT_EQ(s.value, "128");
  EXPECT_EQ(s.recommended, "4096");
  EXPECT_EQ(s.fix_command, "sysctl -w net.core.somaxconn=4096");
  EXPECT_EQ(s.sysctl_d, "net.core.somaxconn = 4096");
  const auto& p = setting(r, "net.ipv4.ip_local_port_range");
  EXPECT_EQ(p.value, "32768 60999");  // tabs become spaces
  EXPECT_EQ(p.fix_command, "sysctl -w net.ipv4.ip_local_port_range=\"10240 65535\"");
  EXPECT_EQ(p.sysctl_d, "net.ipv4.ip_local_port_range = 10240 65535");
  EXPECT_NE(p.why.find("28232 ports"), std::string::npos) << p.why;
  const Finding* f = find(r, "sysctl.net.core.somaxconn");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->evidence.at("value"), "128");
  EXPECT_NE(f->fix.find("sysctl -w net.core.somaxconn=4096"), std::string::npos);
  EXPECT_NE(f->fix.find("/etc/sysctl.d/90-connscope.conf"), std::string::npos);
}

TEST(SysctlRules, TheTcpFactsAreRight) {
  const auto r = evaluate_audit(debian_defaults());
  const auto& synack = setting(r, "net.ipv4.tcp_synack_retries").why;
  EXPECT_NE(synack.find("SYN-ACK"), std::string::npos);
  EXPECT_NE(synack.find("half-open"), std::string::npos);
  const auto& syn = setting(r, "net.ipv4.tcp_syn_retries").why;
  EXPECT_NE(syn.find("outgoing"), std::string::npos);
  const auto& fin = setting(r, "net.ipv4.tcp_fin_timeout").why;
  EXPECT_NE(fin.find("FIN_WAIT_2"), std::string::npos);
  EXPECT_NE(fin.find("fixed 60 s"), std::string::npos);
  const auto& reuse = setting(r, "net.ipv4.tcp_tw_reuse").why;
  EXPECT_NE(reuse.find("outgoing connections only"), std::string::npos);
  EXPECT_NE(reuse.find("tcp_tw_recycle no longer exists"), std::string::npos);
}

TEST(SysctlRules, SyncookiesTwoAndTwReuseTwoAreJudgementsNotErrors) {
  auto e = tuned();
  e.sysctls["net.ipv4.tcp_syncookies"] = "2";
  e.sysctls["net.ipv4.tcp_tw_reuse"] = "2";
  const auto r = evaluate_audit(e);
  EXPECT_EQ(setting(r, "net.ipv4.tcp_syncookies").status, SettingStatus::info);
  EXPECT_EQ(setting(r, "net.ipv4.tcp_tw_reuse").status, SettingStatus::info);
  EXPECT_FALSE(r.below_recommendation());
}

TEST(SysctlRules, FastopenKeepsTheClientBitAndAddsTheServerBit) {
  auto e = tuned();
  e.sysctls["net.ipv4.tcp_fastopen"] = "0x401";
  EXPECT_EQ(setting(evaluate_audit(e), "net.ipv4.tcp_fastopen").status, SettingStatus::info);  // not a number
  e.sysctls["net.ipv4.tcp_fastopen"] = "1";
  const auto r = evaluate_audit(e);
  EXPECT_EQ(setting(r, "net.ipv4.tcp_fastopen").status, SettingStatus::info);
  EXPECT_EQ(setting(r, "net.ipv4.tcp_fastopen").recommended, "3");
  e.sysctls["net.ipv4.tcp_fastopen"] = "2";  // server on: fine
  EXPECT_EQ(setting(evaluate_audit(e), "net.ipv4.tcp_fastopen").status, SettingStatus::ok);
}

TEST(SysctlRules, MissingSettingsAreUnavailableNeverBelow) {
  auto e = tuned();
  // Inside a network namespace the host-wide ones are not visible; conntrack not loaded.
  e.sysctls.erase("net.core.netdev_max_backlog");
  e.sysctls.erase("net.ipv4.tcp_max_orphans");
  e.sysctls.erase("net.netfilter.nf_conntrack_max");
  e.sysctls.erase("net.netfilter.nf_conntrack_count");
  const auto r = evaluate_audit(e);
  EXPECT_EQ(setting(r, "net.core.netdev_max_backlog").status, SettingStatus::unavailable);
  EXPECT_FALSE(setting(r, "net.core.netdev_max_backlog").value.has_value());
  EXPECT_FALSE(setting(r, "net.core.netdev_max_backlog").fix_command.has_value());
  EXPECT_EQ(setting(r, "net.ipv4.tcp_max_orphans").status, SettingStatus::unavailable);
  EXPECT_THROW(setting(r, "net.netfilter.nf_conntrack_max"), std::runtime_error);  // no row at all
  EXPECT_FALSE(r.below_recommendation());
}

TEST(SysctlRules, TwRecycleOnAnOldKernelIsBelowWhenOn) {
  auto e = tuned();
  e.sysctls["net.ipv4.tcp_tw_recycle"] = "1";
  auto r = evaluate_audit(e);
  EXPECT_EQ(setting(r, "net.ipv4.tcp_tw_recycle").status, SettingStatus::below);
  e.sysctls["net.ipv4.tcp_tw_recycle"] = "0";
  r = evaluate_audit(e);
  EXPECT_EQ(setting(r, "net.ipv4.tcp_tw_recycle").status, SettingStatus::ok);
}

TEST(SysctlRules, ConntrackNearlyFullIsAFinding) {
  auto e = tuned();
  e.sysctls["net.netfilter.nf_conntrack_max"] = "65536";
  e.sysctls["net.netfilter.nf_conntrack_count"] = "63000";
  auto r = evaluate_audit(e);
  const Finding* f = find(r, "conntrack.table_full");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->severity, Severity::critical);  // 96 %
  EXPECT_EQ(f->evidence.at("nf_conntrack_count"), "63000");
  EXPECT_EQ(setting(r, "net.netfilter.nf_conntrack_max").status, SettingStatus::below);
  EXPECT_EQ(setting(r, "net.netfilter.nf_conntrack_max").recommended, "262144");
  EXPECT_TRUE(r.below_recommendation());

  // Must not fire: a small table that is mostly empty is a judgement, not a problem.
  e.sysctls["net.netfilter.nf_conntrack_count"] = "30000";
  r = evaluate_audit(e);
  EXPECT_EQ(find(r, "conntrack.table_full"), nullptr);
  EXPECT_EQ(setting(r, "net.netfilter.nf_conntrack_max").status, SettingStatus::info);
  EXPECT_FALSE(r.below_recommendation());

  // A big table that fills gets room for twice the count.
  e.sysctls["net.netfilter.nf_conntrack_max"] = "1000000";
  e.sysctls["net.netfilter.nf_conntrack_count"] = "850000";
  r = evaluate_audit(e);
  ASSERT_NE(find(r, "conntrack.table_full"), nullptr);
  EXPECT_EQ(find(r, "conntrack.table_full")->severity, Severity::warning);
  EXPECT_EQ(setting(r, "net.netfilter.nf_conntrack_max").recommended, "2097152");
}

TEST(SysctlRules, ListenerLimitedByItsOwnBacklogIsNamed) {
  auto e = tuned();
  AuditListener small;
  small.address = "[::]:8080";
  small.port = 8080;
  small.backlog_limit = 16;
  small.pid = 77;
  small.command = "connscope";
  e.listeners.push_back(small);
  const auto r = evaluate_audit(e);
  ASSERT_EQ(r.listeners.size(), 2u);
  EXPECT_FALSE(r.listeners[0].limited_by_backlog);  // 4096 = somaxconn: somaxconn is the cap
  EXPECT_TRUE(r.listeners[1].limited_by_backlog);
  EXPECT_EQ(r.listeners[1].somaxconn, 4096u);
  EXPECT_EQ(r.listeners[1].listener.address, "[::]:8080");
  // A listener's backlog is the application's choice: named, not a failed audit.
  EXPECT_FALSE(r.below_recommendation());
}

TEST(SysctlRules, LowNofileLimitOfAListenerIsAWarningOncePerProcess) {
  auto e = tuned();
  e.listeners[0].nofile_soft = 1024;
  auto v6 = e.listeners[0];
  v6.address = "[::]:80";
  e.listeners.push_back(v6);
  const auto r = evaluate_audit(e);
  EXPECT_EQ(ids(r), (std::vector<std::string>{"limits.nofile_low"}));
  const Finding* f = find(r, "limits.nofile_low");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->severity, Severity::warning);
  EXPECT_EQ(f->evidence.at("pid"), "1234");
  EXPECT_EQ(f->evidence.at("nofile_soft"), "1024");
  EXPECT_NE(f->summary.find("nginx (pid 1234)"), std::string::npos) << f->summary;
  EXPECT_TRUE(r.below_recommendation());
}

TEST(SysctlRules, NofileNotJudgedWithoutOwnerOrWhenUnlimited) {
  auto e = tuned();
  e.listeners[0].nofile_soft.reset();  // unlimited
  AuditListener anonymous;               // other user's socket without root
  anonymous.address = "0.0.0.0:22";
  anonymous.port = 22;
  anonymous.backlog_limit = 128;
  anonymous.nofile_soft = 1024;          // cannot matter without a pid
  e.listeners.push_back(anonymous);
  const auto r = evaluate_audit(e);
  EXPECT_EQ(find(r, "limits.nofile_low"), nullptr);
  EXPECT_TRUE(r.listeners[1].limited_by_backlog);
}

TEST(SysctlRules, NonNumericValueIsShownNotMisjudged) {
  auto e = tuned();
  e.sysctls["net.core.somaxconn"] = "garbage";
  e.sysctls["net.ipv4.ip_local_port_range"] = "1024";
  const auto r = evaluate_audit(e);
  EXPECT_EQ(setting(r, "net.core.somaxconn").status, SettingStatus::info);
  EXPECT_EQ(setting(r, "net.core.somaxconn").value, "garbage");
  EXPECT_EQ(setting(r, "net.ipv4.ip_local_port_range").status, SettingStatus::info);
  EXPECT_FALSE(r.listeners[0].limited_by_backlog);  // no somaxconn to compare with
  EXPECT_FALSE(r.below_recommendation());
}

}  // namespace
}  // namespace connscope::rules
