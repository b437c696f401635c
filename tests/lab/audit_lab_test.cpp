// `connscope audit` inside the server namespace: the per-namespace settings are made bad on
// purpose and each must come back as its finding, with exit status 1; a `serve --backlog 16`
// listener must be named as limited by its own backlog, not by somaxconn.

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include <nlohmann/json.hpp>

#include "core/endpoint.h"
#include "lab/lab.h"

namespace connscope::lab {
namespace {

constexpr std::uint16_t kPort = 8080;

class AuditLab : public LabTest {
 protected:
  nlohmann::json audit_json(int expected_exit) {
    const auto r = lab().exec(Node::server, {CONNSCOPE_BIN, "--json", "audit"}, 10s);
    EXPECT_EQ(r.exit_code, expected_exit) << r.err;
    EXPECT_EQ(r.err, "");
    return nlohmann::json::parse(r.out);
  }

  static const nlohmann::json* setting(const nlohmann::json& j, const std::string& name) {
    for (const auto& s : j["settings"]) {
      if (s["name"] == name) return &s;
    }
    return nullptr;
  }

  static const nlohmann::json* finding(const nlohmann::json& j, const std::string& id) {
    for (const auto& f : j["findings"]) {
      if (f["id"] == id) return &f;
    }
    return nullptr;
  }
};

TEST_F(AuditLab, BadNamespaceSettingsAreEachAFinding) {
  // Each of these is per network namespace, so the host is untouched.
  const std::vector<std::pair<std::string, std::string>> bad{
      {"net.core.somaxconn", "128"},
      {"net.ipv4.tcp_syncookies", "0"},
      {"net.ipv4.tcp_max_syn_backlog", "128"},
      {"net.ipv4.ip_local_port_range", "40000 40999"},
      {"net.ipv4.tcp_tw_reuse", "0"},
      {"net.ipv4.tcp_abort_on_overflow", "1"},
  };
  for (const auto& [name, value] : bad) lab().sysctl(Node::server, name, value);

  const auto j = audit_json(1);
  for (const auto& [name, value] : bad) {
    const auto* s = setting(j, name);
    ASSERT_NE(s, nullptr) << name;
    EXPECT_EQ((*s)["value"], value) << name;
    EXPECT_EQ((*s)["status"], "below") << name;
    ASSERT_TRUE((*s)["fix"].is_object()) << name;
    EXPECT_TRUE((*s)["fix"]["command"].get<std::string>().starts_with("sysctl -w " + name + "="));
    EXPECT_TRUE((*s)["fix"]["sysctl_d"].get<std::string>().starts_with(name + " = "));
    const auto* f = finding(j, "sysctl." + name);
    ASSERT_NE(f, nullptr) << name << "\n" << j["findings"].dump(1);
    EXPECT_EQ((*f)["severity"], "warning");
    EXPECT_EQ((*f)["evidence"]["value"], value);
  }
  EXPECT_EQ((*setting(j, "net.ipv4.tcp_syncookies"))["recommended"], "1");
  EXPECT_EQ((*setting(j, "net.ipv4.tcp_abort_on_overflow"))["recommended"], "0");
  // Host-wide settings a namespace cannot see are shown as such, never as an error.
  for (const auto& s : j["settings"]) {
    if (s["status"] == "unavailable") {
      EXPECT_TRUE(s["value"].is_null()) << s.dump();
    }
  }
}

TEST_F(AuditLab, GoodNamespaceSettingsRaiseNoSysctlFindingForThem) {
  // Must not fire: the same settings at their recommended values.
  lab().sysctl(Node::server, "net.core.somaxconn", "4096");
  lab().sysctl(Node::server, "net.ipv4.tcp_syncookies", "1");
  lab().sysctl(Node::server, "net.ipv4.tcp_max_syn_backlog", "4096");
  lab().sysctl(Node::server, "net.ipv4.ip_local_port_range", "10240 65535");
  lab().sysctl(Node::server, "net.ipv4.tcp_tw_reuse", "1");
  lab().sysctl(Node::server, "net.ipv4.tcp_abort_on_overflow", "0");
  const auto r = lab().exec(Node::server, {CONNSCOPE_BIN, "--json", "audit"}, 10s);
  ASSERT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.err;  // host-wide ones are the host's
  const auto j = nlohmann::json::parse(r.out);
  for (const char* name : {"net.core.somaxconn", "net.ipv4.tcp_syncookies", "net.ipv4.tcp_max_syn_backlog",
                           "net.ipv4.ip_local_port_range", "net.ipv4.tcp_tw_reuse",
                           "net.ipv4.tcp_abort_on_overflow"}) {
    EXPECT_EQ((*setting(j, name))["status"], "ok") << name;
    EXPECT_EQ(finding(j, std::string("sysctl.") + name), nullptr) << name;
  }
}

TEST_F(AuditLab, ListenerWithASmallBacklogIsNamedWithItsProcess) {
  const std::string addr = Endpoint{AF_INET, lab().server_v4(), kPort}.to_string();
  Process serve = lab().spawn(Node::server, {CONNSCOPE_BIN, "serve", "--listen", addr, "--backlog", "16"});
  ASSERT_TRUE(lab().wait_for_tcp_listen(Node::server, kPort, 3s)) << serve.err();

  const auto r = lab().exec(Node::server, {CONNSCOPE_BIN, "--json", "audit"}, 10s);
  ASSERT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  const nlohmann::json* listener = nullptr;
  for (const auto& l : j["listeners"]) {
    if (l["port"] == kPort) listener = &l;
  }
  ASSERT_NE(listener, nullptr) << j["listeners"].dump(1);
  EXPECT_EQ((*listener)["address"], lab().server_v4());
  EXPECT_EQ((*listener)["backlog_limit"], 16);
  EXPECT_EQ((*listener)["somaxconn"], std::stoi(lab().sysctl(Node::server, "net.core.somaxconn")));
  EXPECT_EQ((*listener)["limited_by"], "backlog");
  EXPECT_EQ((*listener)["pid"], serve.pid());
  EXPECT_EQ((*listener)["command"], "connscope");

  // The human table names it too, with its owner.
  const auto h = lab().exec(Node::server, {CONNSCOPE_BIN, "--no-color", "audit"}, 10s);
  EXPECT_NE(h.out.find("is the accept-queue limit:"), std::string::npos) << h.out;
  const auto line_at = h.out.find(addr);
  ASSERT_NE(line_at, std::string::npos) << h.out;
  const auto line = h.out.substr(line_at, h.out.find('\n', line_at) - line_at);
  EXPECT_NE(line.find("limit 16"), std::string::npos) << line;
  EXPECT_NE(line.find("connscope, pid " + std::to_string(serve.pid())), std::string::npos) << line;

  // At somaxconn's own value the listener is not named.
  serve.stop();
  Process big = lab().spawn(Node::server, {CONNSCOPE_BIN, "serve", "--listen", addr});
  ASSERT_TRUE(lab().wait_for_tcp_listen(Node::server, kPort, 3s)) << big.err();
  const auto again = nlohmann::json::parse(lab().exec(Node::server, {CONNSCOPE_BIN, "--json", "audit"}, 10s).out);
  bool found = false;
  for (const auto& l : again["listeners"]) {
    if (l["port"] != kPort) continue;
    found = true;
    EXPECT_EQ(l["limited_by"], "somaxconn") << l.dump();
  }
  EXPECT_TRUE(found);
}

TEST_F(AuditLab, NoOwnersSkipsTheProcessesAndSaysSo) {
  const auto r = lab().exec(Node::server, {CONNSCOPE_BIN, "--json", "audit", "--no-owners"}, 10s);
  ASSERT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["notes"].size(), 1u);
  EXPECT_NE(j["notes"][0].get<std::string>().find("--no-owners"), std::string::npos);
}

}  // namespace
}  // namespace connscope::lab
