// The audit's renderers (cli/audit_render.h) on hand-built reports: the table lined up in
// display columns, the details, the listener and finding sections only when they have
// something, the summary counts, the JSON fields, and Chinese from the catalog.
#include "cli/audit_render.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <string>

#include <nlohmann/json.hpp>

namespace connscope::cli {
namespace {

using rules::SettingStatus;

rules::SettingCheck setting(std::string name, std::optional<std::string> value, std::string recommended,
                            SettingStatus status) {
  rules::SettingCheck s;
  s.name = std::move(name);
  s.value = std::move(value);
  s.recommended = std::move(recommended);
  s.status = status;
  s.why = "why " + s.name;
  if (status == SettingStatus::below || status == SettingStatus::info) {
    s.fix_command = "sysctl -w " + s.name + "=" + s.recommended;
    s.sysctl_d = s.name + " = " + s.recommended;
  }
  return s;
}

struct Fixture {
  inspect::AuditInputs in;
  rules::AuditReport r;
};

// somaxconn below, syn_retries a judgement, one unavailable, one ok; a listener whose own
// backlog (8) is its limit, with its owner, and one without; a nofile finding.
Fixture busy() {
  Fixture f;
  f.r.settings.push_back(setting("net.core.somaxconn", "1024", "4096", SettingStatus::below));
  f.r.settings.push_back(setting("net.ipv4.tcp_syn_retries", "6", "3", SettingStatus::info));
  f.r.settings.push_back(setting("net.ipv4.tcp_max_orphans", std::nullopt, "65536", SettingStatus::unavailable));
  f.r.settings.push_back(setting("net.ipv4.tcp_syncookies", "1", "1", SettingStatus::ok));

  inspect::AuditListenerSeen a;
  a.local = Endpoint{AF_INET, "127.0.0.1", 9606};
  a.backlog_limit = 8;
  a.owner = inspect::ProcessEntry{4242, "nginx", 12, 4096, 4096};
  inspect::AuditListenerSeen b;
  b.local = Endpoint{AF_INET6, "::", 443};
  b.backlog_limit = 1024;
  f.in.listeners = {a, b};
  f.in.notes = {"a note"};
  const auto evidence = audit_evidence(f.in);
  for (const auto& l : evidence.listeners) {
    rules::ListenerCheck c;
    c.listener = l;
    c.somaxconn = 1024;
    c.limited_by_backlog = l.backlog_limit < 1024;
    f.r.listeners.push_back(c);
  }
  rules::Finding nofile;
  nofile.id = "limits.nofile_low";
  nofile.severity = rules::Severity::warning;
  nofile.summary = "nginx has 4096";
  nofile.cause = "the cause";
  nofile.fix = "the fix";
  f.r.findings.push_back(nofile);
  rules::Finding below;  // a settings finding: shown in the details, not again
  below.id = "sysctl.net.core.somaxconn";
  below.summary = "not shown twice";
  f.r.findings.push_back(below);
  return f;
}

TEST(AuditRender, EvidenceCarriesTheOwner) {
  const auto f = busy();
  const auto e = audit_evidence(f.in);
  ASSERT_EQ(e.listeners.size(), 2u);
  EXPECT_EQ(e.listeners[0].address, "127.0.0.1:9606");
  EXPECT_EQ(e.listeners[0].port, 9606);
  EXPECT_EQ(e.listeners[0].pid, 4242);
  EXPECT_EQ(e.listeners[0].command, "nginx");
  EXPECT_EQ(e.listeners[0].nofile_soft, 4096u);
  EXPECT_EQ(e.listeners[1].address, "[::]:443");
  EXPECT_FALSE(e.listeners[1].pid);
}

TEST(AuditRender, EnglishText) {
  const auto f = busy();
  const auto text = render_audit_text(f.in, f.r, Style{false}, Lang::en);
  const std::string expected =
      "setting                   current                       recommended  status\n"
      "net.core.somaxconn        1024                          4096         below\n"
      "net.ipv4.tcp_syn_retries  6                             3            info\n"
      "net.ipv4.tcp_max_orphans  not available on this kernel  65536        n/a\n"
      "net.ipv4.tcp_syncookies   1                             1            ok\n"
      "\n"
      "Below recommendation:\n"
      "  net.core.somaxconn: 1024, recommended 4096\n"
      "    why: why net.core.somaxconn\n"
      "    fix: sysctl -w net.core.somaxconn=4096\n"
      "    persist: net.core.somaxconn = 4096  (in /etc/sysctl.d/90-connscope.conf, then sysctl --system)\n"
      "\n"
      "Worth considering (a judgement, not an error):\n"
      "  net.ipv4.tcp_syn_retries: 6, recommended 3\n"
      "    why: why net.ipv4.tcp_syn_retries\n"
      "    fix: sysctl -w net.ipv4.tcp_syn_retries=3\n"
      "\n"
      "Listeners whose own listen() backlog, not net.core.somaxconn (1024), is the accept-queue limit:\n"
      "  127.0.0.1:9606               limit 8      (nginx, pid 4242)\n";
  ASSERT_EQ(text.substr(0, expected.size()), expected) << text;
  EXPECT_EQ(text.find("[::]:443"), std::string::npos) << "a listener limited by somaxconn is not listed";
  EXPECT_NE(text.find("\nFindings:\n  [warning] limits.nofile_low: nginx has 4096\n    why: the cause\n"
                      "    fix: the fix\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("not shown twice"), std::string::npos);
  EXPECT_TRUE(text.ends_with(
      "\nsettings: 1 below recommendation, 1 worth considering, 1 ok, 1 not available; other findings: 1\n"
      "a note\n"))
      << text;
}

TEST(AuditRender, NothingToSayLeavesTheSectionsOut) {
  Fixture f;
  f.r.settings.push_back(setting("net.core.somaxconn", "4096", "4096", SettingStatus::ok));
  const auto text = render_audit_text(f.in, f.r, Style{false}, Lang::en);
  EXPECT_EQ(text,
            "setting             current  recommended  status\n"
            "net.core.somaxconn  4096     4096         ok\n"
            "\n"
            "settings: 0 below recommendation, 0 worth considering, 1 ok, 0 not available; other findings: 0\n");
}

TEST(AuditRender, ColourWrapsTheStatusAfterPadding) {
  const auto f = busy();
  const auto text = render_audit_text(f.in, f.r, Style{true}, Lang::en);
  EXPECT_NE(text.find("net.core.somaxconn        1024                          4096         \x1b[31mbelow\x1b[0m\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\x1b[32mok\x1b[0m\n"), std::string::npos);
}

TEST(AuditRender, ChineseTextLinesUpInDisplayColumns) {
  const auto f = busy();
  const auto text = render_audit_text(f.in, f.r, Style{false}, Lang::zh_CN);
  // 设置项 is six columns, 当前值 six: padded to the widest cell of each column.
  const std::string head =
      "设置项                    当前值          推荐值  状态\n"
      "net.core.somaxconn        1024            4096    偏低\n";
  EXPECT_EQ(text.substr(0, head.size()), head) << text;
  EXPECT_NE(text.find("低于推荐值："), std::string::npos) << text;
  EXPECT_NE(text.find("    原因：why net.core.somaxconn\n"), std::string::npos) << text;
  EXPECT_NE(text.find("    修复：sysctl -w net.core.somaxconn=4096\n"), std::string::npos) << text;
  EXPECT_NE(text.find("[警告] limits.nofile_low"), std::string::npos) << text;
  EXPECT_NE(text.find("此内核上不可用"), std::string::npos) << text;
  EXPECT_EQ(text.find("recommended"), std::string::npos) << text;
  EXPECT_EQ(text.find("Findings"), std::string::npos) << text;
}

TEST(AuditRender, Json) {
  const auto f = busy();
  const auto j = nlohmann::json::parse(render_audit_json(f.in, f.r));
  ASSERT_EQ(j.at("settings").size(), 4u);
  const auto& s = j.at("settings")[0];
  EXPECT_EQ(s.at("name"), "net.core.somaxconn");
  EXPECT_EQ(s.at("value"), "1024");
  EXPECT_EQ(s.at("status"), "below");
  EXPECT_EQ(s.at("fix").at("command"), "sysctl -w net.core.somaxconn=4096");
  EXPECT_EQ(s.at("fix").at("sysctl_d"), "net.core.somaxconn = 4096");
  EXPECT_TRUE(j.at("settings")[2].at("value").is_null());
  EXPECT_TRUE(j.at("settings")[3].at("fix").is_null());
  ASSERT_EQ(j.at("listeners").size(), 2u);
  const auto& l = j.at("listeners")[0];
  EXPECT_EQ(l.at("address"), "127.0.0.1");  // the address alone; the port is its own field
  EXPECT_EQ(l.at("port"), 9606);
  EXPECT_EQ(l.at("backlog_limit"), 8);
  EXPECT_EQ(l.at("somaxconn"), 1024);
  EXPECT_EQ(l.at("limited_by"), "backlog");
  EXPECT_EQ(l.at("pid"), 4242);
  EXPECT_EQ(l.at("command"), "nginx");
  EXPECT_EQ(l.at("nofile_soft"), 4096);
  const auto& v6 = j.at("listeners")[1];
  EXPECT_EQ(v6.at("address"), "::");
  EXPECT_EQ(v6.at("limited_by"), "somaxconn");
  EXPECT_TRUE(v6.at("pid").is_null());
  EXPECT_TRUE(v6.at("command").is_null());
  EXPECT_EQ(j.at("findings").size(), 2u);
  EXPECT_EQ(j.at("notes"), nlohmann::json::array({"a note"}));
}

}  // namespace
}  // namespace connscope::cli
