// The command line's manners: exit statuses, one-line errors that name the input, --version.

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>

#include "core/endpoint.h"
#include "integration/serve_fixture.h"
#include "support/process.h"

namespace connscope::test {
namespace {

CmdResult cs(std::vector<std::string> args) {
  args.insert(args.begin(), CONNSCOPE_BIN);
  return run(args, 20s);
}

// A usage error: exit 2, nothing on stdout, exactly one line on stderr.
void expect_usage_error(const std::vector<std::string>& args, const std::string& want) {
  const auto r = cs(args);
  std::string joined;
  for (const auto& a : args) joined += a + " ";
  EXPECT_EQ(r.exit_code, 2) << joined << r.err;
  EXPECT_EQ(r.out, "") << joined;
  EXPECT_EQ(lines(r.err).size(), 1u) << joined << r.err;
  EXPECT_NE(r.err.find(want), std::string::npos) << joined << "\n got: " << r.err;
  EXPECT_TRUE(r.err.starts_with("connscope: ")) << r.err;
}

TEST(Cli, Version) {
  const auto r = cs({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(r.out.starts_with("connscope ")) << r.out;
}

TEST(Cli, HelpListsOnlyCommandsThatExist) {
  const auto r = cs({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("serve"), std::string::npos);
  EXPECT_NE(r.out.find("--json"), std::string::npos);
  EXPECT_NE(r.out.find("--timeout"), std::string::npos);
}

TEST(Cli, NoCommandIsAUsageError) {
  const auto r = cs({});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("Usage:"), std::string::npos);
}

TEST(Cli, UnknownCommandAndOption) {
  expect_usage_error({"frobnicate"}, "frobnicate");
  expect_usage_error({"serve", "--bogus"}, "--bogus");
}

TEST(Cli, AuditBadInput) {
  expect_usage_error({"audit", "--bogus"}, "--bogus");
  expect_usage_error({"audit", "stray"}, "stray");
}

TEST(Cli, AuditJsonHasEverySettingAndAnExitStatusOfZeroOrOne) {
  const auto r = cs({"audit", "--json", "--no-owners"});
  ASSERT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.exit_code << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_NE(r.out.find("\"settings\":[{\"fix\":"), std::string::npos) << r.out.substr(0, 200);
  EXPECT_NE(r.out.find("\"name\":\"net.core.somaxconn\""), std::string::npos);
  EXPECT_NE(r.out.find("\"listeners\":["), std::string::npos);
  EXPECT_NE(r.out.find("\"findings\":["), std::string::npos);
  EXPECT_EQ(r.exit_code == 1, r.out.find("\"status\":\"below\"") != std::string::npos ||
                                  r.out.find("\"severity\":\"warning\"") != std::string::npos);
}

TEST(Cli, TimeoutParsing) {
  for (const auto& [value, want] : std::vector<std::pair<std::string, std::string>>{
           {"5x", "--timeout \"5x\": unknown unit"},
           {"", "--timeout \"\": empty duration"},
           {"-3s", "--timeout \"-3s\": not a duration"},
           {"0", "--timeout \"0\": must be more than 0"},
           {"abc", "--timeout \"abc\": not a duration"}}) {
    expect_usage_error({"--timeout", value, "serve"}, want);
  }
  // Good values get through to the command (which then fails on its own bad input).
  expect_usage_error({"--timeout", "500ms", "serve", "--port", "70000"}, "--port \"70000\"");
}

TEST(Cli, LangIsChecked) {
  expect_usage_error({"--lang", "xx", "serve"}, "--lang \"xx\": not a supported language");
}

TEST(Cli, ServeBadInput) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{"serve", "--port", "70000"}, "connscope: --port \"70000\": not a port (0-65535)"},
      {{"serve", "--port", "http"}, "--port \"http\": not a port"},
      {{"serve", "--listen", "::1:80"}, "an IPv6 address with a port needs brackets"},
      {{"serve", "--listen", "example.com:80"}, "--listen \"example.com:80\": not a numeric IP address"},
      {{"serve", "--listen", "1.2.3.4"}, "not a port"},
      {{"serve", "--listen", "999.1.1.1:80"}, "not a numeric IP address"},
      {{"serve", "--mode", "teapot"}, "--mode \"teapot\": unknown mode"},
      {{"serve", "--mode", "echo=x"}, "echo takes no argument"},
      {{"serve", "--mode", "slow-first-byte=soon"}, "not a duration"},
      {{"serve", "--backlog", "-1"}, "--backlog \"-1\": not a whole number from 0 to 65535"},
      {{"serve", "--fastopen", "lots"}, "--fastopen \"lots\""},
      {{"serve", "--keepalive", "1,2"}, "--keepalive \"1,2\": expected IDLE,INTVL,COUNT"},
      {{"serve", "--http-status", "99"}, "--http-status \"99\": not an HTTP status"},
      {{"serve", "--delay", "later"}, "--delay \"later\""},
      {{"serve", "--interval", "0s"}, "--interval \"0s\": must be more than 0"},
      {{"serve", "--tls-cert", "/nonexistent/c.pem", "--tls-key", "/nonexistent/k.pem"},
       "--tls-cert \"/nonexistent/c.pem\": cannot read the file (No such file or directory)"},
      {{"serve", "--tls-cert", "/etc/hostname"}, "--tls-cert: needs its partner"},
      {{"serve", "--tls-cert", "/etc/hostname", "--tls-key", "/etc/hostname"},
       "--tls-cert \"/etc/hostname\": not a PEM certificate"},
      {{"serve", "--tls-self-signed", "--tls-cert", "/etc/hostname"}, "cannot be combined"},
      {{"serve", "--demo", "--port", "80"}, "--demo: chooses its own addresses"},
      {{"serve", "--listen", "192.0.2.1:8080"}, "bind 192.0.2.1:8080: Cannot assign requested address"},
  };
  for (const auto& [args, want] : cases) expect_usage_error(args, want);
}

TEST(Cli, TlsKeyThatDoesNotMatchTheCertificate) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("connscope-cli-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto cert = (dir / "c.pem").string(), key = (dir / "k.pem").string(),
             other = (dir / "o.pem").string();
  ASSERT_EQ(run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=x"})
                .exit_code,
            0);
  ASSERT_EQ(run({"openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-out", other})
                .exit_code,
            0);
  expect_usage_error({"serve", "--tls-cert", cert, "--tls-key", other},
                     "--tls-key \"" + other + "\": does not match the certificate");
  std::filesystem::remove_all(dir);
}

TEST(Cli, PortInUseNamesThePortAndTheProcessHoldingIt) {
  // This test process holds the port.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t len = sizeof sin;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len);
  const std::string where = "127.0.0.1:" + std::to_string(ntohs(sin.sin_port));
  std::ifstream comm("/proc/self/comm");
  std::string me;
  std::getline(comm, me);

  const auto r = cs({"serve", "--listen", where});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "connscope: " + where + " is already in use by pid " +
                       std::to_string(::getpid()) + " (" + me + ")\n");
  ::close(fd);
}

TEST(Cli, PrivilegedPortWithoutPrivilegeSaysWhatIsNeeded) {
  if (::geteuid() != 0) {
    const auto r = cs({"serve", "--listen", "127.0.0.1:1"});
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_NE(r.err.find("ports below 1024 need root or CAP_NET_BIND_SERVICE"), std::string::npos);
    return;
  }
  // As root, drop the capability for the child with setpriv (util-linux).
  const auto r = run({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                      "--inh-caps=-all", CONNSCOPE_BIN, "serve", "--listen", "127.0.0.1:1"},
                     5s);
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(r.err,
            "connscope: bind 127.0.0.1:1: ports below 1024 need root or CAP_NET_BIND_SERVICE\n");
}

TEST(Cli, NoColorAndJsonAreAcceptedAfterTheCommand) {
  auto p = Process::spawn({CONNSCOPE_BIN, "serve", "--listen", "127.0.0.1:0", "--json", "--no-color"});
  const auto first = p.wait_for_line(0, 3s);
  EXPECT_TRUE(first.starts_with("{\"event\":\"listening\"")) << first << p.err();
  EXPECT_EQ(p.stop(), 0);
}

}  // namespace
}  // namespace connscope::test
